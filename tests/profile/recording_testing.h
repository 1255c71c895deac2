// A recording with something of every kind in it, for the profile tests.
#ifndef DPROF_TESTS_PROFILE_RECORDING_TESTING_H_
#define DPROF_TESTS_PROFILE_RECORDING_TESTING_H_

#include "dprof/profile/recording.h"

namespace dprof::testing {

// `events` events over a handful of stacks, cookies and threads, with tracepoint fields, symbols
// (some inlined), mappings with build-ids, thread names, forks, exits and counters.
profile::Recording MakeRecording(int events);

// Five cpu-clock events of 1 ms with known, symbolized stacks, for the views' tests. Process 10
// ("app", threads 10 "app" and 11 "worker"), module /app/work (build-id 0a0b0c):
//   - 3 events main;work;hot_a: one walked inline, two sharing cookie 1;
//   - 1 event in thread 11: main;work;inlined_helper;hot_b (hot_b inlined into inlined_helper);
//   - 1 event in the kernel (do_syscall_64, then an address kallsyms did not name), whose cookie's
//     user stack never arrived.
// Counters: 4 unwind requests in 3 jobs, 2 unwinds and 1 content hit; 2 lost records.
profile::Recording SymbolizedRecording();

}  // namespace dprof::testing

#endif  // DPROF_TESTS_PROFILE_RECORDING_TESTING_H_
