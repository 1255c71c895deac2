#!/usr/bin/env bash
# Side by side with perf, at each sampling rate: the slowdown of samples/cpu_bound_nofp (fixed
# work, two threads: both cores busy) under `perf record --call-graph dwarf` and under
# `dprof record` (dwarf stacks unwound while recording, the file written, symbols named), and each
# profiler's own CPU time per sample it kept.
#
#   bench/record_vs_perf.sh BUILD_DIR [RUNS]     (scripts/bench.sh tracer builds and runs it)
#   RATES="999 10000" (default) picks the rates; ROUNDS the target's work.
#
# Per configuration and run: the target's wall time (it times its own work); the CPU time of the
# profiler and everything it ran minus the target's own CPU time (= the profiler's cost; the
# kernel's work in the target's context, taking the samples and copying their stacks, is the
# target's and alike for both); the samples each kept; the share each said it lost. Medians of RUNS
# (default 5), in the same run as the unprofiled baseline.
set -euo pipefail
build=$1
runs=${2:-5}
rates=${RATES:-999 10000}
rounds=${ROUNDS:-3000}
target=("$build/samples/cpu_bound_nofp" --rounds "$rounds" 2)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure LABEL CMD...: one line per run: label wall target_cpu profiler_cpu samples lost%
measure() {
  local label=$1
  shift
  for ((i = 0; i < runs; i++)); do
    rm -f "$tmp/perf.data" "$tmp/dprof.data"
    /usr/bin/time -f "%U %S" -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" || true
    local wall cpu user sys samples lost
    wall=$(sed -n 's/.*wall=\([0-9.]*\).*/\1/p' "$tmp/out")
    cpu=$(sed -n 's/.*cpu=\([0-9.]*\).*/\1/p' "$tmp/out")
    read -r user sys <"$tmp/time"
    # perf: "(N samples)" and "lost P%"; dprof: "recorded N events" and "lost N samples (P%)".
    samples=$(sed -n 's/.*(\([0-9]*\) samples).*/\1/p; s/.*recorded \([0-9]*\) events.*/\1/p' "$tmp/err" | head -1)
    lost=$(sed -n 's/.*lost \([0-9.]*\)%.*/\1/p; s/.*lost [0-9]* samples (\([0-9.]*\)%).*/\1/p' "$tmp/err" | head -1)
    echo "$label $wall $cpu $(awk -v u="$user" -v s="$sys" -v t="$cpu" 'BEGIN { printf "%.3f", u + s - t }') ${samples:-0} ${lost:-0}"
  done
}

{
  measure baseline "${target[@]}"
  for rate in $rates; do
    measure "perf-dwarf@$rate" perf record -F "$rate" --call-graph dwarf,32768 -o "$tmp/perf.data" -- "${target[@]}"
    measure "dprof@$rate" "$build/cli/dprof" record -F "$rate" -o "$tmp/dprof.data" -- "${target[@]}"
  done
} >"$tmp/runs"

awk '
  function median(list, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
    return n % 2 ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
  }
  { k = $1; n[k]++; wall[k, n[k]] = $2; prof[k, n[k]] = $4; samples[k, n[k]] = $5
    us[k, n[k]] = $5 > 0 ? 1e6 * $4 / $5 : 0; lost[k, n[k]] = $6
    if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
  END {
    printf "%-16s %8s %9s %14s %9s %7s %13s %9s\n", "config", "wall s", "slowdown", "profiler cpu s",
           "samples", "lost %", "us per sample", "vs perf"
    for (i = 1; i <= m; i++) {
      k = order[i]
      for (j = 1; j <= n[k]; j++) { w[j] = wall[k, j]; p[j] = prof[k, j]; s[j] = samples[k, j]; u[j] = us[k, j]; l[j] = lost[k, j] }
      mw = median(w, n[k]); mp = median(p, n[k]); ms = median(s, n[k]); mu = median(u, n[k]); ml = median(l, n[k])
      if (k == "baseline") { base = mw; printf "%-16s %8.3f %8.3fx\n", k, mw, 1; continue }
      rate = k; sub(/.*@/, "", rate)
      if (k ~ /^perf/) perf_us[rate] = mu
      printf "%-16s %8.3f %8.3fx %14.3f %9d %7.2f %13.1f", k, mw, mw / base, mp, ms, ml, mu
      if (k !~ /^perf/ && perf_us[rate] > 0) printf " %8.2fx", mu / perf_us[rate]
      printf "\n"
    }
  }' "$tmp/runs"
