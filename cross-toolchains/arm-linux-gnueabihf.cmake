# Cross build for 32-bit Raspberry Pi-class gateways (Raspberry Pi OS 32-bit, Debian armhf).
# Libraries come from Debian's multiarch :armhf packages (scripts/deps.sh armhf); tests run
# under qemu-arm with the multiarch loader /lib/ld-linux-armhf.so.3 (no -L: see
# docs/architecture.md, "Cross builds").
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)

set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)

find_program(XRM_QEMU qemu-arm REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${XRM_QEMU})

# Headers and libraries live in the normal multiarch paths: /usr/include and /usr/lib/<triple>.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
