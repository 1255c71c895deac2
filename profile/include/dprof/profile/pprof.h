// dprof::profile::WritePprof — a profile as pprof reads it: a gzipped profile.proto.
//
// Samples carry two values, the event count and the weight (cpu nanoseconds, off-cpu
// nanoseconds, or event counts, as the profile's unit says); locations are the stacks' addresses
// (module offsets) with their inlined calls as several lines, innermost first; functions carry
// source files; mappings carry build-ids, the profiled program's first (pprof's "File:"; for a
// system-wide recording the program most stacks start in, by weight), kernel frames under
// "[kernel.kallsyms]". The period is the recorded one (nanoseconds at the sampling frequency), the
// time the recording's start and the duration its events' span. Open it with
// `go tool pprof -http=: profile.pb.gz`.
//
// Example:
//   std::ofstream out("profile.pb.gz", std::ios::binary);
//   absl::Status s = WritePprof(recording, View::Build(recording), out);
//
// Context: any thread; reads the recording and the profile and keeps no state between calls
// (concurrent calls need their own `out`). Not async-signal-safe (allocates; protobuf, zlib).
#ifndef DPROF_PROFILE_PPROF_H_
#define DPROF_PROFILE_PPROF_H_

#include <cstdint>
#include <ostream>

#include "absl/status/status.h"
#include "dprof/profile/recording.h"
#include "dprof/profile/view.h"

namespace dprof::profile {

// The sampling period a profile of `unit` weights states: the recorded period (events between
// samples), else a clock's nanoseconds at the recorded frequency (1 for counted events); 0 when
// the recording says neither.
int64_t SamplePeriod(const Recording& recording, WeightUnit unit);

// Fails only when compressing or writing fails.
absl::Status WritePprof(const Recording& recording, const View& profile, std::ostream& out);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_PPROF_H_
