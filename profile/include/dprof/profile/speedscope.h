// dprof::profile::WriteSpeedscope — a profile in speedscope's file format (JSON), for
// https://www.speedscope.app or its offline build: one "sampled" profile whose samples are the
// profile's distinct stacks (root first) weighted by their weights.
//
// Example:
//   std::ofstream out("profile.speedscope.json");
//   WriteSpeedscope(View::Build(recording), "./app", out);
//
// Context: any thread; reads the profile and keeps no state between calls (concurrent calls need
// their own `out`). Not async-signal-safe (allocates).
#ifndef DPROF_PROFILE_SPEEDSCOPE_H_
#define DPROF_PROFILE_SPEEDSCOPE_H_

#include <ostream>
#include <string>

#include "dprof/profile/view.h"

namespace dprof::profile {

void WriteSpeedscope(const View& profile, const std::string& name, std::ostream& out);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_SPEEDSCOPE_H_
