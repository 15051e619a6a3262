# g3_add_test(NAME name SOURCES a.c b.c LABELS unit|gpu|model [ARGS ...] [TIMEOUT s])
# Exit code 77 means "skipped" (no Vulkan device at all, or ../shared missing).
function(g3_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LABELS;ARGS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE g3 m)
  target_include_directories(${T_NAME} PRIVATE "${PROJECT_SOURCE_DIR}/tests")
  g3_target_warnings(${T_NAME})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" SKIP_RETURN_CODE 77
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "G3_SHARED_DIR=${G3_SHARED_DIR};G3_BUILD_DIR=${PROJECT_BINARY_DIR};G3_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
