// The library samples/dlopen loads at run time: its hot function is known only after dlopen().
//
// The hot function is compiled as __plugin_hot_impl and exported as plugin_hot too (an alias, as
// C libraries name one function several times: malloc, __libc_malloc): a profiler should show the
// name callers use, plugin_hot. plugin_work calls it through the PLT (it is exported).
#include <cstdint>

namespace {
volatile uint64_t sink;
}

extern "C" __attribute__((noinline)) uint64_t __plugin_hot_impl(uint64_t x) {
  for (uint64_t i = 0; i < 100000; ++i)              // @plugin-loop
    x = x * 2862933555777941757ull + (x >> 31) + i;  // @plugin-hot
  return x;
}
extern "C" uint64_t plugin_hot(uint64_t x) __attribute__((alias("__plugin_hot_impl")));

extern "C" __attribute__((noinline)) void plugin_work(uint64_t rounds) {
  uint64_t x = 1;
  for (uint64_t i = 0; i < rounds; ++i) x = plugin_hot(x);
  sink = x;
}
