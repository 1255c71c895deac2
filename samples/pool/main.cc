// pool: a thread-pool server's load: THREADS threads, each spinning a million iterations in
// pool_work() and then sleeping 20 ms, over and over for SECONDS.
//
//   pool THREADS [SECONDS]
//
// With more threads than CPUs the machine is busy all the time, and a profiler's own threads get
// their fair share of it only: what a recording of many busy threads must cope with.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "samples/monotonic_seconds.h"

namespace {

volatile uint64_t sink;

}  // namespace

extern "C" __attribute__((noinline)) void pool_work() {
  uint64_t x = 1;
  for (int i = 0; i < 1'000'000; ++i) x = x * 6364136223846793005ull + (x >> 29) + i;
  sink = x;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const int threads = std::atoi(argv[1]);
  const double seconds = argc > 2 ? std::atof(argv[2]) : 2;
  const double end = MonotonicSeconds() + seconds;
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([end] {
      while (MonotonicSeconds() < end) {
        pool_work();
        usleep(20000);
      }
    });
  }
  for (std::thread& t : pool) t.join();
  return 0;
}
