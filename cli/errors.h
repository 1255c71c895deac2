// How the dprof command ends: its exit codes, and the one line on stderr that says why.
#ifndef DPROF_CLI_ERRORS_H_
#define DPROF_CLI_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dprof::cli {

inline constexpr int kSuccess = 0;
inline constexpr int kFailure = 1;        // the command could not do its work
inline constexpr int kUsageError = 2;     // the command line asks for something impossible
inline constexpr int kInterrupted = 130;  // a second Ctrl-C cut the recording short

// Prints "dprof: <message>" on stderr and returns kFailure.
int Fail(const absl::Status& status);
// Prints "dprof: <message>" on stderr and returns kUsageError.
int UsageError(absl::string_view message);
// Prints "dprof: warning: <message>" on stderr.
void Warn(absl::string_view message);

}  // namespace dprof::cli

#endif  // DPROF_CLI_ERRORS_H_
