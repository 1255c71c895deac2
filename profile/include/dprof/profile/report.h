// dprof::profile::WriteReport — the text report: the top functions of a profile by self and total
// weight, and the stats block that says how complete the recording is.
//
//   # dprof report: ./cpu_bound 2   (cpu-clock, 1998 events, 1.998 s)
//     Self    Total   Self time  Function                    Module
//    65.9%   65.9%     1.317 s   hot_a                       cpu_bound_nofp
//    ...
//   # stats
//   #   samples 1998, lost 0, throttled 0, dropped snapshots 0, truncated snapshots 0
//   #   unwinds 1990 done of 1998 requested (sharing: 1.00 events per unwind)
//   #   stitched 1998, kernel-walked 0, orphans 0
//
// Functions are merged by name and module across lines, inlined or not. A recursive function's
// total counts each stack once.
//
// Context: any thread; reads the recording and the profile and keeps no state between calls
// (concurrent calls need their own `out`). Not async-signal-safe (allocates).
#ifndef DPROF_PROFILE_REPORT_H_
#define DPROF_PROFILE_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "dprof/profile/profile.h"
#include "dprof/profile/recording.h"

namespace dprof::profile {

struct ReportOptions {
  enum class Sort : uint8_t { kSelf, kTotal };
  Sort sort = Sort::kSelf;
  size_t top = 20;        // rows; 0: all
  bool functions = true;  // the table of functions
  bool stats = true;      // the stats block
  // The events the profile holds, named in the first line; empty: every event of the recording.
  std::vector<std::string> events = {};
};

// One row of the report.
struct FunctionWeight {
  std::string name = {};
  std::string module = {};
  uint64_t self = 0;
  uint64_t total = 0;
};

// Every function of the profile with its self and total weight, sorted as `sort` says (ties by
// name).
std::vector<FunctionWeight> FunctionWeights(const Profile& profile, ReportOptions::Sort sort);

void WriteReport(const Recording& recording, const Profile& profile, const ReportOptions& options,
                 std::ostream& out);

// "1.234 s", "12.3 ms", "45 us" for nanoseconds; the plain number for counts.
std::string FormatWeight(uint64_t weight, WeightUnit unit);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_REPORT_H_
