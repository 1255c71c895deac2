#include "dprof/event/event.h"

#include <time.h>

#include <iterator>

#include "absl/strings/str_cat.h"
#include "dprof/unwind/snapshot.h"

namespace dprof::event {

absl::StatusOr<uint32_t> CheckStackSize(uint32_t bytes) {
  if (bytes < 8 || bytes > unwind::kMaxStackCopy) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stack size ", bytes, " is out of range; use 8 to ", unwind::kMaxStackCopy, " bytes"));
  }
  return bytes & ~7u;
}

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

std::string_view TracerStatName(TracerStat stat) {
  static constexpr std::string_view kNames[] = {
      "samples",           "tracepoint hits",     "off-cpu intervals",
      "lost records",      "lost samples",        "throttled",
      "unthrottled",       "dropped snapshots",   "truncated snapshots",
      "no user context",   "deferred callchains", "unknown records",
      "malformed records", "foreign records",     "corrupt bytes",
      "filtered out",      "threads not sampled",
  };
  static_assert(std::size(kNames) == kNumTracerStats);
  return kNames[static_cast<int>(stat)];
}

}  // namespace dprof::event
