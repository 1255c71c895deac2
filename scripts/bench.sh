#!/usr/bin/env bash
# Builds and runs the benchmarks, then prints their figures with ratios against the baselines
# measured in the same run:
#   depot   bench/stackdepot_bench: the stack depot against two locked hash maps
#   unwind  bench/unwind_bench: every unwinder on the same snapshots, and the deferred engine
#   cfi     bench/cfi_table_bench: the compiled CFI table's first rules and whole build on libc,
#           libLLVM and chromium, against libdw reading the same CFI
#   tracer  bench/record_vs_perf.sh: target slowdown and profiler CPU per sample, dprof record
#           against perf record --call-graph dwarf at 999 Hz and 10 kHz
#   lossless bench/lossless_rate.sh: the highest rate (per thread, both cores busy for 30 s) at
#           which dprof record and perf record --call-graph dwarf lose no sample
#   finish  bench/finish_vs_perf.sh: wall time beyond the target's own (naming addresses at the
#           end) of dprof record against perf record, on make -j2 of 40 C files and on -a
#   views   bench/views_vs_perf_script.sh: a 100k-sample recording to folded stacks and to HTML,
#           against perf script over as many dwarf samples
#   self    bench/self_profile_bench: a program profiling itself (dprof::Profiler) with perf_event
#           and with timer signals, against the same work unprofiled
#   history bench/process_history_bench: what following forks and execs costs, against one
#           process's address-space lookup
#   memory  bench/record_memory.sh: peak memory of a 100k-sample `dprof record`, against perf record
#   import  bench/import_vs_perf_script.sh: a 20k-sample dwarf perf.data to folded stacks, against
#           perf script on the same file
#   soak    bench/agent_soak.sh: dprof agent -a for 30 minutes (DPROF_SOAK_MINUTES) under process
#           churn with both cores busy: its CPU, its RSS early and late, windows lost (not in all)
# usage: scripts/bench.sh [depot|unwind|cfi|tracer|lossless|finish|views|self|history|memory|import|soak|all] [extra benchmark args...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

which=${1:-all}
[[ $# -gt 0 ]] && shift
case $which in depot|unwind|cfi|tracer|lossless|finish|views|self|history|memory|import|soak|all) ;; *) echo "usage: $0 [depot|unwind|cfi|tracer|lossless|finish|views|self|history|memory|import|soak|all] [benchmark args]" >&2; exit 2;; esac

scripts/deps.sh
configure build
ensure_tracefs
cmake --build build -j "$jobs" --target stackdepot_bench unwind_bench cfi_table_bench record_command recording_views \
  self_profile_bench process_history_bench cpu_bound_nofp dprof >&2
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# run <binary> [args]: 5 repetitions, medians kept in $out.
run() {
  section "$* --benchmark_repetitions=5"
  "$@" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true | tee "$out" >&2
}

if [[ $which == depot || $which == all ]]; then
  run build/bench/stackdepot_bench "$@"
  section "stack depot: throughput (median of 5, million ops/s) and ratios"
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
      order[++n] = bench SUBSEP threads
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
fi

if [[ $which == unwind || $which == all ]]; then
  run build/bench/unwind_bench "$@"
  section "unwinders: median microseconds per stack; dwarf's speed-up over libdw and libunwind"
  awk '
    function us(t, unit) { return unit == "ns" ? t / 1000 : unit == "us" ? t : t * 1000 }
    /^BM_Unwind/ && /_median/ {
      split($1, p, "/"); name = p[3] "/" p[4]; sub(/_median/, "", name)
      t[p[2], name] = us($2, $3)
      for (i = 4; i <= NF; i++) if ($i ~ /^frames=/) { f = $i; sub(/frames=/, "", f); frames[name] = f }
      if (!(name in seen)) { seen[name] = 1; order[++n] = name }
    }
    /^BM_Engine/ && /_median/ { engine[++m] = sprintf("%-28s %8.2f us per request", $1, us($2, $3)) }
    END {
      printf "%-18s %6s %8s %8s %8s %10s %10s %10s\n", "snapshot", "frames", "fp", "dwarf",
             "libdw", "libunwind", "vs libdw", "vs libunw."
      for (k = 1; k <= n; k++) {
        s = order[k]
        printf "%-18s %6s %8s %8.2f %8.2f %10.2f %9.1fx %9.1fx\n", s, frames[s],
               ((("fp", s) in t) ? sprintf("%.2f", t["fp", s]) : "-"), t["dwarf", s], t["libdw", s],
               t["libunwind", s], t["libdw", s] / t["dwarf", s], t["libunwind", s] / t["dwarf", s]
      }
      print ""
      for (k = 1; k <= m; k++) print engine[k]
    }' "$out"
