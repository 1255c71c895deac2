// The stacks of a perf sample as the tracer's call-graph mode gives them: its kernel call chain
// saved in the depot, and its user half attached to the event — the frames the kernel walked
// (frame pointers), the kernel's cookie (native deferred callchains), or a dwarf snapshot asked of
// the unwind engine under the cookie of the sample's kernel entry.
//
// Example:
//   SampleStacks stacks(StackMode::kDwarf, &services, &tracker, &counters);
//   event::TraceEvent e{...};
//   stacks.Attach(sample, space_of_pid, &e);
//
// Context: the tracer's reader thread.
#ifndef DPROF_TRACER_INTERNAL_SAMPLE_STACKS_H_
#define DPROF_TRACER_INTERNAL_SAMPLE_STACKS_H_

#include <cstdint>
#include <memory>

#include "absl/functional/function_ref.h"
#include "dprof/cookie/context_tracker.h"
#include "dprof/event/event.h"
#include "dprof/tracer/records.h"
#include "dprof/unwind/address_space.h"
#include "dprof/unwind/deferred_unwinder.h"
#include "tracer/internal/attrs.h"
#include "tracer/internal/source_counters.h"
#include "tracer/internal/stack_services.h"

namespace dprof::tracer::internal {

class SampleStacks {
 public:
  // None of them owned; all must outlive this. `records_last`: a sample attached without a buffer
  // lies in memory that outlives the unwind engine's next Flush() (a mapped perf.data file), and
  // the engine reads its stack in place.
  SampleStacks(StackMode mode, StackServices* services, cookie::ContextTracker* tracker,
               SourceCounters* counters, bool records_last = false)
      : mode_(mode),
        services_(services),
        tracker_(tracker),
        counters_(counters),
        records_last_(records_last) {}

  // Gives `e` the kernel stack of `s` (its handle, or its frames when the depot refused them) and
  // its user stack. A sample without a user context (a kernel thread; no user frames walked; no
  // registers or stack copied) is counted as kNoUserContext; one with registers and no stack
  // bytes is kMissing. `space_of` gives the address space of a pid (dwarf requests carry it).
  // `buffer`, when given, holds `s` and may be taken by the engine instead of copying the stack.
  void Attach(const SampleRecord& s,
              absl::FunctionRef<std::shared_ptr<const unwind::AddressSpace>(uint32_t)> space_of,
              event::TraceEvent* e, unwind::StackBuffer* buffer = nullptr);

 private:
  // The user frames the kernel walked: inline in the event.
  void AttachInline(std::span<const uint64_t> user, event::TraceEvent* e);

  StackMode mode_;
  StackServices* services_;
  cookie::ContextTracker* tracker_;
  SourceCounters* counters_;
  bool records_last_;
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_SAMPLE_STACKS_H_
