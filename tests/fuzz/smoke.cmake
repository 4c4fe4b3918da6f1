# One fuzzer's ctest smoke run: copies the seed corpus to WORK (so the source tree is never
# written), runs the fuzzer over the copy for SECONDS, and fails on any crash, leak, timeout or
# out-of-memory (libFuzzer's exit code is then not 0). Crash inputs land in WORK/artifacts/.
#   cmake -DFUZZER=... -DCORPUS=... -DWORK=... [-DDICT=...] -DSECONDS=15 -P smoke.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${CORPUS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${WORK}/corpus)
endif()
set(args -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=1024 -print_final_stats=1
         -artifact_prefix=${WORK}/artifacts/)
if(DICT)
  list(APPEND args -dict=${DICT})
endif()
execute_process(COMMAND ${FUZZER} ${args} ${WORK}/corpus RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found ${WORK}/artifacts/*)
  message(FATAL_ERROR "${FUZZER} failed (exit ${rc}); inputs: ${found}")
endif()
