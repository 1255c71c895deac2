#include "dprof/continuous/service_profiles.h"

#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "dprof/profile/pprof.h"
#include "dprof/profile/process_history.h"
#include "dprof/profile/view.h"

namespace dprof::continuous {

absl::StatusOr<std::vector<ServiceProfile>> ServiceProfiles(const profile::Recording& recording,
                                                            const ServiceOptions& options) {
  std::map<std::string, std::set<uint32_t>> pids_of;  // service -> its processes
  if (!options.service.empty()) {
    pids_of[options.service];  // every process: an empty pid set
  } else {
    const profile::ProcessHistory history(recording);
    std::set<uint32_t> pids;
    for (const profile::Event& e : recording.events) pids.insert(e.pid);
    for (uint32_t pid : pids) {
      // The main thread's name at the window's end; the kernel's idle task is "swapper".
      std::string name = history.NameAt(pid, pid, UINT64_MAX);
      if (name.empty()) name = "unknown";
      pids_of[name].insert(pid);
    }
  }
  std::vector<ServiceProfile> out;
  for (auto& [service, pids] : pids_of) {
    const profile::View view = profile::View::Build(recording, {.pids = pids});
    if (view.total_count() == 0) continue;
    std::ostringstream pprof;
    if (absl::Status s = profile::WritePprof(recording, view, pprof); !s.ok()) return s;
    out.push_back(
        {.service = service, .pprof = std::move(pprof).str(), .samples = view.total_count()});
  }
  return out;
}

}  // namespace dprof::continuous
