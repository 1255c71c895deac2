#include "tracer/internal/attrs.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>

#include "dprof/tracer/perf_abi.h"
#include "tracer/internal/perf_errors.h"
#include "tracer/internal/process.h"

namespace dprof::tracer::internal {

StackMode StackModeOf(CallGraph call_graph, bool native_supported) {
  switch (call_graph) {
    case CallGraph::kNone:
      return StackMode::kNone;
    case CallGraph::kFramePointer:
      return StackMode::kFramePointer;
    case CallGraph::kDwarf:
      return StackMode::kDwarf;
    case CallGraph::kAuto:
      break;
  }
  return native_supported ? StackMode::kNative : StackMode::kDwarf;
}

perf_event_attr MakeAttr(const EventSpec& spec, bool lead, const AttrSettings& settings) {
  perf_event_attr attr = {};
  attr.size = sizeof(attr);
  attr.type = spec.type;
  attr.config = spec.config;
  attr.exclude_kernel = spec.exclude_kernel || settings.user_only;
  attr.exclude_user = spec.exclude_user;
  attr.sample_type = kBaseSampleType;
  if (spec.tracepoint) {
    attr.sample_type |= PERF_SAMPLE_RAW;
    attr.sample_period = 1;
  } else if (settings.period != 0) {
    attr.sample_period = settings.period;
  } else {
    attr.freq = 1;
    attr.sample_freq = settings.frequency;
  }
  if (settings.mode != StackMode::kNone) attr.sample_type |= PERF_SAMPLE_CALLCHAIN;
  if (settings.mode == StackMode::kDwarf) {
    attr.sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
    attr.sample_regs_user = abi::kUserRegsMask;
    attr.sample_stack_user = settings.stack_size;
    attr.exclude_callchain_user = 1;  // dprof unwinds the copy; the kernel need not walk it
  }
  if (settings.mode == StackMode::kNative) {
    abi::SetAttrFlag(attr, abi::kAttrBitDeferCallchain);
    if (lead) abi::SetAttrFlag(attr, abi::kAttrBitDeferOutput);
  }
  attr.sample_id_all = 1;
  attr.use_clockid = 1;
  attr.clockid = CLOCK_MONOTONIC;
  attr.disabled = 1;
  attr.watermark = 1;
  attr.wakeup_watermark = static_cast<uint32_t>(settings.data_bytes / 4);
  if (lead) {
    // Side-band records once per buffer: only the first event asks for them.
    attr.mmap = 1;
    attr.mmap2 = 1;
    attr.comm = 1;
    attr.comm_exec = 1;
    attr.task = 1;
    attr.build_id = settings.build_ids;
    attr.context_switch = settings.off_cpu;
  }
  return attr;
}

size_t DefaultPages(const AttrSettings& settings, size_t page_size) {
  // An eighth of a second of samples at the frequency on one CPU (the most a CPU's clock event
  // makes): room for the reader to be late by that much. Counter and tracepoint rates are not
  // known in advance: the sizes for 999 Hz.
  const bool dwarf = settings.mode == StackMode::kDwarf;
  const uint64_t rate =
      settings.period == 0 && settings.frequency > 0 ? settings.frequency : uint64_t{999};
  // A sample's header, ids, registers and kernel call chain, and its stack copy (dwarf).
  const uint64_t bytes = rate * ((dwarf ? settings.stack_size : 0) + 1024) / 8;
  // The nearest power of two.
  const uint64_t want = std::max<uint64_t>(1, bytes / page_size);
  size_t pages = std::clamp<size_t>(std::bit_floor(want + want / 2), 128, 4096);
  if (geteuid() != 0) {
    // An ordinary user may lock kernel.perf_event_mlock_kb per CPU for ring buffers, and
    // RLIMIT_MEMLOCK beyond that: what fits, less each buffer's metadata page (perf's default
    // for such users is the same 128 pages at the usual limits).
    const uint64_t cpus = std::max<size_t>(1, OnlineCpus().size());
    rlimit limit = {};
    getrlimit(RLIMIT_MEMLOCK, &limit);
    const uint64_t shared =
        limit.rlim_cur == RLIM_INFINITY ? uint64_t{1} << 30 : limit.rlim_cur / page_size / cpus;
    const uint64_t budget =
        static_cast<uint64_t>(ReadSysctl("kernel/perf_event_mlock_kb", 516)) * 1024 / page_size +
        shared - 1;
    pages = std::min<size_t>(pages, std::bit_floor(std::max<uint64_t>(budget, 1)));
  }
  return pages;
}

}  // namespace dprof::tracer::internal
