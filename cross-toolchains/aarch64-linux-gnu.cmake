# Cross build for 64-bit Raspberry Pi-class gateways (Raspberry Pi OS 64-bit, Debian arm64).
# Libraries come from Debian's multiarch :arm64 packages (scripts/deps.sh aarch64); tests run
# under qemu-aarch64 with the multiarch loader /lib/ld-linux-aarch64.so.1 (no -L: see
# docs/architecture.md, "Cross builds").
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

find_program(XRM_QEMU qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${XRM_QEMU})

# Headers and libraries live in the normal multiarch paths: /usr/include and /usr/lib/<triple>.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
