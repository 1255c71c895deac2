#include "dprof/continuous/service_profiles.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "dprof/profile/pprof.h"
#include "dprof/profile/process_history.h"
#include "dprof/profile/view.h"

namespace dprof::continuous {

std::map<std::string, std::set<uint32_t>> Services(const profile::Recording& recording,
                                                   const ServiceOptions& options) {
  std::map<std::string, std::set<uint32_t>> pids_of;
  if (!options.service.empty()) {
    pids_of[options.service];  // every process: an empty pid set
    return pids_of;
  }
  const profile::ProcessHistory history(recording);
  std::set<uint32_t> pids;
  for (const profile::Event& e : recording.events) pids.insert(e.pid);
  for (uint32_t pid : pids) {
    // The main thread's name at the window's end; the kernel's idle task is "swapper".
    std::string name = history.NameAt(pid, pid, UINT64_MAX);
    if (name.empty()) name = "unknown";
    pids_of[name].insert(pid);
  }
  return pids_of;
}

absl::StatusOr<std::vector<ServiceProfile>> ServiceProfiles(const profile::Recording& recording,
                                                            const ServiceOptions& options) {
  std::vector<ServiceProfile> out;
  for (auto& [service, pids] : Services(recording, options)) {
    for (uint32_t event = 0; event < std::max<size_t>(recording.event_names.size(), 1); ++event) {
      const profile::View view = profile::View::Build(recording, {.events = {event}, .pids = pids});
      if (view.total_count() == 0) continue;
      std::ostringstream pprof;
      if (absl::Status s = profile::WritePprof(recording, view, pprof); !s.ok()) return s;
      out.push_back({.service = service,
                     .event = event,
                     .pprof = std::move(pprof).str(),
                     .samples = view.total_count()});
    }
  }
  return out;
}

}  // namespace dprof::continuous
