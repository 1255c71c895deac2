// What both samplers (Tracer, TimerSampler) keep while they run: their counters, per run and per
// thread, and the stop request that ends Run().
#ifndef DPROF_TRACER_INTERNAL_SOURCE_COUNTERS_H_
#define DPROF_TRACER_INTERNAL_SOURCE_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "dprof/event/event.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/sync/mutex.h"
#include "dprof/unwind/deferred_unwinder.h"

namespace dprof::tracer::internal {

// Counters written by the sampler's threads and read by anyone (a status line) through Stats().
class SourceCounters {
 public:
  // Relaxed: counters, read for their values.
  void Count(event::TracerStat s, uint64_t n = 1) {
    values_[static_cast<int>(s)].fetch_add(n, std::memory_order_relaxed);
  }
  template <typename F>
  void CountThread(uint32_t tid, F&& f) {
    sync::MutexLock lock(&threads_mu_);
    f(threads_[tid]);
  }
  // Everything so far, with the counters of `engine` and `depot` (those that are not null).
  event::TracerStats Stats(const unwind::DeferredUnwinder* engine,
                           const stackdepot::Depot* depot) const;

 private:
  std::array<std::atomic<uint64_t>, event::kNumTracerStats> values_{};
  mutable sync::Mutex threads_mu_;
  absl::flat_hash_map<uint32_t, event::ThreadStats> threads_ ABSL_GUARDED_BY(threads_mu_);
};

// The request that ends Run(): a flag, and an eventfd that wakes the loop waiting on it.
class StopRequest {
 public:
  StopRequest();
  ~StopRequest();
  StopRequest(const StopRequest&) = delete;
  StopRequest& operator=(const StopRequest&) = delete;

  // Context: any thread; async-signal-safe.
  void Request();
  // Acquire; pairs with the release store in Request().
  bool requested() const { return stop_.load(std::memory_order_acquire); }
  // Readable once Request() was called; -1 when no eventfd could be made (then only polled).
  int fd() const { return fd_; }

 private:
  std::atomic<bool> stop_{false};
  int fd_ = -1;
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_SOURCE_COUNTERS_H_
