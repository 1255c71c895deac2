// The flags every view command (report, flamegraph, export) shares: which events, processes,
// threads and halves of the stacks to show.
#ifndef DPROF_CLI_VIEW_FLAGS_H_
#define DPROF_CLI_VIEW_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "dprof/profile/profile.h"
#include "dprof/profile/recording.h"

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
};

void AddViewFlags(CLI::App* command, ViewFlags* flags);

// What `flags` select in `recording`. By default: the first recorded event, and the off-CPU
// intervals too when recorded with --wall (one wall-clock view). Names outside the recording are
// InvalidArgument, listing what it holds.
struct Selection {
  profile::ProfileOptions options = {};
  std::vector<std::string> shown = {};  // the selected events' names
  std::vector<std::string> other = {};  // recorded events not shown, for a hint
};
absl::StatusOr<Selection> Select(const ViewFlags& flags, const profile::Recording& recording);

}  // namespace dprof::cli

#endif  // DPROF_CLI_VIEW_FLAGS_H_
