// Reading what a sample carries about its stacks: the kernel and user parts of its call chain,
// its user registers in the unwinders' (DWARF) numbering, and what the unwind engine made of it.
#ifndef DPROF_TRACER_INTERNAL_CALLCHAIN_H_
#define DPROF_TRACER_INTERNAL_CALLCHAIN_H_

#include <cstdint>
#include <span>

#include "dprof/tracer/records.h"
#include "dprof/tracer/tracer.h"
#include "dprof/unwind/deferred_unwinder.h"
#include "dprof/unwind/registers.h"

namespace dprof::tracer::internal {

struct Callchain {
  std::span<const uint64_t> kernel;  // after PERF_CONTEXT_KERNEL, up to the next marker
  std::span<const uint64_t> user;    // after PERF_CONTEXT_USER (frame-pointer mode)
  uint64_t deferred_cookie = 0;      // after PERF_CONTEXT_USER_DEFERRED (native), else 0
};

// Splits a PERF_SAMPLE_CALLCHAIN array at its context markers. Frames outside a kernel or user
// context (guest, hypervisor) are left out.
Callchain SplitCallchain(std::span<const uint64_t> chain);

// `chain` without its context markers (a PERF_RECORD_CALLCHAIN_DEFERRED's ips), written into
// `out`; returns how many.
size_t StripMarkers(std::span<const uint64_t> chain, std::span<uint64_t> out);

// The sample's user registers, as the unwinders number them; none valid without user registers.
unwind::Registers ToDwarfRegisters(const SampleRecord& sample);

// What an event's user stack becomes after the engine answered its request.
event::UserStack UserStackOf(unwind::RequestStatus status);

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_CALLCHAIN_H_
