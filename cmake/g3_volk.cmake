# volk from Debian's libvulkan-volk-dev ships its source (volk.c, volk.h) in /usr/include.
# We compile volk.c into the project and never link libvulkan: the loader is opened at run time.
find_path(G3_VOLK_INCLUDE_DIR volk.h HINTS "${VOLK_DIR}" PATH_SUFFIXES include)
find_file(G3_VOLK_SOURCE volk.c HINTS "${VOLK_DIR}" "${G3_VOLK_INCLUDE_DIR}" PATH_SUFFIXES include)
find_path(G3_VULKAN_INCLUDE_DIR vulkan/vulkan_core.h)
if(NOT G3_VOLK_INCLUDE_DIR OR NOT G3_VOLK_SOURCE OR NOT G3_VULKAN_INCLUDE_DIR)
  message(FATAL_ERROR "volk.c/volk.h or the Vulkan headers were not found: "
                      "apt-get install libvulkan-volk-dev libvulkan-dev (or set VOLK_DIR)")
endif()

add_library(g3_volk STATIC "${G3_VOLK_SOURCE}")
target_include_directories(g3_volk PUBLIC "${G3_VOLK_INCLUDE_DIR}" "${G3_VULKAN_INCLUDE_DIR}")
target_link_libraries(g3_volk PUBLIC ${CMAKE_DL_LIBS})
set_target_properties(g3_volk PROPERTIES POSITION_INDEPENDENT_CODE ON C_EXTENSIONS ON)
