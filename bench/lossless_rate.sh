#!/usr/bin/env bash
# The highest sampling rate each profiler keeps up with: samples/cpu_bound_nofp busy on both cores
# for SECONDS, recorded with dwarf stacks by `perf record --call-graph dwarf,32768` and by
# `dprof record` at each rate; per run, what each said it lost (perf: samples lost; dprof:
# samples lost, and snapshots dropped from its unwind queue).
#
#   bench/lossless_rate.sh BUILD_DIR [SECONDS]    (scripts/bench.sh lossless builds and runs it)
#   RATES="1000 2000 5000 10000" (default) picks the rates, per thread. (Higher ones can make the
#   kernel lower kernel.perf_event_max_sample_rate for good when its sampling interrupts run long.)
set -euo pipefail
build=$1
seconds=${2:-30}
rates=${RATES:-1000 2000 5000 10000}
target=("$build/samples/cpu_bound_nofp" "$seconds" 2)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run TOOL RATE: "samples lost dropped" of one recording.
run() {
  local tool=$1 rate=$2
  rm -f "$tmp/perf.data" "$tmp/dprof.data"
  if [[ $tool == perf ]]; then
    perf record -F "$rate" --call-graph dwarf,32768 -o "$tmp/perf.data" -- "${target[@]}" \
      >/dev/null 2>"$tmp/err" || true
    # perf's own count of what reached the file, and its LOST records' count of what did not.
    local samples lost
    samples=$(sed -n 's/.*(\([0-9]*\) samples).*/\1/p' "$tmp/err" | head -1)
    lost=$(perf report -i "$tmp/perf.data" --stats 2>/dev/null |
      awk '/LOST_SAMPLES/ { n += $NF } END { print n + 0 }')
    echo "${samples:-0} ${lost:-0} 0"
  else
    "$build/cli/dprof" record -F "$rate" -o "$tmp/dprof.data" -- "${target[@]}" \
      >/dev/null 2>"$tmp/err" || true
    sed -n 's/.*recorded \([0-9]*\) events.*lost \([0-9]*\), dropped \([0-9]*\).*/\1 \2 \3/p' \
      "$tmp/err" | head -1
  fi
}

printf "%-6s %8s %10s %10s %10s %8s\n" tool rate samples lost dropped lossless
for tool in perf dprof; do
  best=none
  for rate in $rates; do
    read -r samples lost dropped < <(run "$tool" "$rate")
    ok=$([[ $lost == 0 && $dropped == 0 ]] && echo yes || echo no)
    [[ $ok == yes ]] && best=$rate
    printf "%-6s %8s %10s %10s %10s %8s\n" "$tool" "$rate" "$samples" "$lost" "$dropped" "$ok"
  done
  echo "$tool: highest lossless rate tried: $best Hz per thread"
done
