# Shared part of the sysroot cross toolchain files: Debian's cross compiler for XRM_TRIPLE, the
# target's libraries from a sysroot that scripts/sysroot.sh unpacks from Debian's archive
# (build/sysroot-<target> by default; XRM_SYSROOT in the environment or the cache overrides it),
# protoc and other tools from the build host, and qemu-user with -L <sysroot> as the emulator
# that ctest runs target binaries with.
#
# The compiler keeps its own C and C++ runtime headers and link stubs (the *-cross packages of the
# same glibc 2.36 and GCC 12.2 as the target); every other header, library, .pc and CMake package
# file comes from the sysroot only. At run time everything, the loader and libc included, comes
# from the sysroot: qemu -L uses <sysroot>/lib/ld-linux-armhf.so.3 and its default search paths.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_LIBRARY_ARCHITECTURE ${XRM_TRIPLE})

set(CMAKE_C_COMPILER ${XRM_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${XRM_TRIPLE}-g++)

if(NOT XRM_SYSROOT)
  if(DEFINED ENV{XRM_SYSROOT})
    set(XRM_SYSROOT "$ENV{XRM_SYSROOT}")
  else()
    get_filename_component(XRM_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build/sysroot-${XRM_SYSROOT_NAME}" ABSOLUTE)
  endif()
endif()
set(XRM_SYSROOT "${XRM_SYSROOT}" CACHE PATH "Target root file system (scripts/sysroot.sh ${XRM_SYSROOT_NAME})")
if(NOT EXISTS "${XRM_SYSROOT}/.xrm-sysroot-complete")
  message(FATAL_ERROR "No complete sysroot at ${XRM_SYSROOT}; create it with scripts/deps.sh ${XRM_SYSROOT_NAME} "
                      "(or scripts/sysroot.sh ${XRM_SYSROOT_NAME} once the cross compiler and mmdebstrap are installed)")
endif()
# try_compile projects get their own copy of the toolchain file; hand them the resolved path.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES XRM_SYSROOT)

set(CMAKE_SYSROOT "${XRM_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${XRM_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(XRM_QEMU ${XRM_QEMU_NAME} REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${XRM_QEMU} -L ${XRM_SYSROOT})

# .pc files of the sysroot only; their -I/-L paths get the sysroot prefixed.
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${XRM_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR} "${XRM_SYSROOT}/usr/lib/${XRM_TRIPLE}/pkgconfig:${XRM_SYSROOT}/usr/lib/pkgconfig:${XRM_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
