# cmake -DGROFF=groff -DPAGE=file -P XrmManPageCheck.cmake
# Formats PAGE with every warning on (groff -man -ww -z) and fails on any warning or error.
if(NOT EXISTS "${PAGE}")
  message(FATAL_ERROR "${PAGE}: missing (build the ALL target first)")
endif()
execute_process(COMMAND "${GROFF}" -man -Tutf8 -ww -z "${PAGE}" ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "groff -man -ww ${PAGE}: exit ${rc}\n${err}")
endif()
message(STATUS "${PAGE}: no warnings")
