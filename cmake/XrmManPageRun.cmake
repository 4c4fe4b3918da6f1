# cmake -DPROGRAM=exe -DEMULATOR=a|b -DARGS=a|b -DOUTPUT=file -DGZIP=gzip -P XrmManPageRun.cmake
# Writes `[EMULATOR] PROGRAM --print-man-page [ARGS]`'s stdout to OUTPUT and OUTPUT.gz (gzip -9n);
# fails (and the build with it) when the program fails or prints nothing.
string(REPLACE "|" ";" emulator "${EMULATOR}")
string(REPLACE "|" ";" args "${ARGS}")
get_filename_component(dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
execute_process(COMMAND ${emulator} "${PROGRAM}" --print-man-page ${args}
                OUTPUT_FILE "${OUTPUT}.tmp" ERROR_VARIABLE err RESULT_VARIABLE rc)
file(SIZE "${OUTPUT}.tmp" size)
if(NOT rc EQUAL 0 OR size EQUAL 0)
  file(REMOVE "${OUTPUT}.tmp")
  message(FATAL_ERROR "${PROGRAM} --print-man-page ${args}: exit ${rc}, ${size} bytes\n${err}")
endif()
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
execute_process(COMMAND "${GZIP}" -9n -c "${OUTPUT}" OUTPUT_FILE "${OUTPUT}.gz" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE "${OUTPUT}.gz")
  message(FATAL_ERROR "gzip ${OUTPUT}: exit ${rc}")
endif()
