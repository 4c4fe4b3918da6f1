# CppUTest tests registered with ctest one by one, discovered when ctest runs (like
# gtest_discover_tests' PRE_TEST mode), so a cross build lists and runs them under
# CMAKE_CROSSCOMPILING_EMULATOR (qemu) without running target binaries at build time.
# Debian's CppUTestConfig.cmake points at a wrong include path (/usr/lib/include); pkg-config is right.
pkg_check_modules(CPPUTEST REQUIRED IMPORTED_TARGET cpputest)

set(_XRM_CPPUTEST_DISCOVER ${CMAKE_CURRENT_LIST_DIR}/XrmCppUTestDiscover.cmake)

# xrm_add_cpputest(TARGET LABEL label [TIMEOUT seconds] SOURCES ... LIBS ...)
function(xrm_add_cpputest target)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  add_executable(${target} ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/support/cpputest_main.cpp)
  target_link_libraries(${target} PRIVATE ${ARG_LIBS} PkgConfig::CPPUTEST xrm_warnings)
  target_compile_definitions(${target} PRIVATE CPPUTEST_MEM_LEAK_DETECTION_DISABLED)
  set(emulator "${CMAKE_CROSSCOMPILING_EMULATOR}")
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_tests.cmake")
  file(GENERATE OUTPUT "${include_file}" CONTENT
"set(XRM_TEST_EXE \"$<TARGET_FILE:${target}>\")
set(XRM_TEST_PREFIX \"${target}\")
set(XRM_TEST_EMULATOR \"${emulator}\")
set(XRM_TEST_LABEL \"${ARG_LABEL}\")
set(XRM_TEST_TIMEOUT \"${ARG_TIMEOUT}\")
include(\"${_XRM_CPPUTEST_DISCOVER}\")
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
