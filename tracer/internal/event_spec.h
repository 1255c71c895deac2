// Event names the tracer accepts, and what perf_event_open needs for each.
#ifndef DPROF_TRACER_INTERNAL_EVENT_SPEC_H_
#define DPROF_TRACER_INTERNAL_EVENT_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dprof/tracer/tracepoint.h"

namespace dprof::tracer::internal {

struct EventSpec {
  std::string name;     // as given, with its modifiers ("cpu-clock:u")
  uint32_t type = 0;    // PERF_TYPE_*
  uint64_t config = 0;  // PERF_COUNT_SW_* or the tracepoint id
  std::optional<Tracepoint> tracepoint = {};
  // perf's modifiers: ":u" counts user space only, ":k" the kernel only (both: both).
  bool exclude_user = false;
  bool exclude_kernel = false;
};

// "cpu-clock", "task-clock", "page-faults" (or "faults"), or a tracepoint "system:name" read
// from tracefs (found under `tracefs_root`, or looked for when empty), each optionally with
// perf's modifiers after a colon: u and k (user, kernel), and p, P, h, G, H, accepted and
// without effect on these software events (precision, hypervisor, guest, host). Unknown names
// fail with NotFound listing close matches: events for a name without a system, tracepoints for
// "system:name".
absl::StatusOr<EventSpec> ResolveEvent(std::string_view name, const std::string& tracefs_root);

// The name perf gives an event of `type` and `config` that has no other (a perf.data file without
// event names): a software event's or a generic hardware event's ("cycles"), else
// "raw:TYPE:0xCONFIG".
std::string DefaultEventName(uint32_t type, uint64_t config);

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_EVENT_SPEC_H_
