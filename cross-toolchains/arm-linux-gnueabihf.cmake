# Cross build for 32-bit Raspberry Pi-class gateways (Raspberry Pi OS 32-bit, Debian armhf).
# Set-up: scripts/deps.sh armhf (cross compiler, qemu-user, mmdebstrap, then the sysroot
# build/sysroot-armhf from Debian bookworm armhf). Tests run under qemu-arm -L <sysroot>.
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(XRM_TRIPLE arm-linux-gnueabihf)
set(XRM_SYSROOT_NAME armhf)
set(XRM_QEMU_NAME qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-sysroot.cmake)
# GCC notes on 32-bit ARM that the parameter passing of some std::map iterators "changed in GCC
# 7.1": an ABI note about mixing with code built by GCC < 7.1, which nothing here is. Noise.
string(APPEND CMAKE_C_FLAGS_INIT " -Wno-psabi")
string(APPEND CMAKE_CXX_FLAGS_INIT " -Wno-psabi")
