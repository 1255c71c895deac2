// The flags every view command (report, flamegraph, export) shares: which events, processes,
// threads and halves of the stacks to show.
#ifndef DPROF_CLI_VIEW_FLAGS_H_
#define DPROF_CLI_VIEW_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "dprof/profile/folded.h"
#include "dprof/profile/recording.h"
#include "dprof/profile/view.h"

namespace dprof::cli {

struct ViewFlags {
  std::vector<std::string> events = {};  // --event; empty: the default below
  bool off_cpu = false;                  // --off-cpu: the off-CPU intervals only
  bool on_cpu = false;                   // --on-cpu: every event but the off-CPU intervals
  std::vector<uint32_t> pids = {};
  std::vector<uint32_t> tids = {};
  std::vector<std::string> comms = {};
  bool kernel = true;  // --kernel / --no-kernel
  bool user = true;    // --user / --no-user
  // Set by the command, not a flag: every event unless flags choose (not the default below), and
  // events that weigh different things together (each event is shown on its own, not summed).
  bool every_event = false;
};

void AddViewFlags(CLI::App* command, ViewFlags* flags);

// The profile `flags` select in `recording`. By default: the first recorded event, and the
// off-CPU intervals too when recorded with --wall (one wall-clock view). Names outside the
// recording, and events that weigh different things (time and counts), are InvalidArgument.
// `shape` says how stacks are built (thread_root: each starts with its thread's name, for flame
// graphs and folded stacks; by_thread: kept apart by thread); its filters are the flags'. Filters
// that match no event are InvalidArgument naming them.
struct View {
  profile::View profile;
  std::vector<std::string> shown = {};  // the selected events' names
  std::vector<std::string> other = {};  // recorded events not shown, for a hint
};
absl::StatusOr<View> BuildView(const ViewFlags& flags, const profile::Recording& recording,
                               profile::ViewOptions shape = {});

// --weights count|us|ns for folded stacks ("" when not given).
void AddWeightsFlag(CLI::App* command, std::string* weights);
// What folded lines count: `weights` as given, else samples, or microseconds for a view holding
// off-CPU time. InvalidArgument for us or ns on a view of counted events (page-faults, hits).
absl::StatusOr<profile::FoldedValue> FoldedValueOf(const std::string& weights, const View& view);

}  // namespace dprof::cli

#endif  // DPROF_CLI_VIEW_FLAGS_H_