fi

if [[ $which == cfi || $which == all ]]; then
  run build/bench/cfi_table_bench "$@"
  section "compiled CFI table: first rules at 2,000 pcs (ms, median of 5) against libdw's reads"
  awk '
    /^BM_FirstRules/ && /_median/ { split($1, p, "/"); sub(/_median/, "", p[3]); t[p[2], p[3]] = $2
                                    if (!(p[2] in seen)) { seen[p[2]] = 1; order[++n] = p[2] } }
    /^BM_WholeTable/ && /_median/ { whole[++m] = $0 }
    END {
      printf "%-10s %10s %10s %8s\n", "binary", "table", "libdw", "ratio"
      for (k = 1; k <= n; k++) {
        b = order[k]; printf "%-10s %10.2f %10.2f %7.2fx\n", b, t[b, "table"], t[b, "libdw"],
                                                          t[b, "table"] / t[b, "libdw"]
      }
      print ""; for (k = 1; k <= m; k++) print whole[k]
    }' "$out"
fi

if [[ $which == tracer || $which == all ]]; then
  section "tracer: samples/cpu_bound (2 threads, fixed work) at 999 Hz and 10 kHz, median of 5 runs"
  bench/record_vs_perf.sh build 5
fi

if [[ $which == lossless || $which == all ]]; then
  section "lossless: samples/cpu_bound on both cores for 30 s at rising rates, dwarf stacks"
  bench/lossless_rate.sh build 30
fi

if [[ $which == finish || $which == all ]]; then
  section "finish: make -j2 of 40 C files, and -a for 5 s during it: wall time beyond the target's"
  bench/finish_vs_perf.sh build 3
fi

if [[ $which == views || $which == all ]]; then
  section "views: 100k-sample recordings of samples/cpu_bound to folded and HTML, against perf script"
  bench/views_vs_perf_script.sh build 5
fi

if [[ $which == memory || $which == all ]]; then
  section "memory: peak RSS recording 100k samples of samples/cpu_bound, against perf record"
  bench/record_memory.sh build 3
fi

if [[ $which == import || $which == all ]]; then
  section "import: a 20k-sample --call-graph dwarf perf.data to folded stacks, against perf script"
  bench/import_vs_perf_script.sh build 5
fi

if [[ $which == soak ]]; then
  section "soak: dprof agent -a at 99 Hz for ${DPROF_SOAK_MINUTES:-30} minutes under churn"
  bench/agent_soak.sh build "${DPROF_SOAK_MINUTES:-30}"
fi

if [[ $which == self || $which == all ]]; then
  run build/bench/self_profile_bench "$@"
  section "self-profiling at 999 Hz: median microseconds per round, slowdown, other threads' CPU"
  awk '
    function value(s) {  # a counter with its SI suffix: 4.2m -> 0.0042
      if (s ~ /u$/) return s * 1e-6; if (s ~ /m$/) return s * 1e-3; if (s ~ /k$/) return s * 1e3
      return s + 0
    }
    /^BM_Rounds/ && /_median/ {
      split($1, p, "/"); name = p[2]
      t[name] = $2
      for (i = 4; i <= NF; i++) if ($i ~ /^profiler_cpu=/) { c = $i; sub(/.*=/, "", c); cpu[name] = value(c) }
      order[++n] = name
    }
    END {
      printf "%-14s %12s %10s %14s\n", "sampler", "us/round", "slowdown", "profiler CPU"
      for (k = 1; k <= n; k++) {
        s = order[k]
        printf "%-14s %12.1f %9.3fx %13.1f%%\n", s, t[s], t[s] / t["none"], 100 * cpu[s]
      }
    }' "$out"
fi

if [[ $which == history || $which == all ]]; then
  run build/bench/process_history_bench "$@"
  section "following processes: median ns per operation, and lookups against one address space's"
  awk '
    /_median/ {
      name = $1; sub(/_median$/, "", name); ns[name] = $2; order[++n] = name
    }
    END {
      base = ns["BM_AddressSpaceFind"]
      for (k = 1; k <= n; k++) {
        name = order[k]
        if (name ~ /BM_HistoryBuild/) {
          forks = name; sub(/.*forks:/, "", forks)
          printf "%-32s %12.0f ns   %8.1f ns per fork\n", name, ns[name], ns[name] / forks
        } else if (name ~ /BM_MappingAt/) {
          printf "%-32s %12.1f ns   %8.2fx BM_AddressSpaceFind\n", name, ns[name], ns[name] / base
        } else {
          printf "%-32s %12.1f ns\n", name, ns[name]
        }
      }
    }' "$out"
fi
