# Cross build for 64-bit Raspberry Pi-class gateways (Raspberry Pi OS 64-bit, Debian arm64).
# Packages: scripts/deps.sh aarch64. Tests run under qemu-aarch64.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(XRM_TRIPLE aarch64-linux-gnu)
set(XRM_QEMU_NAME qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
