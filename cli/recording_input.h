// Reading the recording a view command names (-i FILE): the errors a user sees, what a recording
// cut short still holds, and names for the addresses of a recording that ended before its
// symbols were written.
#ifndef DPROF_CLI_RECORDING_INPUT_H_
#define DPROF_CLI_RECORDING_INPUT_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "dprof/profile/recording.h"

namespace dprof::cli {

inline constexpr char kDefaultRecording[] = "dprof.data";

// Adds -i/--input FILE (default dprof.data).
void AddInputFlag(CLI::App* command, std::string* path);

// Whether the file at `path` is a perf.data file (by its magic): views import it.
bool IsPerfDataFile(const std::string& path);

// The recording at `path`, or the perf.data file there imported (dprof::ImportPerfData, each of its
// warnings printed). A file cut short is read up to its last complete chunk, with one
// warning saying how much that was; one with nothing recoverable, or not a recording, is an error
// naming the problem. Addresses without symbols are named from this machine's files, with a
// warning.
absl::StatusOr<profile::Recording> LoadRecording(const std::string& path);

}  // namespace dprof::cli

#endif  // DPROF_CLI_RECORDING_INPUT_H_
