#include "dprof/profile/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace dprof::profile {

int WriteFully(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

std::string DescribeWriteError(int err) {
  return err == ENOSPC || err == EDQUOT ? "the disk is full" : std::strerror(err);
}

absl::Status ReplaceFile(const std::string& path, std::string_view data) {
  struct stat st = {};
  if (lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to write ", path,
                     ": it is a symbolic link, which dprof does not write through; remove it or "
                     "write elsewhere"));
  }
  const std::string partial = path + ".partial";
  const int fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno), "; write elsewhere"));
  }
  int err = WriteFully(fd, data);
  if (close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && rename(partial.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    unlink(partial.c_str());
    return absl::ResourceExhaustedError(
        absl::StrCat("writing ", path, " failed: ", DescribeWriteError(err), "; nothing was kept"));
  }
  return absl::OkStatus();
}

}  // namespace dprof::profile
