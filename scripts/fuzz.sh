#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz for a while each, one after another: installs what is
# missing (scripts/deps.sh), configures and builds the fuzz preset (build/fuzz), then runs every
# fuzzer (or those named) over a working copy of its corpus and prints one line per fuzzer: name,
# seconds, executions, exec/s, corpus size, crashes. The same lines go to build/fuzz/fuzz-results.json.
#
#   scripts/fuzz.sh                         every fuzzer, 600 s each
#   scripts/fuzz.sh --seconds 60 config     one fuzzer, 60 s
#   scripts/fuzz.sh --merge                 ... and merge new inputs into tests/fuzz/corpus/<name>/
#   scripts/fuzz.sh --jobs 2                two fuzzers at a time (one core each)
#
# Crash inputs go to build/fuzz/fuzz-artifacts/<name>/. Without --merge the source corpus is only
# read. Exits 1 if any fuzzer found a crash, a leak, a timeout or ran out of memory.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZERS=(decode_json decode_protobuf central_commands device_command control_protocol config rules)
seconds=600
merge=0
jobs=1
selected=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --merge) merge=1; shift ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *)
      if [[ " ${FUZZERS[*]} " != *" $1 "* ]]; then
        echo "fuzz.sh: unknown fuzzer '$1' (${FUZZERS[*]})" >&2
        exit 2
      fi
      selected+=("$1"); shift ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "fuzz.sh: --seconds must be a positive integer" >&2; exit 2; }
[[ $jobs =~ ^[0-9]+$ && $jobs -gt 0 ]] || { echo "fuzz.sh: --jobs must be a positive integer" >&2; exit 2; }
[[ ${#selected[@]} -gt 0 ]] || selected=("${FUZZERS[@]}")

scripts/deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

bin=build/fuzz/tests/fuzz
work=build/fuzz/fuzz-work
artifacts=build/fuzz/fuzz-artifacts
results=build/fuzz/fuzz-results.json
run_one() {
  local name=$1 corpus args log rc execs rate crashes n size
  corpus=tests/fuzz/corpus/$name
  rm -rf "${work:?}/$name" "${artifacts:?}/$name"
  mkdir -p "$work/$name" "$artifacts/$name" "$corpus"
  cp -a "$corpus/." "$work/$name/"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1
        -artifact_prefix="$artifacts/$name/")
  [[ -f tests/fuzz/$name.dict ]] && args+=(-dict="tests/fuzz/$name.dict")
  log=build/fuzz/fuzz-$name.log
  printf '\n==> %s: %s s\n' "$name" "$seconds"
  set +e
  "$bin/xrm_fuzz_$name" "${args[@]}" "$work/$name" >"$log" 2>&1
  rc=$?
  grep -E '^#[0-9]+.*DONE|^stat::|ERROR|invariant broken|^SUMMARY' "$log" | sed "s/^/$name: /"
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=$(find "$artifacts/$name" -type f | wc -l)
  if [[ $merge -eq 1 && $rc -eq 0 ]]; then
    # Only what adds coverage goes into the source corpus (libFuzzer's -merge=1). Edges only
    # (-use_counters=0): counting hit counts as well would keep several times more files.
    "$bin/xrm_fuzz_$name" -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=1024 "$corpus" "$work/$name" \
      >"build/fuzz/fuzz-$name-merge.log" 2>&1
    n=$(find "$corpus" -type f | wc -l)
    [[ $n -lt 200 ]] || echo "fuzz.sh: $corpus now holds $n files; keep it under 200 (drop some before committing)" >&2
  fi
  size=$(find "$([[ $merge -eq 1 ]] && echo "$corpus" || echo "$work/$name")" -type f | wc -l)
  printf '%-18s %6ss %12s execs %8s exec/s %6s inputs %3s crashes' "$name" "$seconds" "${execs:-?}" "${rate:-?}" "$size" "$crashes" >"build/fuzz/fuzz-$name.line"
  printf '{"name":"%s","seconds":%s,"executions":%s,"exec_per_sec":%s,"corpus_size":%s,"crashes":%s,"exit_code":%s}' \
    "$name" "$seconds" "${execs:-null}" "${rate:-null}" "$size" "$crashes" "$rc" >"build/fuzz/fuzz-$name.row"
  return "$rc"
}

failed=0
pids=()
for name in "${selected[@]}"; do
  run_one "$name" &
  pids+=($!)
  if [[ ${#pids[@]} -ge $jobs ]]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
lines=()
json_rows=()
for name in "${selected[@]}"; do
  lines+=("$(cat "build/fuzz/fuzz-$name.line")")
  json_rows+=("$(cat "build/fuzz/fuzz-$name.row")")
done

{
  echo "["
  for i in "${!json_rows[@]}"; do
    printf '  %s%s\n' "${json_rows[$i]}" "$([[ $i -lt $((${#json_rows[@]} - 1)) ]] && echo ,)"
  done
  echo "]"
} >"$results"

printf '\n==> results (%s; corpus size: %s)\n' "$results" "$([[ $merge -eq 1 ]] && echo "tests/fuzz/corpus after --merge" || echo "working copy in $work")"
printf '%s\n' "${lines[@]}"
exit $failed
