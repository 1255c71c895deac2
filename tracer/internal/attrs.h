// What the tracer asks perf_event_open for: each event's perf_event_attr, and the size of the
// ring buffers, from the options and what this kernel allows.
//
// Example:
//   const AttrSettings settings{.mode = StackMode::kDwarf, .frequency = 999, .stack_size = 8192,
//                               .data_bytes = 512 * 4096};
//   perf_event_attr lead = MakeAttr(spec, /*lead=*/true, settings);  // with side-band records
//   size_t pages = DefaultPages(settings, /*page_size=*/4096);
//
// Context: plain functions.
#ifndef DPROF_TRACER_INTERNAL_ATTRS_H_
#define DPROF_TRACER_INTERNAL_ATTRS_H_

#include <linux/perf_event.h>

#include <cstddef>
#include <cstdint>

#include "dprof/tracer/tracer.h"
#include "tracer/internal/event_spec.h"

namespace dprof::tracer::internal {

// Where user stacks come from, once the options' call graph met this kernel.
enum class StackMode {
  kNone,          // no call chains
  kFramePointer,  // the kernel walks user frame pointers (inline in each sample)
  kDwarf,         // user registers and a stack copy, unwound by the engine
  kNative,        // the kernel's deferred callchains (CallGraph::kAuto on Linux 6.19+)
};
// kAuto is native where the kernel has deferred callchains, dwarf elsewhere.
StackMode StackModeOf(CallGraph call_graph, bool native_supported);

// The sample fields every event asks for; call chains, registers and stack copies come on top.
inline constexpr uint64_t kBaseSampleType = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP |
                                            PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
                                            PERF_SAMPLE_PERIOD;

struct AttrSettings {
  StackMode mode = StackMode::kNone;
  bool user_only = false;    // exclude_kernel on every event (kernel.perf_event_paranoid 2)
  bool build_ids = true;     // MMAP2 records with build-ids (Linux 5.12+)
  bool off_cpu = false;      // context-switch records, for off-CPU intervals
  uint64_t frequency = 999;  // samples per second, when period is 0
  uint64_t period = 0;       // events per sample
  uint32_t stack_size = 0;   // bytes of user stack per sample (kDwarf)
  size_t data_bytes = 0;     // each ring buffer's data area
};

// The attr of one event, disabled, on CLOCK_MONOTONIC. The `lead` event of a buffer also asks for
// the side-band records (mappings, names, tasks, context switches) and, natively, for the
// deferred callchain records; tracepoints sample every hit.
perf_event_attr MakeAttr(const EventSpec& spec, bool lead, const AttrSettings& settings);

// Ring buffer data pages (a power of two) for the rate and size of samples the settings make:
// an eighth of a second of samples on one CPU, 128 to 4096 pages; for a user other than root,
// no more than kernel.perf_event_mlock_kb and RLIMIT_MEMLOCK let it lock.
size_t DefaultPages(const AttrSettings& settings, size_t page_size);

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_ATTRS_H_
