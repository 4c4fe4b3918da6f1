# Every dependency comes from Debian packages (scripts/deps.sh installs them). Nothing is vendored
# or downloaded at build time. Cross builds find the :arm64 multiarch packages through the
# toolchain file's CMAKE_LIBRARY_ARCHITECTURE, and armhf's in its sysroot (CMAKE_SYSROOT).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Boost 1.74 REQUIRED)                 # Asio is header-only
find_package(PahoMqttCpp REQUIRED)
# The device library's POSIX transport speaks Paho MQTT C directly (its CMake package file exists
# for every architecture, so the cross builds find the arm64/armhf library).
find_package(eclipse-paho-mqtt-c CONFIG REQUIRED)
find_package(tomlplusplus 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)        # control protocol, dynsec commands (not the hot path)
# Device payloads on the hot path: RapidJSON's SAX reader (header-only, Architecture: all, so the
# cross builds use the same package). libsimdjson-dev is not Multi-Arch co-installable with its
# :arm64 variant, which would break the cross build; see docs/performance.md for the measurement.
find_package(RapidJSON 1.1 REQUIRED)
if(NOT TARGET xrm_rapidjson)
  add_library(xrm_rapidjson INTERFACE)
  # Debian installs it in /usr/include, a default search directory: naming it again with -isystem
  # would reorder the C++ library's include_next chain.
  if(NOT RAPIDJSON_INCLUDE_DIRS STREQUAL "/usr/include")
    target_include_directories(xrm_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
  endif()
endif()
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(QRENCODE REQUIRED IMPORTED_TARGET libqrencode)
pkg_check_modules(PROTOBUF_LITE REQUIRED IMPORTED_TARGET protobuf-lite)

# protoc runs on the build host; its output is compiled for the target.
find_program(XRM_PROTOC protoc REQUIRED NO_CMAKE_FIND_ROOT_PATH)

