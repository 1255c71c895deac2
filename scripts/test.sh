#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. the normal build: every ctest label (unit, concurrency, perf, tool)
#   2. an ASan + UBSan build: the unit, concurrency and perf tests
#   3. a TSan build: the concurrency tests
#   4. a clang Debug build, where -Wthread-safety checks every lock annotation (warnings are
#      errors): the unit tests
#   5. a fuzz build (clang, libFuzzer, ASan + UBSan): the recording reader and the perf.data reader
#      fuzzed for DPROF_FUZZ_SECONDS each (default 120), seeded with the recordings and the
#      perf.data files the perf tests left
# Exits non-zero on the first failure. Build trees: build/, build-asan/, build-tsan/, build-clang/,
# build-fuzz/.
# DPROF_STRESS_OPS changes the stress tests' operation count (default 10 million).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

section "dependencies"
scripts/deps.sh
ensure_tracefs

section "build"
configure build
cmake --build build -j "$jobs"
section "tests"
ctest --test-dir build --output-on-failure -j "$jobs"

# Sanitizer trees build the library, its tests and the programs the tests run.
sanitizer_tree=(-DDPROF_BUILD_BENCH=OFF -DDPROF_BUILD_CLI=OFF)

section "ASan + UBSan build"
configure build-asan -DDPROF_SANITIZE=address "${sanitizer_tree[@]}"
cmake --build build-asan -j "$jobs"
section "ASan + UBSan tests (unit, concurrency, perf)"
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L 'unit|concurrency|perf' --output-on-failure -j "$jobs"

section "TSan build"
configure build-tsan -DDPROF_SANITIZE=thread "${sanitizer_tree[@]}"
cmake --build build-tsan -j "$jobs"
section "TSan tests (concurrency)"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp \
  ctest --test-dir build-tsan -L concurrency --output-on-failure -j "$jobs"

section "clang Debug build (thread-safety analysis)"
configure build-clang -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Debug -DDPROF_BUILD_BENCH=OFF
cmake --build build-clang -j "$jobs"
section "clang Debug tests (unit)"
ctest --test-dir build-clang -L unit --output-on-failure -j "$jobs"

section "fuzz build (clang, libFuzzer)"
configure build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDPROF_SANITIZE=fuzzer \
  -DDPROF_WERROR=OFF -DDPROF_BUILD_TESTS=OFF -DDPROF_BUILD_BENCH=OFF -DDPROF_BUILD_CLI=OFF \
  -DDPROF_BUILD_SAMPLES=OFF
cmake --build build-fuzz -j "$jobs" --target recording_reader_fuzz perf_data_fuzz
fuzz_seconds=${DPROF_FUZZ_SECONDS:-120}
section "fuzz the recording reader (${fuzz_seconds} s)"
corpus=build-fuzz/corpus
mkdir -p "$corpus"
cp build/tests/artifacts/recordings/*.dprof tests/data/recordings/*.dprof "$corpus"/ 2>/dev/null || true
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-fuzz/tests/fuzz/recording_reader_fuzz "$corpus" -max_total_time="$fuzz_seconds" \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

section "fuzz the perf.data reader (${fuzz_seconds} s)"
perf_corpus=build-fuzz/perf-data-corpus
mkdir -p "$perf_corpus"
cp build/tests/artifacts/perf-data/* "$perf_corpus"/ 2>/dev/null || true
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-fuzz/tests/fuzz/perf_data_fuzz "$perf_corpus" -max_total_time="$fuzz_seconds" \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

section "all tests passed"
