// cpu_bound: two hot functions in a known 2:1 ratio of CPU time, for profilers to measure.
//
//   cpu_bound [SECONDS] [THREADS]
//   cpu_bound --rounds N [THREADS]     a fixed amount of work instead: N rounds per thread, then
//                                      prints "wall=SECONDS cpu=SECONDS" (its own CPU time)
//
// Each thread repeats rounds of hot_a() then hot_b(); hot_a runs the same loop twice as many
// times as hot_b, so a correct profiler attributes twice as many samples to hot_a. The call
// chain is main -> run -> one_round -> hot_a | hot_b (threads: worker -> run -> ...).
#include <pthread.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "samples/monotonic_seconds.h"

namespace {

constexpr uint64_t kUnit = 200000;  // loop iterations of hot_b per round, on average
volatile uint64_t sink;

// The same dependent chain in both: neither vectorizes nor folds into a closed form.
extern "C" __attribute__((noinline)) uint64_t hot_a(uint64_t x, uint64_t n) {
  for (uint64_t i = 0; i < 2 * n; ++i) x = x * 6364136223846793005ull + (x >> 29) + i;
  return x;
}

extern "C" __attribute__((noinline)) uint64_t hot_b(uint64_t x, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) x = x * 6364136223846793005ull + (x >> 29) + i;
  return x;
}

// A round's length varies (half to one and a half units, from x): rounds of one length would
// repeat in step with a sampler's period and let it see one function more than its share.
extern "C" __attribute__((noinline)) uint64_t one_round(uint64_t x) {
  const uint64_t n = kUnit / 2 + (x >> 40) % kUnit;
  return hot_b(hot_a(x, n), n);
}

extern "C" __attribute__((noinline)) void run(double seconds) {
  const double end = MonotonicSeconds() + seconds;
  uint64_t x = 1;
  while (MonotonicSeconds() < end) x = one_round(x);
  sink = x;
}

__attribute__((noinline)) void run_rounds(long rounds) {
  uint64_t x = 1;
  for (long i = 0; i < rounds; ++i) x = one_round(x);
  sink = x;
}

int FixedWork(long rounds, int threads) {
  const double start = MonotonicSeconds();
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back(run_rounds, rounds);
  run_rounds(rounds);
  for (std::thread& t : workers) t.join();
  const double wall = MonotonicSeconds() - start;
  timespec cpu;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
  std::printf("wall=%.4f cpu=%.4f\n", wall, cpu.tv_sec + cpu.tv_nsec * 1e-9);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 && std::string(argv[1]) == "--rounds") {
    return FixedWork(std::atol(argv[2]), argc > 3 ? std::atoi(argv[3]) : 1);
  }
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back(run, seconds);
  run(seconds);
  for (std::thread& t : workers) t.join();
  std::printf("cpu_bound: %d thread(s) for %.1f s\n", threads, seconds);
  return 0;
}
