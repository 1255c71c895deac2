#include "samples/embed_workload/workload.h"

#include <stdint.h>
#include <time.h>

enum { kUnit = 200000 }; /* loop iterations of hot_b per round, on average */
static volatile uint64_t sink;

static double monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The same dependent chain in both: neither vectorizes nor folds into a closed form. */
__attribute__((noinline)) uint64_t hot_a(uint64_t x, uint64_t n) {
  for (uint64_t i = 0; i < 2 * n; ++i) x = x * 6364136223846793005ull + (x >> 29) + i;
  return x;
}

__attribute__((noinline)) uint64_t hot_b(uint64_t x, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) x = x * 6364136223846793005ull + (x >> 29) + i;
  return x;
}

/* A round's length varies (half to one and a half units, from x): rounds of one length repeat in
 * step with a sampler's period and let it see one function more than its share. */
__attribute__((noinline)) unsigned long long one_round(unsigned long long x) {
  const uint64_t n = kUnit / 2 + (x >> 40) % kUnit;
  return hot_b(hot_a(x, n), n);
}

void workload_run(double seconds) {
  const double end = monotonic_seconds() + seconds;
  unsigned long long x = 1;
  while (monotonic_seconds() < end) x = one_round(x);
  sink = x;
}
