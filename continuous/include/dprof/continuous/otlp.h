// dprof::continuous::OtlpProfilesRequest — one window as an OTLP profiles export request: what an
// OpenTelemetry Collector with profiles enabled (and Pyroscope 2.x) takes at
// `POST URL/v1development/profiles` (Content-Type application/x-protobuf, gzip-encoded), in the
// "v1development" schema of opentelemetry-proto's 1.x releases.
//
// One ResourceProfiles per service (Services()), whose resource carries service.name and the given
// attributes (host.name, the user's labels), with one ScopeProfiles (scope "dprof" and its
// version) holding a Profile per recorded event (cpu time, off-CPU time, a tracepoint: never
// summed): sample_type and period_type as pprof's (cpu or off_cpu nanoseconds, or event counts),
// the window's start and length, and a Sample per distinct stack with each of its events' weight
// and time, paired index for index as the schema requires. Every profile shares one
// ProfilesDictionary (mappings by file, functions by name and file, locations by module offset
// with their inlined calls, stacks leaf first, strings), each table starting with its zero entry.
//
// Example:
//   absl::StatusOr<std::string> body = OtlpProfilesRequest(window.recording,
//       {.start_unix_ns = s, .end_unix_ns = e, .unix_minus_monotonic_ns = offset,
//        .attributes = {{"host.name", "web1"}}});
//
// Context: any thread; reads the recording only.
#ifndef DPROF_CONTINUOUS_OTLP_H_
#define DPROF_CONTINUOUS_OTLP_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dprof/continuous/outgoing.h"
#include "dprof/continuous/service_profiles.h"
#include "dprof/profile/recording.h"

namespace dprof::continuous {

struct OtlpWindow {
  uint64_t start_unix_ns = 0;
  uint64_t end_unix_ns = 0;
  // Added to an event's time (CLOCK_MONOTONIC) to make it Unix time.
  int64_t unix_minus_monotonic_ns = 0;
  std::map<std::string, std::string> attributes = {};  // of every resource, besides service.name
  ServiceOptions services = {};
};

// The serialized request (not compressed); an empty string when no service has a sample.
absl::StatusOr<std::string> OtlpProfilesRequest(const profile::Recording& recording,
                                                const OtlpWindow& window);

// The HTTP request that delivers a serialized request to `base`/v1development/profiles,
// gzip-encoded; `what` for messages.
absl::StatusOr<Outgoing> OtlpHttpRequest(std::string_view base, std::string_view request,
                                         std::string what);

}  // namespace dprof::continuous

#endif  // DPROF_CONTINUOUS_OTLP_H_
