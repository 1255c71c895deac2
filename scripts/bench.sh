#!/usr/bin/env bash
# Builds and runs the stack depot benchmarks, then prints each benchmark's throughput for the
# depot and both baselines with the ratios, and the memory per stored trace.
# Extra arguments go to the benchmark binary (e.g. --benchmark_filter=SaveHit).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scripts/deps.sh
configure build
cmake --build build -j "$jobs" --target stackdepot_bench >&2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
section "build/bench/stackdepot_bench --benchmark_repetitions=5 $*"
build/bench/stackdepot_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  "$@" | tee "$out" >&2

section "throughput (median of 5, million ops/s) and ratios"
awk '
  function mops(s) {  # items_per_second=27.74M/s -> 27.74
    sub(/items_per_second=/, "", s); sub(/\/s$/, "", s)
    if (s ~ /G$/) return s * 1000; if (s ~ /M$/) return s + 0; if (s ~ /k$/) return s / 1000
    return s / 1e6
  }
  /_median/ && /items_per_second/ {
    split($1, p, "/"); bench = p[1]; impl = p[2]
    threads = $1; sub(/.*threads:/, "", threads); sub(/_median/, "", threads)
    for (i = 2; i <= NF; i++) if ($i ~ /^items_per_second=/) v[bench, threads, impl] = mops($i)
    seen[bench, threads] = 1; order[++n] = bench SUBSEP threads
  }
  /BM_Memory16/ && /_median/ {
    for (i = 2; i <= NF; i++) if ($i ~ /^bytes_per_trace=/) { b = $i; sub(/.*=/, "", b) }
    split($1, p, "/"); mem[++m] = sprintf("%-16s %-8s traces  %6.1f bytes/trace (target 192)", p[2], p[3], b)
  }
  END {
    printf "%-14s %7s %10s %10s %15s %10s %16s\n", "benchmark", "threads", "Depot", "MutexMap",
           "SharedMutexMap", "vs Mutex", "vs SharedMutex"
    for (k = 1; k <= n; k++) {
      if (done[order[k]]++) continue
      split(order[k], bt, SUBSEP); d = v[bt[1], bt[2], "Depot"]
      mm = v[bt[1], bt[2], "MutexMap"]; sm = v[bt[1], bt[2], "SharedMutexMap"]
      printf "%-14s %7s %10.2f", bt[1], bt[2], d
      if (mm) printf " %10.2f %15.2f %9.2fx %15.2fx\n", mm, sm, d / mm, d / sm; else printf "\n"
    }
    print ""
    for (k = 1; k <= m; k++) print mem[k]
  }' "$out"
