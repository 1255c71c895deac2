#include "tracer/internal/event_spec.h"

#include <linux/perf_event.h>

#include <array>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dprof::tracer::internal {
namespace {

struct SoftwareEvent {
  std::string_view name;
  uint64_t config;
};
constexpr std::array<SoftwareEvent, 4> kSoftwareEvents = {{
    {"cpu-clock", PERF_COUNT_SW_CPU_CLOCK},
    {"task-clock", PERF_COUNT_SW_TASK_CLOCK},
    {"page-faults", PERF_COUNT_SW_PAGE_FAULTS},
    {"faults", PERF_COUNT_SW_PAGE_FAULTS},
}};

}  // namespace

absl::StatusOr<EventSpec> ResolveEvent(std::string_view name, const std::string& tracefs_root) {
  for (const SoftwareEvent& e : kSoftwareEvents) {
    if (name == e.name) {
      return EventSpec{.name = std::string(name),
                       .type = PERF_TYPE_SOFTWARE,
                       .config = e.config,
                       .tracepoint = std::nullopt};
    }
  }
  const absl::string_view n(name.data(), name.size());
  if (!absl::StrContains(n, ':')) {
    std::vector<std::string> known;
    for (const SoftwareEvent& e : kSoftwareEvents) known.emplace_back(e.name);
    std::vector<std::string> close = CloseMatches(name, known);
    return absl::NotFoundError(absl::StrCat(
        "unknown event '", n, "'",
        close.empty() ? "" : absl::StrCat("; did you mean ", absl::StrJoin(close, ", "), "?"),
        " (events: cpu-clock, task-clock, page-faults, or a tracepoint system:name; hardware "
        "counters are not supported)"));
  }
  absl::StatusOr<Tracefs> tracefs =
      tracefs_root.empty() ? Tracefs::Find() : absl::StatusOr<Tracefs>(Tracefs(tracefs_root));
  if (!tracefs.ok()) return tracefs.status();
  absl::StatusOr<Tracepoint> tp = tracefs->Load(name);
  if (!tp.ok()) return tp.status();
  EventSpec spec{.name = std::string(name),
                 .type = PERF_TYPE_TRACEPOINT,
                 .config = tp->id,
                 .tracepoint = std::nullopt};
  spec.tracepoint = *std::move(tp);
  return spec;
}

}  // namespace dprof::tracer::internal
