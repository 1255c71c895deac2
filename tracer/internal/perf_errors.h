// Turning perf_event errors into messages that say what to do.
#ifndef DPROF_TRACER_INTERNAL_PERF_ERRORS_H_
#define DPROF_TRACER_INTERNAL_PERF_ERRORS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace dprof::tracer::internal {

// An integer sysctl under /proc/sys (e.g. "kernel/perf_event_paranoid"), or `fallback`.
int64_t ReadSysctl(std::string_view name, int64_t fallback);

struct OpenContext {
  std::string_view event;  // the event's name
  bool system_wide = false;
  bool tracepoint = false;
};

// perf_event_open failed with errno `err`.
absl::Status OpenError(int err, const OpenContext& context);
// Mapping a ring buffer of `bytes` failed with errno `err`.
absl::Status MapError(int err, size_t bytes);
// `frequency` is above the kernel's limit, or Ok.
absl::Status CheckFrequency(uint64_t frequency);

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_PERF_ERRORS_H_
