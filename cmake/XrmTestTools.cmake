# What integration tests and benchmarks run for real: Mosquitto (broker, mosquitto_ctrl, the
# dynamic-security plugin) and the test support library. Host builds only.
if(NOT TARGET xrm_test_support)
  add_subdirectory(${PROJECT_SOURCE_DIR}/tests/support ${PROJECT_BINARY_DIR}/tests/support)
endif()

# Mosquitto lives in /usr/sbin, which is not on every user's PATH.
find_program(XRM_MOSQUITTO mosquitto HINTS /usr/sbin /sbin)
find_program(XRM_MOSQUITTO_CTRL mosquitto_ctrl)
find_file(XRM_MOSQUITTO_DYNSEC mosquitto_dynamic_security.so
          PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/lib NO_DEFAULT_PATH)
foreach(_need XRM_MOSQUITTO XRM_MOSQUITTO_CTRL XRM_MOSQUITTO_DYNSEC)
  if(NOT ${_need})
    message(FATAL_ERROR "Integration tests and benchmarks need mosquitto, mosquitto_ctrl and the dynamic-security "
                        "plugin (Debian: apt-get install mosquitto mosquitto-clients); ${_need} not found. "
                        "Install them or configure with -DXRM_BUILD_INTEGRATION_TESTS=OFF -DXRM_BUILD_BENCH=OFF.")
  endif()
endforeach()

# xrm_use_real_parts(target): the paths of the programs a test or benchmark starts.
function(xrm_use_real_parts target)
  target_compile_definitions(${target} PRIVATE
    XRM_GATEWAYD_PATH="$<TARGET_FILE:xrm-gatewayd>"
    XRM_XRMCTL_PATH="$<TARGET_FILE:xrmctl>"
    XRM_MOSQUITTO_PATH="${XRM_MOSQUITTO}"
    XRM_MOSQUITTO_CTRL_PATH="${XRM_MOSQUITTO_CTRL}"
    XRM_MOSQUITTO_DYNSEC_PATH="${XRM_MOSQUITTO_DYNSEC}"
    XRM_EXPECTED_VERSION="${PROJECT_VERSION}")
  add_dependencies(${target} xrm-gatewayd xrmctl)
endfunction()
