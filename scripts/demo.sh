#!/usr/bin/env bash
# Installs what is missing, builds dprof, and profiles a bundled sample program with it:
# samples/cpu_bound (two threads, hot_a twice as hot as hot_b, built without frame pointers, so
# the user stacks come from dprof's DWARF unwinding) under `dprof record`, then prints the report
# and writes an interactive flame graph. Everything goes to build/demo/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scripts/deps.sh
section "build"
configure build
cmake --build build -j "$jobs" --target dprof_cli cpu_bound_nofp
ensure_tracefs

demo=$root/build/demo
mkdir -p "$demo"
cd "$demo"
section "dprof record -- cpu_bound_nofp 3 2"
"$root"/build/cli/dprof record -o dprof.data -- "$root"/build/samples/cpu_bound_nofp 3 2
section "dprof report --top 15"
"$root"/build/cli/dprof report -i dprof.data --top 15
section "dprof flamegraph"
"$root"/build/cli/dprof flamegraph -i dprof.data -o flamegraph.html
echo
echo "The flame graph is $demo/flamegraph.html: open it in a browser (click to zoom, search)."
echo "The recording is $demo/dprof.data: try 'build/cli/dprof report -i $demo/dprof.data --sort total'."
