# Size of the shipped binaries (performance issue: stripped, dynamically linked aarch64
# xrm-gatewayd <= 1.5 MB). Release and MinSizeRel only: Debug and the dev preset (ASan) are
# unchanged. Debian's hardening flags (top-level CMakeLists.txt) and -fexceptions/unwind tables
# stay as they are. Figures: stripped aarch64 xrm-gatewayd, GCC 12 cross, 2026-11-23; each line is
# the step from the one before it, starting at 2,299,600 bytes (CMake's Release: -O3).
# -Wl,--as-needed and -Wl,--hash-style=gnu are already Debian GCC's defaults (see -dumpspecs);
# -Wl,-O1 saved 0 bytes; gold's --icf=all saved another ~65 kB but needs -fuse-ld=gold (deprecated
# upstream) and folds functions whose addresses may be compared, so it is left out.
# -fvisibility=hidden is not used: a PIE without -rdynamic exports none of our symbols anyway.
set(_xrm_size_configs "$<CONFIG:Release,MinSizeRel>")

# -O2 instead of CMake's default -O3 for Release (Debian's dpkg-buildflags use -O2 too):
# -262 kB (2,299,600 -> 2,037,456); -O3's extra inlining and unrolling of cold code was the largest
# single cost. Given after CMAKE_CXX_FLAGS_RELEASE, so it wins. MinSizeRel keeps its -Os.
add_compile_options($<$<CONFIG:Release>:-O2>)
add_link_options($<$<CONFIG:Release>:-O2>)   # the LTO link step compiles too

# One section per function and per object, so that the linker can drop what nothing references
# (unused parts of our static libraries, CLI11/nlohmann/Asio inlines): -66 kB
# (2,037,456 -> 1,971,912).
add_compile_options($<${_xrm_size_configs}:-ffunction-sections> $<${_xrm_size_configs}:-fdata-sections>)
add_link_options($<${_xrm_size_configs}:LINKER:--gc-sections>)

# Link-time optimization across our static libraries (one program, so header-only templates
# instantiated in many objects are compiled once, and inlined or dropped): -328 kB
# (1,971,912 -> 1,644,240). CMake builds the archives with gcc-ar (the LTO plugin). Only if the
# toolchain passes CMake's check; otherwise the build stays as it was.
# Every Release program is linked with LTO, the unit tests too (so the tests run the code as the
# daemon is built; the release tree built in 7.4 min, as before). A variant with LTO for the daemon
# only and -ffat-lto-objects for the libraries (shorter test links) was built once, but not on the
# same code as this one, so its size was not compared fairly; left for later.
include(CheckIPOSupported)
check_ipo_supported(RESULT XRM_IPO_SUPPORTED OUTPUT _xrm_ipo_output LANGUAGES C CXX)
if(XRM_IPO_SUPPORTED)
  set(CMAKE_INTERPROCEDURAL_OPTIMIZATION_RELEASE ON)
  set(CMAKE_INTERPROCEDURAL_OPTIMIZATION_MINSIZEREL ON)
else()
  message(STATUS "XrmSizeOptimization: no LTO with this toolchain: ${_xrm_ipo_output}")
endif()

# -Os for code off the ingest path only: command line and man pages, TOML config and profile
# loading, the control socket and its API, provisioning/dynamic security, central commands and
# scorecards. Everything a reading passes through (ingest, health rules, condense, outbox, store,
# uplink, mqtt, proto, common, the daemon's wiring) stays at -O2. With LTO: -197 kB
# (1,644,240 -> 1,447,632, the result; without LTO it was 1,971,912 -> 1,709,768). -Os everywhere
# would give 1,382,080 even without LTO, but would slow the hot path, so it is not done.
# MinSizeRel is -Os throughout anyway. Applied at the end of the top-level directory, when the
# targets exist.
set(XRM_SIZE_COLD_TARGETS xrm_config xrm_health_profiles xrm_control xrm_central_commands xrm_gatewayd_cli
                          xrm_manpage xrm_scorecard_core)
set(XRM_SIZE_COLD_SOURCES
  gateway/registry/src/dynsec.cpp gateway/registry/src/provisioner.cpp   # registry.cpp stays -O2 (lookups)
  gateway/app/control_api.cpp gateway/app/scorecards.cpp
  # Startup, timers and wiring; the uplink's connection and status handling; dead letters. Added
  # when the health tick's slices and the condenser's budget grew .text by 10 kB and the aarch64
  # daemon crossed a 64 KiB segment boundary (1,513,168 bytes).
  gateway/app/daemon.cpp gateway/uplink/src/uplink.cpp gateway/ingest/src/dead_letters.cpp)
function(_xrm_size_cold_code)
  foreach(_t IN LISTS XRM_SIZE_COLD_TARGETS)
    if(TARGET ${_t})
      set_property(TARGET ${_t} APPEND PROPERTY COMPILE_OPTIONS $<$<CONFIG:Release>:-Os>)
    endif()
  endforeach()
  foreach(_s IN LISTS XRM_SIZE_COLD_SOURCES)
    get_filename_component(_dir ${CMAKE_SOURCE_DIR}/${_s} DIRECTORY)
    string(REGEX REPLACE "/src$" "" _dir "${_dir}")
    set_property(SOURCE ${CMAKE_SOURCE_DIR}/${_s} DIRECTORY ${_dir} APPEND PROPERTY COMPILE_OPTIONS $<$<CONFIG:Release>:-Os>)
  endforeach()
endfunction()
cmake_language(DEFER CALL _xrm_size_cold_code)
