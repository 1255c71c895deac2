// Files the commands write: the recording (an existing one is kept as FILE.old, as perf does) and
// the views (flame graphs, exports). Neither is ever written through a symbolic link.
#ifndef DPROF_CLI_OUTPUT_FILE_H_
#define DPROF_CLI_OUTPUT_FILE_H_

#include <sys/types.h>

#include <functional>
#include <ostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dprof::cli {

// Checks that `path`'s directory exists and is writable; messages name `flag` as the way out.
absl::Status CheckOutputDirectory(const std::string& path, absl::string_view flag);
// Refuses to write `output` over `input` (the recording a command reads or writes).
absl::Status CheckNotInput(const std::string& output, const std::string& input,
                           absl::string_view flag);

// Checks that `path` can become a new recording: its directory exists and is writable, and it is
// not a symbolic link or anything but a regular file. An existing file is renamed to `path`.old
// (replacing an older one): true when one was.
absl::StatusOr<bool> PrepareRecordingPath(const std::string& path);
// Undoes PrepareRecordingPath() when nothing was recorded: removes `path`, and when `kept_previous`
// moves `path`.old back.
void RestorePrevious(const std::string& path, bool kept_previous);

// Writes what `write` produces to `path` ("-": standard output), with mode `mode`, through a new
// file renamed into place (profile::ReplaceFile): a failed write (a full disk) keeps any earlier
// file and names the problem.
absl::Status WriteOutput(const std::string& path,
                         const std::function<absl::Status(std::ostream&)>& write, mode_t mode);

// The --mode flag of the commands that write files: octal, private (0600) by default.
void AddModeFlag(CLI::App* command, std::string* mode);
// Its value: InvalidArgument naming the flag for anything but an octal mode up to 0777.
absl::StatusOr<mode_t> ParseMode(const std::string& mode);

}  // namespace dprof::cli

#endif  // DPROF_CLI_OUTPUT_FILE_H_
