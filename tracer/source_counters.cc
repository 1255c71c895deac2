#include "tracer/internal/source_counters.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include "dprof/sync/mutex.h"

namespace dprof::tracer::internal {

event::TracerStats SourceCounters::Stats(const unwind::DeferredUnwinder* engine,
                                         const stackdepot::Depot* depot) const {
  event::TracerStats out;
  for (int i = 0; i < event::kNumTracerStats; ++i) {
    out.values[i] = values_[i].load(std::memory_order_relaxed);
  }
  {
    sync::MutexLock lock(&threads_mu_);
    out.threads = threads_;
  }
  if (engine != nullptr) out.engine = engine->Stats();
  if (depot != nullptr) out.depot = depot->Stats();
  return out;
}

StopRequest::StopRequest() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

StopRequest::~StopRequest() {
  if (fd_ >= 0) close(fd_);
}

void StopRequest::Request() {
  // Release; pairs with the acquire load in requested().
  stop_.store(true, std::memory_order_release);
  if (fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(fd_, &one, sizeof(one));
  }
}

}  // namespace dprof::tracer::internal
