# Cross build for 32-bit Raspberry Pi-class gateways (Raspberry Pi OS 32-bit, Debian armhf).
# Packages: scripts/deps.sh armhf. Tests run under qemu-arm.
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(XRM_TRIPLE arm-linux-gnueabihf)
set(XRM_QEMU_NAME qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
