#!/usr/bin/env bash
# Peak memory (max RSS) of recording about 100k samples of samples/cpu_bound (2 threads at
# 10 kHz for 5 s): `dprof record` to a file, and with --flamegraph, in frame-pointer and dwarf
# mode, against `perf record` with the same call graph in the same run; and against a second
# dprof (an older build: BASELINE) when given.
#
#   bench/record_memory.sh BUILD_DIR [RUNS] [BASELINE_DPROF]   (scripts/bench.sh memory runs it)
#
# Each figure is the median of RUNS (default 3) runs, the tools alternating.
set -euo pipefail
build=$1
runs=${2:-3}
baseline=${3:-}
dprof=$build/cli/dprof
target=("$build/samples/cpu_bound_nofp" 5 2)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# peak CMD...: the max RSS of one run in MiB, output discarded.
peak() {
  /usr/bin/time -f "%M" -o "$tmp/rss" "$@" >/dev/null 2>&1
  awk '{ printf "%.1f\n", $1 / 1024 }' "$tmp/rss"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf "%-22s %10s %10s %10s" "call graph, output" "dprof MiB" "perf MiB" "dprof/perf"
[[ -n $baseline ]] && printf " %12s %14s" "baseline MiB" "dprof/baseline"
printf "\n"
for mode in fp dwarf; do
  for out in file flamegraph; do
    extra=()
    [[ $out == flamegraph ]] && extra=(--flamegraph "$tmp/fg.html")
    : >"$tmp/d" >"$tmp/p" >"$tmp/b"
    for ((i = 0; i < runs; i++)); do
      peak "$dprof" record -F 10000 --call-graph "$mode" -o "$tmp/d.data" "${extra[@]}" \
        -- "${target[@]}" >>"$tmp/d"
      peak perf record -q -F 10000 --call-graph "$mode" -o "$tmp/p.data" -- "${target[@]}" \
        >>"$tmp/p"
      if [[ -n $baseline ]]; then
        peak "$baseline" record -F 10000 --call-graph "$mode" -o "$tmp/b.data" "${extra[@]}" \
          -- "${target[@]}" >>"$tmp/b"
      fi
    done
    d=$(median <"$tmp/d")
    p=$(median <"$tmp/p")
    printf "%-22s %10s %10s %10.2f" "$mode, $out" "$d" "$p" "$(awk -v a="$d" -v b="$p" 'BEGIN { print a / b }')"
    if [[ -n $baseline ]]; then
      b=$(median <"$tmp/b")
      printf " %12s %14.2f" "$b" "$(awk -v a="$d" -v b="$b" 'BEGIN { print a / b }')"
    fi
    printf "\n"
  done
done
events=$("$dprof" stat -i "$tmp/d.data" 2>/dev/null | awk '$1 == "event" { n += $3 } END { print n }')
echo "(the last dprof recording held ${events:-?} events)"
