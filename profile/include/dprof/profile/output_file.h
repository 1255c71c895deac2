// dprof::profile::ReplaceFile — writing an output file (a flame graph, an export) so that a
// failure never leaves half a file and nothing planted in the directory can take it over.
//
// The data goes to a new file next to PATH (PATH.XXXXXX, made with O_CREAT|O_EXCL: a file or a
// symbolic link someone else left there cannot be it, so cannot decide its owner, mode or
// content), is flushed to disk and renamed over PATH only once it is whole. A symbolic link at
// PATH is refused, never written through (rename(2) would replace the link, not its target, but
// a user who named a link most likely meant its target). Files are private (0600) unless the
// caller asks for another mode, as perf.data is: recordings and views name the recorded
// command's arguments, paths and thread names.
//
// Example:
//   std::ostringstream out;
//   WriteFlameGraphHtml(profile, {}, out);
//   absl::Status s = ReplaceFile("flamegraph.html", out.str());
//
// Context: any thread; concurrent writes of the same path race as rename(2) does.
#ifndef DPROF_PROFILE_OUTPUT_FILE_H_
#define DPROF_PROFILE_OUTPUT_FILE_H_

#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dprof::profile {

// The mode of every file dprof writes unless told otherwise.
inline constexpr mode_t kPrivateMode = 0600;

// FailedPrecondition for a symbolic link or anything but a regular file at PATH (a device is
// never replaced), PermissionDenied (NotFound: no such directory) when no
// file can be created next to PATH, ResourceExhausted when writing fails ("the disk is full"):
// any earlier PATH is then kept.
absl::Status ReplaceFile(const std::string& path, std::string_view data,
                         mode_t mode = kPrivateMode);

// A new file next to `path`, for the caller to fill and rename over `path`: PATH.XXXXXX, made
// with O_CREAT|O_EXCL, with mode `mode` exactly (the umask does not apply). Refuses a symbolic
// link at `path`. Errors as ReplaceFile's, naming `path`.
struct NewFile {
  int fd = -1;
  std::string path;  // the temporary name
};
absl::StatusOr<NewFile> CreateNextTo(const std::string& path, mode_t mode);

// Writes all of `data` to `fd`, retrying short writes and EINTR: 0, or the errno that stopped it.
int WriteFully(int fd, std::string_view data);
// "the disk is full" for ENOSPC and EDQUOT, else strerror(err).
std::string DescribeWriteError(int err);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_OUTPUT_FILE_H_
