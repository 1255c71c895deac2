// A recording with something of every kind in it, for the profile tests.
#ifndef DPROF_TESTS_PROFILE_RECORDING_TESTING_H_
#define DPROF_TESTS_PROFILE_RECORDING_TESTING_H_

#include "dprof/profile/recording.h"

namespace dprof::testing {

// `events` events over a handful of stacks, cookies and threads, with tracepoint fields, symbols
// (some inlined), mappings with build-ids, thread names, forks, exits and counters.
profile::Recording MakeRecording(int events);

}  // namespace dprof::testing

#endif  // DPROF_TESTS_PROFILE_RECORDING_TESTING_H_
