// inlined: hot code the compiler inlines, for symbolizers to unfold.
//
//   inlined [SECONDS]
//
// accumulate() is a real function; mix() and step() are always inlined into it, so nearly every
// sample lands in accumulate()'s machine code while the source says step() <- mix() <-
// accumulate() <- main. A symbolizer that unfolds inline frames shows all three, the inner two
// marked inlined, each with its source line; the marker comments name the lines tests expect.

#include <cstdint>
#include <cstdlib>

#include "samples/monotonic_seconds.h"

namespace {

volatile uint64_t sink;

__attribute__((always_inline)) inline uint64_t step(uint64_t x, uint64_t i) {
  for (uint64_t j = 0; j < 1000; ++j) x = x * 6364136223846793005ull + (x >> 29) + i + j;  // @step
  return x;
}

__attribute__((always_inline)) inline uint64_t mix(uint64_t x, uint64_t i) {
  return step(x, i) ^ (x >> 7);  // @mix-calls-step
}

}  // namespace

extern "C" __attribute__((noinline)) uint64_t accumulate(uint64_t x, uint64_t rounds) {
  for (uint64_t i = 0; i < rounds; ++i) x = mix(x, i);  // @accumulate-calls-mix
  return x;
}

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const double end = MonotonicSeconds() + seconds;
  uint64_t x = 1;
  while (MonotonicSeconds() < end) x = accumulate(x, 1000);
  sink = x;
  return 0;
}
