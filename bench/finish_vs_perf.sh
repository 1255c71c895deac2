#!/usr/bin/env bash
# How long each profiler keeps the user waiting after the work is done: `make -j2` building a
# generated 40-file C project, and a system-wide recording of 5 s while that build runs, under
# `perf record --call-graph dwarf,32768` and under `dprof record` (which names every address
# before it exits; perf leaves that to `perf report`).
#
#   bench/finish_vs_perf.sh BUILD_DIR [RUNS]    (scripts/bench.sh finish builds and runs it)
#
# Per run: the profiler's whole wall time, and the target's own (make's, timed by /usr/bin/time
# inside the recording; for -a, 5 s: perf's `-- sleep 5`, dprof's `-d 5`); "beyond" is the difference, the time
# spent after the target ended (and before it started). Medians of RUNS (default 3).
set -euo pipefail
build=$1
runs=${2:-3}
dprof=$(realpath "$build/cli/dprof")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [[ -n ${load:-} ]] && kill "$load" 2>/dev/null; true' EXIT

# The project: 40 files of 25 functions each, built with -O2 -g.
mkdir -p "$tmp/proj"
for ((f = 0; f < 40; f++)); do
  {
    echo "#include <stdint.h>"
    for ((g = 0; g < 25; g++)); do
      echo "uint64_t f${f}_${g}(uint64_t x) {"
      echo "  for (int i = 0; i < 64; ++i) { x = x * 6364136223846793005u + $g; if (x % 7 == $((g % 7))) x ^= x >> 13; }"
      echo "  switch (x % 5) { case 0: return x + $f; case 1: return x * 3; case 2: return x ^ $g; default: return x >> 1; }"
      echo "}"
    done
  } >"$tmp/proj/f$f.c"
done
{
  echo "OBJS := \$(patsubst %.c,%.o,\$(wildcard *.c))"
  echo "all: \$(OBJS)"
  echo "%.o: %.c"
  printf '\tgcc -O2 -g -c $< -o $@\n'
} >"$tmp/proj/Makefile"

now() { date +%s.%N; }

# measure LABEL PREFIX...: one line per run: label total_wall target_wall
measure_make() {
  local label=$1
  shift
  for ((i = 0; i < runs; i++)); do
    rm -f "$tmp/proj"/*.o
    rm -f "$tmp/out.data" "$tmp/target"
    local start end
    start=$(now)
    "$@" /usr/bin/time -f %e -o "$tmp/target" make -s -j2 -C "$tmp/proj" >/dev/null 2>"$tmp/err" ||
      { cat "$tmp/err" >&2; exit 1; }
    end=$(now)
    echo "$label $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }') $(cat "$tmp/target")"
  done
}

measure_system() {
  local label=$1
  shift
  for ((i = 0; i < runs; i++)); do
    rm -f "$tmp/out.data"
    local start end
    start=$(now)
    "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    end=$(now)
    echo "$label $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }') 5"
  done
}

{
  measure_make make env
  measure_make perf-dwarf perf record --call-graph dwarf,32768 -o "$tmp/out.data" --
  measure_make dprof "$dprof" record -q -o "$tmp/out.data" --
  # System-wide while a build runs over and over.
  (while true; do rm -f "$tmp/proj"/*.o; make -s -j2 -C "$tmp/proj" >/dev/null 2>&1; done) &
  load=$!
  measure_system perf-dwarf-a perf record -a --call-graph dwarf,32768 -o "$tmp/out.data" -- sleep 5
  measure_system dprof-a "$dprof" record -a -q -d 5 -o "$tmp/out.data"
  kill "$load"
  load=
} >"$tmp/runs"

awk '
  function median(list, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
    return n % 2 ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
  }
  { k = $1; n[k]++; total[k, n[k]] = $2; target[k, n[k]] = $3; beyond[k, n[k]] = $2 - $3
    if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
  END {
    printf "%-14s %10s %10s %10s %12s\n", "config", "wall s", "target s", "beyond s", "vs perf"
    for (i = 1; i <= m; i++) {
      k = order[i]
      for (j = 1; j <= n[k]; j++) { t[j] = total[k, j]; g[j] = target[k, j]; b[j] = beyond[k, j] }
      mt = median(t, n[k]); mg = median(g, n[k]); mb = median(b, n[k])
      if (k == "perf-dwarf" || k == "perf-dwarf-a") perf = mb
      printf "%-14s %10.3f %10.3f %10.3f", k, mt, mg, mb
      if (k ~ /^dprof/ && perf > 0) printf " %11.2fx", mb / perf
      printf "\n"
    }
  }' "$tmp/runs"
