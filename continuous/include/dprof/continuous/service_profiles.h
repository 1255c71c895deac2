// dprof::continuous::ServiceProfiles — one window's recording made into one pprof profile per
// service, what a continuous-profiling backend stores as one series.
//
// A process's service is its name (its main thread's latest name: the program's, as `ps -o comm`
// shows it), or Options::service for every process recorded. Each profile is the gzipped pprof of
// one event of the service's processes (profile::WritePprof: the program's mapping first, the
// period, the window's start and duration), with the samples' count: with off-CPU time recorded,
// a service gets a cpu profile and an off-cpu one, never their sum. A service with no sample of
// an event gets no profile of it.
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
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dprof/profile/recording.h"

namespace dprof::continuous {

struct ServiceProfile {
  std::string service;
  uint32_t event = 0;  // index into the recording's event_names
  std::string pprof;   // gzipped profile.proto
  uint64_t samples = 0;
};

struct ServiceOptions {
  std::string service = {};  // every process under this name; empty: each by its program's
};

// The recording's processes by service: each sampled process under its program's name (or all
// under Options::service, as an empty set: every process).
std::map<std::string, std::set<uint32_t>> Services(const profile::Recording& recording,
                                                   const ServiceOptions& options);

absl::StatusOr<std::vector<ServiceProfile>> ServiceProfiles(const profile::Recording& recording,
                                                            const ServiceOptions& options);

}  // namespace dprof::continuous

#endif  // DPROF_CONTINUOUS_SERVICE_PROFILES_H_
