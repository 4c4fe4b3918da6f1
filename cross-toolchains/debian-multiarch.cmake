# Shared part of the cross toolchain files: Debian's cross compiler for XRM_TRIPLE, the multiarch
# library packages of that architecture (headers in /usr/include, libraries and .pc files in
# /usr/lib/<triple>), protoc and other tools from the build host, and qemu-user as the emulator
# that ctest runs target binaries with. No -L for qemu: the multiarch loader and libraries are
# used; -L /usr/<triple> would mix the cross toolchain's libc with them (hangs at the first thread).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_LIBRARY_ARCHITECTURE ${XRM_TRIPLE})

set(CMAKE_C_COMPILER ${XRM_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${XRM_TRIPLE}-g++)

find_program(XRM_QEMU ${XRM_QEMU_NAME} REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${XRM_QEMU})

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${XRM_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
