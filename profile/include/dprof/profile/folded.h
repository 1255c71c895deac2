// dprof::profile::WriteFolded — Brendan Gregg's collapsed stack format, one line per stack:
//
//   cpu_bound;main;run;one_round;hot_a 1234
//
// frames root first, separated by ';', then the stack's value: by default what the tools that
// read the format expect (flamegraph.pl, inferno and speedscope take it for a sample count; they
// print it as is): the number of samples, or microseconds when the view holds off-CPU time.
// Frames are drawn by function name (inlined calls are frames of their own), so stacks that
// differ only in source lines merge.
// Kernel frames may carry perf's "_[k]" suffix; ';' and newlines inside names are replaced, so
// every line parses. The output feeds flamegraph.pl, speedscope, inferno and diff tools.
//
// Example:
//   WriteFolded(View::Build(recording, {.thread_root = true}), {.kernel_suffix = true},
//   std::cout);
//
// Context: any thread; reads the profiles and keeps no state between calls (concurrent calls need
// their own `out`). Not async-signal-safe (allocates).
#ifndef DPROF_PROFILE_FOLDED_H_
#define DPROF_PROFILE_FOLDED_H_

#include <ostream>
#include <string>

#include "dprof/profile/view.h"

namespace dprof::profile {

// What a folded line's number counts.
enum class FoldedValue : uint8_t {
  kAuto,          // kCount, or kMicroseconds when the view holds off-CPU time (wall, off-CPU)
  kCount,         // events: samples, tracepoint hits, off-CPU intervals
  kMicroseconds,  // the weights of time (the clocks' periods, off-CPU time), rounded
  kWeight,        // the weights as recorded: nanoseconds for time, the period for counters
};

struct FoldedOptions {
  bool kernel_suffix = false;  // append "_[k]" to kernel frames
  FoldedValue value = FoldedValue::kAuto;
};

// What kAuto means for `profile`.
FoldedValue ResolveFoldedValue(const View& profile, FoldedValue value);

// Writes the profile's stacks, merged by frame names, heaviest first (ties by name).
void WriteFolded(const View& profile, const FoldedOptions& options, std::ostream& out);

// The folded diff of two profiles, as difffolded.pl writes it for flamegraph.pl: every stack of
// either, "stack BASE_WEIGHT WEIGHT", heaviest (in `profile`) first.
void WriteFoldedDiff(const View& base, const View& profile, const FoldedOptions& options,
                     std::ostream& out);

// The name a frame is drawn with in folded stacks: ';' and line breaks replaced.
std::string FoldedName(const View::Frame& frame, bool kernel_suffix);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_FOLDED_H_
