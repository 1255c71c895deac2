// dprof::continuous::ServiceProfiles — one window's recording made into one pprof profile per
// service, what a continuous-profiling backend stores as one series.
//
// A process's service is its name (its main thread's latest name: the program's, as `ps -o comm`
// shows it), or Options::service for every process recorded. Each profile is the gzipped pprof of
// the service's processes (profile::WritePprof: the program's mapping first, the period, the
// window's start and duration), with the samples' count; services with no sample are left out.
//
// Example:
//   for (ServiceProfile& p : ServiceProfiles(window.recording, {.service = ""})) {
//     queue.Push(std::move(p));
//   }
//
// Context: any thread; reads the recording only.
#ifndef DPROF_CONTINUOUS_SERVICE_PROFILES_H_
#define DPROF_CONTINUOUS_SERVICE_PROFILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dprof/profile/recording.h"

namespace dprof::continuous {

struct ServiceProfile {
  std::string service;
  std::string pprof;  // gzipped profile.proto
  uint64_t samples = 0;
};

struct ServiceOptions {
  std::string service = {};  // every process under this name; empty: each by its program's
};

absl::StatusOr<std::vector<ServiceProfile>> ServiceProfiles(const profile::Recording& recording,
                                                            const ServiceOptions& options);

}  // namespace dprof::continuous

#endif  // DPROF_CONTINUOUS_SERVICE_PROFILES_H_
