#!/usr/bin/env bash
# Runs the dprof binary and checks exit codes and the key words of what it prints.
# usage: cli_test.sh <dprof> <version>
set -u
dprof=$1 version=$2
failures=0

# expect <exit code> <regex the output must match> <args...>
expect() {
  local code=$1 pattern=$2
  shift 2
  local out rc
  out=$("$dprof" "$@" 2>&1)
  rc=$?
  if [[ $rc -ne $code ]]; then
    echo "FAIL: dprof $*: exit $rc, expected $code; output: $out"
    failures=$((failures + 1))
  elif ! grep -Eq -- "$pattern" <<<"${out//$'\n'/ }"; then  # one line: patterns may span several
    echo "FAIL: dprof $*: output does not match /$pattern/: $out"
    failures=$((failures + 1))
  fi
}

expect 0 "^dprof ${version//./\\.}\$" --version
expect 0 "Usage:.*dprof" --help
expect 0 "help.*Show help" help
expect 0 "Usage:.*help" help help
expect 2 "no command 'frobnicate'.*dprof help" help frobnicate
expect 2 "unknown command .frobnicate.*dprof help" frobnicate
expect 2 "dprof: .*subcommand.*dprof --help"
# Every command has -h and a help page with its flags and examples.
expect 0 "Usage:.*record.*--call-graph.*--off-cpu.*--flamegraph.*Examples:" record -h
expect 0 "Usage: dprof report.*--sort.*--top.*--folded.*--stats.*--no-kernel.*Examples:" help report
expect 0 "Usage:.*flamegraph.*--title.*--reverse.*--diff.*--off-cpu.*Examples:" flamegraph --help
expect 0 "Usage: dprof export.*--format.*pprof.*Examples:" help export
expect 0 "Usage:.*stat.*--input.*Examples:" stat -h
expect 0 "record.*report.*flamegraph.*export.*stat" --help
expect 2 "dprof: .*--frobnicate.*dprof report --help" report --frobnicate
expect 2 "record has no option --frobnicate; run 'dprof record --help'" record --frobnicate ./app
expect 2 "--call-graph takes MODE or dwarf,BYTES, not 'fp,4096'" record --call-graph fp,4096 ./app
expect 2 "--stack-size: Value 4 not in range 8 to 65528" record --stack-size 4 ./app
expect 2 "--event excludes --on-cpu" report --event cpu-clock --on-cpu
# An output that would overwrite the recording is refused before anything is read or recorded.
expect 2 "refusing to write app.data: it is the recording app.data; choose another -o" \
  flamegraph -i app.data -o app.data
expect 2 "refusing to write app.data: it is the recording app.data; choose another -o" \
  export -i app.data --format pprof -o app.data
expect 2 "refusing to write x.data: it is the recording x.data; choose another --flamegraph" \
  record -o x.data --flamegraph x.data ./app

exit $((failures > 0))
