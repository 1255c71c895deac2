#include "tracer/internal/event_spec.h"

#include <linux/perf_event.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <utility>

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

bool IsSoftwareEvent(std::string_view name) {
  return std::any_of(kSoftwareEvents.begin(), kSoftwareEvents.end(),
                     [&](const SoftwareEvent& e) { return e.name == name; });
}

// Whether tracefs has a tracepoint system `system` (unknown when tracefs cannot be found: no).
bool IsTracepointSystem(std::string_view system, const std::string& tracefs_root) {
  std::string root = tracefs_root;
  if (root.empty()) {
    absl::StatusOr<Tracefs> found = Tracefs::Find();
    if (!found.ok()) return false;
    root = found->root();
  }
  struct stat st = {};
  return system.find('/') == std::string_view::npos && system != "." && system != ".." &&
         stat(absl::StrCat(root, "/events/", std::string(system)).c_str(), &st) == 0 &&
         S_ISDIR(st.st_mode);
}

// Splits perf's modifiers off `name` ("cpu-clock:u", "sched:sched_switch:k"): the rest, and the
// modifiers (empty when there are none). A last part of modifier letters is modifiers, unless
// what comes before it is a tracepoint system ("sched:u" would name a tracepoint).
std::pair<std::string_view, std::string_view> SplitModifiers(std::string_view name,
                                                             const std::string& tracefs_root) {
  const size_t colon = name.rfind(':');
  if (colon == std::string_view::npos) return {name, {}};
  const std::string_view rest = name.substr(0, colon), modifiers = name.substr(colon + 1);
  if (modifiers.empty() || modifiers.find_first_not_of("ukpPhGH") != std::string_view::npos) {
    return {name, {}};
  }
  if (rest.find(':') == std::string_view::npos && !IsSoftwareEvent(rest) &&
      IsTracepointSystem(rest, tracefs_root)) {
    return {name, {}};
  }
  return {rest, modifiers};
}

}  // namespace

absl::StatusOr<EventSpec> ResolveEvent(std::string_view full_name,
                                       const std::string& tracefs_root) {
  const auto [name, modifiers] = SplitModifiers(full_name, tracefs_root);
  // :u alone, user space; :k alone, the kernel; both or neither, both.
  const bool user = modifiers.find('u') != std::string_view::npos;
  const bool kernel = modifiers.find('k') != std::string_view::npos;
  auto with_modifiers = [&](EventSpec spec) {
    spec.name = std::string(full_name);
    spec.exclude_kernel = user && !kernel;
    spec.exclude_user = kernel && !user;
    return spec;
  };
  for (const SoftwareEvent& e : kSoftwareEvents) {
    if (name == e.name) {
      return with_modifiers(EventSpec{.name = std::string(name),
                                      .type = PERF_TYPE_SOFTWARE,
                                      .config = e.config,
                                      .tracepoint = std::nullopt});
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
  return with_modifiers(std::move(spec));
}

std::string DefaultEventName(uint32_t type, uint64_t config) {
  if (type == PERF_TYPE_SOFTWARE) {
    for (const SoftwareEvent& e : kSoftwareEvents) {
      if (e.config == config) return std::string(e.name);
    }
    static constexpr std::array<std::pair<uint64_t, std::string_view>, 8> kOthers = {{
        {PERF_COUNT_SW_CONTEXT_SWITCHES, "context-switches"},
        {PERF_COUNT_SW_CPU_MIGRATIONS, "cpu-migrations"},
        {PERF_COUNT_SW_PAGE_FAULTS_MIN, "minor-faults"},
        {PERF_COUNT_SW_PAGE_FAULTS_MAJ, "major-faults"},
        {PERF_COUNT_SW_ALIGNMENT_FAULTS, "alignment-faults"},
        {PERF_COUNT_SW_EMULATION_FAULTS, "emulation-faults"},
        {PERF_COUNT_SW_DUMMY, "dummy"},
        {PERF_COUNT_SW_BPF_OUTPUT, "bpf-output"},
    }};
    for (const auto& [c, name] : kOthers) {
      if (c == config) return std::string(name);
    }
  }
  if (type == PERF_TYPE_HARDWARE) {
    static constexpr std::array<std::string_view, 10> kHardware = {"cycles",
                                                                   "instructions",
                                                                   "cache-references",
                                                                   "cache-misses",
                                                                   "branches",
                                                                   "branch-misses",
                                                                   "bus-cycles",
                                                                   "stalled-cycles-frontend",
                                                                   "stalled-cycles-backend",
                                                                   "ref-cycles"};
    if (config < kHardware.size()) return std::string(kHardware[config]);
  }
  return absl::StrCat("raw:", type, ":0x", absl::Hex(config));
}

}  // namespace dprof::tracer::internal
