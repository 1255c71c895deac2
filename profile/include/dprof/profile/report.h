// dprof::profile::WriteReport — the text report: the rows of a profile (functions by default; any
// combination of perf's sort keys comm, pid, tid, dso, sym) by self and total weight, optionally
// each with its call paths as a tree, and the stats block that says how complete the recording is.
//
//   # dprof report: ./cpu_bound 2   (cpu-clock; 1998 samples, 1.998 s)
//       Self    Total    Self time  Function  Module
//     65.90%   65.90%      1.317 s  hot_a     cpu_bound_nofp
//    ...
//   # stats
//   #   samples 1998, lost 0, throttled 0, dropped snapshots 0, truncated snapshots 0
//   #   unwinds 1990 done of 1998 requested (sharing: 1.00 events per unwind)
//   #   stitched 1998, kernel-walked 0, orphans 0
//
// Functions are merged by name and module across lines, inlined or not. A recursive function's
// total counts each stack once. With a width, every line fits it: names are cut with an ellipsis
// (the function's last), stats lines wrapped.
//
// Context: any thread; reads the recording and the profile and keeps no state between calls
// (concurrent calls need their own `out`). Not async-signal-safe (allocates).
#ifndef DPROF_PROFILE_REPORT_H_
#define DPROF_PROFILE_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "dprof/profile/recording.h"
#include "dprof/profile/view.h"

namespace dprof::profile {

// What a report's rows are: perf report's --sort keys.
enum class ReportKey : uint8_t {
  kComm,  // the thread's name at the event
  kPid,
  kTid,
  kDso,  // the module (file name)
  kSym,  // the function
};
// "comm", "pid", "tid", "dso" (or "module"), "sym"; nullopt for anything else.
std::optional<ReportKey> ParseReportKey(std::string_view name);
// Whether rows by `keys` need a profile built with ViewOptions::by_thread (comm, pid or tid
// among them).
bool NeedsThreads(const std::vector<ReportKey>& keys);

struct ReportOptions {
  enum class Sort : uint8_t { kSelf, kTotal };
  // The call paths printed under each row: none; from the root down (caller); from the row's
  // function up to the root (callee).
  enum class CallGraph : uint8_t { kNone, kCaller, kCallee };

  Sort sort = Sort::kSelf;  // kTotal: perf's --children order
  // A row per distinct value of these, in this order; comm, pid and tid need a profile built with
  // ViewOptions::by_thread.
  std::vector<ReportKey> keys = {ReportKey::kSym, ReportKey::kDso};
  bool total_column = true;     // false: perf's --no-children (self only)
  bool samples_column = false;  // the events of each row (perf's -n)
  // Rows, and call-graph branches, under this percent of the whole are left out.
  double percent_limit = 0;
  CallGraph call_graph = CallGraph::kNone;
  size_t width = 0;       // columns of text; 0: no limit (longer names are cut with an ellipsis)
  size_t top = 20;        // rows; 0: all
  bool header = true;     // the "# dprof report" lines
  bool functions = true;  // the table of rows
  bool stats = true;      // the stats block
  // The events the profile holds, named in the first line; empty: every event of the recording.
  std::vector<std::string> events = {};
  // Recorded events it does not hold, named in a last line (with the header).
  std::vector<std::string> other_events = {};
  // Whether symbols were looked for through debuginfod (DEBUGINFOD_URLS): when not, frames of
  // files without symbols get a hint that it would name them.
  bool debuginfod = false;
};

// One row of the report: its keys' values and its weights.
struct ReportRow {
  std::vector<std::string> keys = {};  // in ReportOptions::keys order
  uint64_t self = 0;
  uint64_t total = 0;
  uint64_t self_count = 0;  // events
  uint64_t total_count = 0;
};

// The rows of a profile by `keys`, sorted as `sort` says (ties by keys). A row's self weight is
// that of the stacks whose leaf has its keys; its total, that of the stacks with a frame that has
// them, each stack counted once.
std::vector<ReportRow> ReportRows(const View& profile, const std::vector<ReportKey>& keys,
                                  ReportOptions::Sort sort);

// One function row of the report.
struct FunctionWeight {
  std::string name = {};
  std::string module = {};
  uint64_t self = 0;
  uint64_t total = 0;
};

// Every function of the profile with its self and total weight, sorted as `sort` says (ties by
// name): ReportRows by function and module.
std::vector<FunctionWeight> FunctionWeights(const View& profile, ReportOptions::Sort sort);

void WriteReport(const Recording& recording, const View& profile, const ReportOptions& options,
                 std::ostream& out);

// "1.234 s", "12.3 ms", "45 us" for nanoseconds; the plain number for counts.
std::string FormatWeight(uint64_t weight, WeightUnit unit);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_REPORT_H_
