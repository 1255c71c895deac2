#include <sched.h>
#include <unistd.h>

#include "dprof/cookie/cookie.h"

namespace dprof::cookie {
namespace {

size_t ConfiguredCpus() {
  const long n = sysconf(_SC_NPROCESSORS_CONF);
  return n > 0 ? static_cast<size_t>(n) : 1;
}

// sched_getcpu() reads the vDSO or rseq area: async-signal-safe.
int CurrentCpu() { return sched_getcpu(); }

}  // namespace

CookieAllocator::CookieAllocator()
    : owned_(new CpuCounter[ConfiguredCpus()]),
      counters_(owned_.get(), ConfiguredCpus()),
      cpu_source_(&CurrentCpu) {}

CookieAllocator::CookieAllocator(std::span<CpuCounter> counters, CpuSource cpu_source)
    : counters_(counters), cpu_source_(cpu_source) {}

Cookie CookieAllocator::Next() {
  const int cpu = cpu_source_();
  return cpu < 0 ? kNoCookie : NextOn(static_cast<uint32_t>(cpu));
}

Cookie CookieAllocator::NextOn(uint32_t cpu) {
  if (cpu >= counters_.size() || cpu >= 0x7ffffffe) return kNoCookie;
  // Relaxed: the counter only has to hand out distinct values; fetch_add's atomicity does that
  // across threads and signal handlers alike. Nothing is published through it.
  const uint32_t counter = counters_[cpu].value.fetch_add(2, std::memory_order_relaxed) + 2;
  return MakeCookie(cpu, counter) | kDprofMade;
}

}  // namespace dprof::cookie
