# C11 with warnings on for every target of the project.
set(CMAKE_C_STANDARD 11)
set(CMAKE_C_STANDARD_REQUIRED ON)
set(CMAKE_C_EXTENSIONS OFF)

set(G3_WARNINGS -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                -Wformat=2 -Wno-unused-parameter)
if(G3_WERROR)
  list(APPEND G3_WARNINGS -Werror)
endif()

# Applied per target (not globally) so volk.c, which is not ours, keeps its own warnings quiet.
function(g3_target_warnings target)
  target_compile_options(${target} PRIVATE ${G3_WARNINGS})
endfunction()

if(G3_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# POSIX (mmap, pthreads, clock_gettime) with strict C11 otherwise.
add_compile_definitions(_POSIX_C_SOURCE=200809L)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
