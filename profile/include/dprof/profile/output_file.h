// dprof::profile::ReplaceFile — writing an output file (a flame graph, an export) so that a
// failure never leaves half a file: the data goes to PATH.partial, which is renamed over PATH
// only once it is whole. A symbolic link at PATH is refused, never written through.
//
// Example:
//   std::ostringstream out;
//   WriteFlameGraphHtml(profile, {}, out);
//   absl::Status s = ReplaceFile("flamegraph.html", out.str());
//
// Context: any thread; concurrent writes of the same path race as rename(2) does.
#ifndef DPROF_PROFILE_OUTPUT_FILE_H_
#define DPROF_PROFILE_OUTPUT_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace dprof::profile {

// FailedPrecondition for a symbolic link, PermissionDenied when PATH.partial cannot be created,
// ResourceExhausted when writing fails ("the disk is full"): any earlier PATH is then kept.
absl::Status ReplaceFile(const std::string& path, std::string_view data);

// Writes all of `data` to `fd`, retrying short writes and EINTR: 0, or the errno that stopped it.
int WriteFully(int fd, std::string_view data);
// "the disk is full" for ENOSPC and EDQUOT, else strerror(err).
std::string DescribeWriteError(int err);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_OUTPUT_FILE_H_
