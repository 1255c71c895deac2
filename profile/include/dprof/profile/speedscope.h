// dprof::profile::WriteSpeedscope — a profile in speedscope's file format (JSON), for
// https://www.speedscope.app or its offline build (`npm install -g speedscope`).
//
// One "sampled" profile per thread, the heaviest first (and shown first), named
// "comm pid/tid". Each holds the thread's events in time order, so speedscope's time-order view
// shows when each stack ran and its left-heavy and sandwich views sum them:
//   - in views weighed in time (clocks, off-CPU intervals), every profile spans the view's whole
//     time, from its first event to its last (endValue in nanoseconds), and the time a thread
//     was not seen is an empty stack, which speedscope draws as a gap and leaves out of shares.
//     A clock sample covers the period before it, an off-CPU interval the time after its switch;
//     a gap shorter than the next event's weight is sampling jitter and is closed.
//   - in views weighed in counts (page faults, tracepoints), the events follow one another in
//     time order with their counts (unit "none").
// Consecutive events of one thread with the same stack and no gap between are one sample.
//
// Example:
//   View view = View::Build(recording, {.keep_events = true});
//   std::ofstream out("profile.speedscope.json");
//   WriteSpeedscope(recording, view, "./app", out);
//
// Context: any thread; reads the recording and profile and keeps no state between calls
// (concurrent calls need their own `out`). Not async-signal-safe (allocates).
#ifndef DPROF_PROFILE_SPEEDSCOPE_H_
#define DPROF_PROFILE_SPEEDSCOPE_H_

#include <ostream>
#include <string>

#include "dprof/profile/recording.h"
#include "dprof/profile/view.h"

namespace dprof::profile {

// `view` must have been built from `recording` with ViewOptions::keep_events.
void WriteSpeedscope(const Recording& recording, const View& view, const std::string& name,
                     std::ostream& out);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_SPEEDSCOPE_H_
