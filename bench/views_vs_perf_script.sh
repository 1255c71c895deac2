#!/usr/bin/env bash
# Side by side with `perf script`: the time from a recording of about 100k samples to folded
# stacks and to an HTML flame graph (dprof), against `perf script` over a perf.data with as many
# --call-graph dwarf samples of the same program. Both recordings are made in this run, of
# samples/cpu_bound (2 threads) at the same frequency.
#
#   bench/views_vs_perf_script.sh BUILD_DIR [RUNS]        (scripts/bench.sh views builds and runs it)
#
# SAMPLES (default 100000) sets the size of the recordings. Each view is timed RUNS times (default
# 5), alternating dprof and perf, and the medians are compared.
set -euo pipefail
build=$1
runs=${2:-5}
samples=${SAMPLES:-100000}
freq=4000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Two threads at $freq Hz each.
seconds=$(((samples + 2 * freq - 1) / (2 * freq)))
target=("$build/samples/cpu_bound_nofp" "$seconds" 2)
"$build/bench/record_command" -F "$freq" -o "$tmp/dprof.data" -- "${target[@]}" \
  >/dev/null 2>"$tmp/record.err"
perf record -q -F "$freq" --call-graph dwarf -o "$tmp/perf.data" -- "${target[@]}" \
  >/dev/null 2>&1
dprof_samples=$("$build/bench/recording_views" report "$tmp/dprof.data" |
  sed -n 's/.*; \([0-9]*\) events.*/\1/p')
perf_samples=$(perf report -i "$tmp/perf.data" --stats 2>/dev/null |
  awk '/SAMPLE events:/ { print $3; exit }')

# elapsed CMD...: wall seconds of one run, output discarded.
elapsed() {
  local start=$EPOCHREALTIME
  "$@" >/dev/null 2>&1
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f\n", b - a }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$tmp/folded" >"$tmp/html" >"$tmp/perf"
for ((i = 0; i < runs; i++)); do
  elapsed "$build/bench/recording_views" folded "$tmp/dprof.data" >>"$tmp/folded"
  elapsed perf script -i "$tmp/perf.data" >>"$tmp/perf"
  elapsed "$build/bench/recording_views" html "$tmp/dprof.data" >>"$tmp/html"
done
folded=$(median <"$tmp/folded")
html=$(median <"$tmp/html")
perf=$(median <"$tmp/perf")
printf '%-34s %10s %10s\n' "view (median of $runs)" "seconds" "perf/dprof"
printf '%-34s %10s\n' "perf script ($perf_samples samples)" "$perf"
awk -v t="$folded" -v p="$perf" -v n="$dprof_samples" \
  'BEGIN { printf "%-34s %10.4f %9.1fx\n", "dprof folded (" n " samples)", t, p / t }'
awk -v t="$html" -v p="$perf" -v n="$dprof_samples" \
  'BEGIN { printf "%-34s %10.4f %9.1fx\n", "dprof HTML flame graph (" n ")", t, p / t }'
