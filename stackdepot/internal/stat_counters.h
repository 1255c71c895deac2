// Event counters of the stack depot, striped so that threads counting hits on the hot path do not
// bounce one cache line between cores. Internal to stackdepot/.
#ifndef DPROF_STACKDEPOT_INTERNAL_STAT_COUNTERS_H_
#define DPROF_STACKDEPOT_INTERNAL_STAT_COUNTERS_H_

#include <atomic>
#include <cstdint>

#include "dprof/stackdepot/depot.h"

namespace dprof::stackdepot::internal {

class StatCounters {
 public:
  // Context: any thread; lock-free, allocation-free.
  void Add(Stat stat, uint64_t n = 1) {
    // Relaxed: counters order nothing; Sum() is a snapshot, not a synchronization point.
    stripes_[ThisThreadStripe()].values[static_cast<int>(stat)].fetch_add(
        n, std::memory_order_relaxed);
  }

  uint64_t Sum(Stat stat) const {
    uint64_t total = 0;
    for (const Stripe& s : stripes_) {
      total += s.values[static_cast<int>(stat)].load(std::memory_order_relaxed);
    }
    return total;
  }

 private:
  static constexpr int kStripes = 16;
  struct alignas(64) Stripe {
    std::atomic<uint64_t> values[kNumStats] = {};
  };

  static int ThisThreadStripe() {
    static std::atomic<unsigned> next{0};
    thread_local const int stripe =
        static_cast<int>(next.fetch_add(1, std::memory_order_relaxed) % kStripes);
    return stripe;
  }

  Stripe stripes_[kStripes];
};

}  // namespace dprof::stackdepot::internal

#endif  // DPROF_STACKDEPOT_INTERNAL_STAT_COUNTERS_H_
