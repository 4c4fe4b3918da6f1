# Man pages, generated at build time by each program itself (--print-man-page), from the same CLI11
# App and option table that parse its command line and print --help, so they cannot drift. Cross
# builds run the target program under CMAKE_CROSSCOMPILING_EMULATOR (qemu). Output:
# ${CMAKE_BINARY_DIR}/man/NAME.SECTION (roff) and NAME.SECTION.gz (gzip -9n: no name, no timestamp,
# as Debian wants), installed to ${CMAKE_INSTALL_MANDIR}/manSECTION.
option(XRM_MAN_PAGES "Generate and install the man pages (runs each program at build time)" ON)
include(GNUInstallDirs)

set(_XRM_MAN_PAGE_RUN ${CMAKE_CURRENT_LIST_DIR}/XrmManPageRun.cmake)
set(_XRM_MAN_PAGE_CHECK ${CMAKE_CURRENT_LIST_DIR}/XrmManPageCheck.cmake)
if(XRM_MAN_PAGES)
  find_program(XRM_GZIP gzip REQUIRED NO_CMAKE_FIND_ROOT_PATH)
  # Optional: checks the pages with warnings on (ctest manpage_groff_*). Debian: groff-base.
  find_program(XRM_GROFF groff NO_CMAKE_FIND_ROOT_PATH)
endif()

# xrm_man_page(TARGET exe NAME page SECTION n COMPONENT comp [ARGS arg...])
# Runs `exe --print-man-page ARGS...` after exe is built (part of ALL) and installs the page.
function(xrm_man_page)
  if(NOT XRM_MAN_PAGES)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TARGET;NAME;SECTION;COMPONENT" "ARGS" ${ARGN})
  if(NOT ARG_TARGET OR NOT ARG_NAME OR NOT ARG_SECTION OR NOT ARG_COMPONENT)
    message(FATAL_ERROR "xrm_man_page: TARGET, NAME, SECTION and COMPONENT are required")
  endif()
  set(page ${CMAKE_BINARY_DIR}/man/${ARG_NAME}.${ARG_SECTION})
  set(emulator "")
  if(CMAKE_CROSSCOMPILING)
    set(emulator "${CMAKE_CROSSCOMPILING_EMULATOR}")
  endif()
  # Lists cross the command line with | instead of ; (qemu-arm;-L;SYSROOT).
  string(REPLACE ";" "|" emulator "${emulator}")
  string(REPLACE ";" "|" args "${ARG_ARGS}")
  add_custom_command(OUTPUT ${page} ${page}.gz
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${ARG_TARGET}> -DEMULATOR=${emulator} -DARGS=${args}
            -DOUTPUT=${page} -DGZIP=${XRM_GZIP} -P ${_XRM_MAN_PAGE_RUN}
    DEPENDS ${ARG_TARGET} ${_XRM_MAN_PAGE_RUN}
    COMMENT "Man page ${ARG_NAME}(${ARG_SECTION})"
    VERBATIM)
  add_custom_target(man_${ARG_NAME}.${ARG_SECTION} ALL DEPENDS ${page}.gz)
  install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${ARG_SECTION} COMPONENT ${ARG_COMPONENT})
  if(XRM_BUILD_TESTS AND XRM_GROFF)
    add_test(NAME manpage_groff_${ARG_NAME}.${ARG_SECTION}
             COMMAND ${CMAKE_COMMAND} -DGROFF=${XRM_GROFF} -DPAGE=${page} -P ${_XRM_MAN_PAGE_CHECK})
    set_tests_properties(manpage_groff_${ARG_NAME}.${ARG_SECTION} PROPERTIES LABELS "unit;manpage")
  endif()
endfunction()
