#!/usr/bin/env bash
# Side by side with `perf script` on the very same perf.data (issue 18): dprof reading the file
# straight to folded stacks (import: dprof's unwinds of perf's dwarf snapshots, symbolization,
# folding) against `perf script` printing it. The file holds about SAMPLES (default 20000)
# --call-graph dwarf samples of samples/cpu_bound (2 threads), recorded in this run.
#
#   bench/import_vs_perf_script.sh BUILD_DIR [RUNS]     (scripts/bench.sh import builds and runs it)
#
# Each command runs RUNS times (default 5), alternating; the medians of wall seconds and of peak
# RSS (MiB, /usr/bin/time's) are compared.
set -euo pipefail
build=$1
runs=${2:-5}
samples=${SAMPLES:-20000}
freq=4000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

seconds=$(((samples + 2 * freq - 1) / (2 * freq)))
perf record -q -F "$freq" --call-graph dwarf -o "$tmp/perf.data" -- \
  "$build/samples/cpu_bound_nofp" "$seconds" 2 >/dev/null 2>&1
perf_samples=$(perf report -i "$tmp/perf.data" --stats 2>/dev/null |
  awk '/SAMPLE events:/ { print $3; exit }')

# measure NAME CMD...: appends "wall_seconds peak_kib" of one run to $tmp/NAME.
measure() {
  local name=$1
  shift
  /usr/bin/time -f '%e %M' -o "$tmp/one" "$@" >/dev/null 2>&1
  cat "$tmp/one" >>"$tmp/$name"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$tmp/dprof" >"$tmp/perf"
for ((i = 0; i < runs; i++)); do
  measure dprof "$build/cli/dprof" export -i "$tmp/perf.data" --format folded -o "$tmp/out.folded"
  measure perf perf script -i "$tmp/perf.data"
done
d_wall=$(cut -d' ' -f1 "$tmp/dprof" | median)
p_wall=$(cut -d' ' -f1 "$tmp/perf" | median)
d_rss=$(cut -d' ' -f2 "$tmp/dprof" | median)
p_rss=$(cut -d' ' -f2 "$tmp/perf" | median)
printf '%-44s %10s %10s %12s\n' "$perf_samples dwarf samples (median of $runs)" "seconds" "peak MiB" "perf / dprof"
awk -v t="$p_wall" -v m="$p_rss" 'BEGIN { printf "%-44s %10.3f %10.1f\n", "perf script", t, m / 1024 }'
awk -v t="$d_wall" -v m="$d_rss" -v p="$p_wall" \
  'BEGIN { printf "%-44s %10.3f %10.1f %11.2fx\n", "dprof export --format folded -i perf.data", t, m / 1024, p / t }'
