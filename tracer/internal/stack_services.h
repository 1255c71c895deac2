// The stack depot and the deferred unwind engine a sampler saves stacks in and asks for user
// stacks: the caller's, or its own. Shared by Tracer and TimerSampler.
#ifndef DPROF_TRACER_INTERNAL_STACK_SERVICES_H_
#define DPROF_TRACER_INTERNAL_STACK_SERVICES_H_

#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "dprof/event/event.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/unwind/deferred_unwinder.h"
#include "tracer/internal/source_counters.h"

namespace dprof::tracer::internal {

class StackServices {
 public:
  StackServices() = default;
  // Cancels the sink's work: no user stack reaches the sink after this.
  ~StackServices();
  StackServices(const StackServices&) = delete;
  StackServices& operator=(const StackServices&) = delete;

  // `depot`, or a depot of its own when null.
  absl::Status InitDepot(stackdepot::Depot* depot);
  // `engine` (or its own DWARF engine with `workers` threads when null), with a work that passes
  // every trace to `sink` (tagged event::kUserStackTag), requested together with `shared` works,
  // which must be registered on the given `engine`.
  absl::Status InitEngine(unwind::DeferredUnwinder* engine, int workers,
                          std::span<const unwind::UnwindWork> shared, event::TraceSink* sink);

  // Saves `frames` tagged `tag` (event::kKernelStackTag, event::kUserStackTag): the handle, or
  // kNoHandle when there were none or the depot refused them (its stats count why).
  stackdepot::Handle Save(std::span<const uint64_t> frames, uint32_t tag) const;

  // What both samplers do with a user stack snapshot (dwarf): ask every work for the unwind of
  // `context`, and give `e` the outcome (kDeferred with the cookie, kDropped, or kMissing).
  // Truncated copies (`truncated`: the copy filled the size asked for) and dropped snapshots are
  // counted in `counters`, for the run and the thread.
  void RequestUserStack(const unwind::TaskContext& context, bool truncated,
                        SourceCounters* counters, event::TraceEvent* e) const;

  // Everything counted so far, with the engine's and the depot's counters.
  event::TracerStats Stats(const SourceCounters& counters) const {
    return counters.Stats(engine_, depot_);
  }

  stackdepot::Depot* depot() const { return depot_; }
  unwind::DeferredUnwinder* engine() const { return engine_; }
  // The sink's work first, then the shared ones: what every request names.
  std::span<const unwind::UnwindWork> works() const { return works_; }

 private:
  stackdepot::Depot* depot_ = nullptr;
  std::unique_ptr<stackdepot::Depot> own_depot_;
  unwind::DeferredUnwinder* engine_ = nullptr;
  std::unique_ptr<unwind::DeferredUnwinder> own_engine_;
  std::vector<unwind::UnwindWork> works_;
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_STACK_SERVICES_H_
