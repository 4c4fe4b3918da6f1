# Every dependency comes from Debian packages (scripts/deps.sh installs them). Nothing is vendored
# or downloaded at build time. Cross builds find the :arm64/:armhf multiarch packages through the
# toolchain file's CMAKE_LIBRARY_ARCHITECTURE.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Boost 1.74 REQUIRED)                 # Asio is header-only
find_package(PahoMqttCpp REQUIRED)
find_package(tomlplusplus 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)        # control protocol, dynsec commands (not the hot path)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(QRENCODE REQUIRED IMPORTED_TARGET libqrencode)
pkg_check_modules(PROTOBUF_LITE REQUIRED IMPORTED_TARGET protobuf-lite)

# protoc runs on the build host; its output is compiled for the target.
find_program(XRM_PROTOC protoc REQUIRED NO_CMAKE_FIND_ROOT_PATH)

