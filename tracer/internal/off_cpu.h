// Off-CPU intervals from sched_switch: a thread leaves the CPU (the sched_switch tracepoint fires
// in its context, with its kernel stack and user registers) and comes back later (a
// PERF_RECORD_SWITCH "in" for it). The interval's stacks are the ones at the switch-out.
#ifndef DPROF_TRACER_INTERNAL_OFF_CPU_H_
#define DPROF_TRACER_INTERNAL_OFF_CPU_H_

#include <cstdint>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "dprof/tracer/tracer.h"

namespace dprof::tracer::internal {

class OffCpuTracker {
 public:
  // `out` is the event the switch-out sample became (stacks, cookie, time).
  void SwitchedOut(const event::TraceEvent& out) {
    event::TraceEvent& pending = pending_[out.tid];
    pending = out;
    pending.kind = event::EventKind::kOffCpu;
    pending.raw = {};
  }

  // The interval that ends now, if the thread's switch-out was seen.
  std::optional<event::TraceEvent> SwitchedIn(uint32_t tid, uint64_t time_ns) {
    auto it = pending_.find(tid);
    if (it == pending_.end()) return std::nullopt;
    event::TraceEvent e = it->second;
    pending_.erase(it);
    e.weight = time_ns > e.time_ns ? time_ns - e.time_ns : 0;
    return e;
  }

  void Exited(uint32_t tid) { pending_.erase(tid); }

  // Threads still off the CPU when recording ends: their intervals end at `time_ns`.
  void CloseAll(uint64_t time_ns, absl::FunctionRef<void(const event::TraceEvent&)> fn) {
    for (auto& [tid, e] : pending_) {
      e.weight = time_ns > e.time_ns ? time_ns - e.time_ns : 0;
      fn(e);
    }
    pending_.clear();
  }

 private:
  absl::flat_hash_map<uint32_t, event::TraceEvent> pending_;
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_OFF_CPU_H_
