#!/usr/bin/env bash
# Side by side with perf: the slowdown of samples/cpu_bound (fixed work, two threads: both cores
# busy) under perf record and under dprof's tracer at 999 Hz, and each profiler's own CPU time.
#
#   bench/record_vs_perf.sh BUILD_DIR [RUNS]        (scripts/bench.sh tracer builds and runs it)
#
# Per configuration and run: the target's wall time (it times its own work), the CPU time of the
# profiler and everything it ran minus the target's own CPU time (= the profiler's cost), and
# what each profiler said it lost. Medians of RUNS (default 5), in the same run as the baseline.
set -euo pipefail
build=$1
runs=${2:-5}
rounds=${ROUNDS:-3000}
target=(env "$build/samples/cpu_bound_nofp" --rounds "$rounds" 2)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

seconds() { awk '{ split($0, a, /[ms]/); print a[1] * 60 + a[2] }' <<<"$1"; }

# measure LABEL CMD...: one line per run: wall target_cpu profiler_cpu samples lost
measure() {
  local label=$1
  shift
  for ((i = 0; i < runs; i++)); do
    (
      "$@" >"$tmp/out" 2>"$tmp/err" || true
      times >"$tmp/times"
    )
    local wall cpu children user sys samples lost
    wall=$(sed -n 's/.*wall=\([0-9.]*\).*/\1/p' "$tmp/out")
    cpu=$(sed -n 's/.*cpu=\([0-9.]*\).*/\1/p' "$tmp/out")
    read -r user sys < <(sed -n 2p "$tmp/times")
    children=$(awk -v u="$(seconds "$user")" -v s="$(seconds "$sys")" 'BEGIN { print u + s }')
    samples=$(sed -n 's/.*(\([0-9]*\) samples).*/\1/p; s/.*events=\([0-9]*\).*/\1/p' "$tmp/err")
    # dprof: its counters; perf: the warnings it prints about lost events.
    lost=$(awk '/record_command:/ { for (i = 1; i <= NF; i++) if ($i ~ /^lost(_samples)?=/) {
                  split($i, kv, "="); n += kv[2] } found = 1 }
                /[Ll]ost/ && !/record_command:/ { warnings++ }
                END { print found ? n + 0 : warnings + 0 }' "$tmp/err")
    echo "$label $wall $cpu $(awk -v c="$children" -v t="$cpu" 'BEGIN { printf "%.3f", c - t }') ${samples:-0} ${lost:-0}"
  done
}

{
  measure baseline "${target[@]}"
  measure perf-dwarf perf record -F 999 --call-graph dwarf,32768 -o "$tmp/perf.data" -- "${target[@]}"
  measure perf-fp perf record -F 999 -g -o "$tmp/perf.data" -- "${target[@]}"
  measure dprof-dwarf "$build/bench/record_command" --call-graph dwarf -F 999 -- "${target[@]}"
  measure dprof-fp "$build/bench/record_command" --call-graph fp -F 999 -- "${target[@]}"
} >"$tmp/runs"

awk '
  function median(list, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
    return n % 2 ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
  }
  { k = $1; n[k]++; wall[k, n[k]] = $2; prof[k, n[k]] = $4; samples[k, n[k]] = $5; lost[k] += $6
    if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
  END {
    printf "%-12s %10s %10s %14s %10s %10s\n", "config", "wall s", "slowdown", "profiler cpu s", "samples", "lost"
    for (i = 1; i <= m; i++) {
      k = order[i]
      for (j = 1; j <= n[k]; j++) { w[j] = wall[k, j]; p[j] = prof[k, j]; s[j] = samples[k, j] }
      mw = median(w, n[k]); mp = median(p, n[k]); ms = median(s, n[k])
      if (k == "baseline") base = mw
      printf "%-12s %10.3f %9.3fx %14.3f %10d %10d\n", k, mw, mw / base, mp, ms, lost[k]
    }
  }' "$tmp/runs"
