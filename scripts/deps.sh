#!/usr/bin/env bash
# Installs every Debian package dprof's build, tests and benchmarks need.
# Idempotent: prints nothing and changes nothing when all of them are present.
# The README's "Dependencies" section says why each package is here.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  # libraries (README.md "Dependencies")
  libdw-dev libelf-dev libunwind-dev libabsl-dev liburcu-dev linux-libc-dev
  libcli11-dev libzstd-dev zlib1g-dev libprotobuf-dev protobuf-compiler libcurl4-openssl-dev
  # tests and benchmarks; linux-perf is the baseline the tracer benchmark compares against
  googletest libgtest-dev libgmock-dev libbenchmark-dev linux-perf
  # the HTML flame graph test drives the page in headless Chromium; the reader's fuzz target
  # is built with clang and libFuzzer
  chromium clang libclang-rt-14-dev
  # the real-program tier (tests/realworld) records programs nobody here wrote, with dprof and
  # with perf: a pre-fork server under load, a database, compression, an interpreter
  nginx-light apache2-utils sqlite3 xz-utils python3
  # bench/record_memory.sh reads peak memory with GNU time
  time
  # pprof files are checked by Go's own pprof (go tool pprof); symbols by a local debuginfod
  golang-go debuginfod
)

# speedscope's app (tests/cli/speedscope) is installed with npm from its lock file; a machine
# whose Node.js came from elsewhere (NodeSource) keeps it.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "deps.sh: missing packages (${missing[*]}); run this script as root to install them" >&2
    exit 1
  fi
else
  sudo=()
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
