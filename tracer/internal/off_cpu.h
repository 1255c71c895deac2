// Off-CPU intervals from sched_switch: a thread leaves the CPU (the sched_switch tracepoint fires
// in its context, with its kernel stack and user registers) and comes back later (a
// PERF_RECORD_SWITCH "in" for it). The interval's stacks are the ones at the switch-out.
#ifndef DPROF_TRACER_INTERNAL_OFF_CPU_H_
#define DPROF_TRACER_INTERNAL_OFF_CPU_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "dprof/event/event.h"

namespace dprof::tracer::internal {

class OffCpuTracker {
 public:
  // `out` is the event the switch-out sample became (stacks, cookie, time). Frames the depot
  // refused (out.kernel_pcs, out.user_pcs) are copied: they outlive the sample.
  void SwitchedOut(const event::TraceEvent& out) {
    Pending& p = pending_[out.tid];
    p.event = out;
    p.event.kind = event::EventKind::kOffCpu;
    p.event.raw = {};
    p.kernel.assign(out.kernel_pcs.begin(), out.kernel_pcs.end());
    p.user.assign(out.user_pcs.begin(), out.user_pcs.end());
  }

  // Calls `fn` with the interval that ends now, if the thread's switch-out was seen.
  void SwitchedIn(uint32_t tid, uint64_t time_ns,
                  absl::FunctionRef<void(const event::TraceEvent&)> fn) {
    auto it = pending_.find(tid);
    if (it == pending_.end()) return;
    fn(it->second.Ending(time_ns));
    pending_.erase(it);
  }

  void Exited(uint32_t tid) { pending_.erase(tid); }

  // Threads still off the CPU when recording ends: their intervals end at `time_ns`.
  void CloseAll(uint64_t time_ns, absl::FunctionRef<void(const event::TraceEvent&)> fn) {
    for (auto& [tid, p] : pending_) fn(p.Ending(time_ns));
    pending_.clear();
  }

 private:
  struct Pending {
    event::TraceEvent event;
    std::vector<uint64_t> kernel;
    std::vector<uint64_t> user;

    // The interval, from the switch-out to `time_ns`.
    event::TraceEvent Ending(uint64_t time_ns) const {
      event::TraceEvent e = event;
      e.weight = time_ns > e.time_ns ? time_ns - e.time_ns : 0;
      e.kernel_pcs = kernel;
      e.user_pcs = user;
      return e;
    }
  };
  absl::flat_hash_map<uint32_t, Pending> pending_;
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_OFF_CPU_H_
