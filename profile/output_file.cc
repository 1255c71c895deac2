#include "dprof/profile/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
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

absl::StatusOr<NewFile> CreateNextTo(const std::string& path, mode_t mode) {
  struct stat st = {};
  if (lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to write ", path,
                     ": it is a symbolic link, which dprof does not write through; remove it or "
                     "write elsewhere"));
  }
  // A device, a FIFO or a directory is never replaced by a file.
  if (lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to write ", path, ": it is not a regular file; write elsewhere"));
  }
  NewFile file{.path = path + ".XXXXXX"};
  // mkostemp: O_CREAT|O_EXCL with a fresh random name, mode 0600 before the chmod.
  file.fd = mkostemp(file.path.data(), O_CLOEXEC);
  if (file.fd < 0) {
    const int err = errno;
    const std::string message =
        absl::StrCat("cannot write ", path, ": ", std::strerror(err), "; write elsewhere");
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES || err == EPERM || err == EROFS) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);
  }
  if (fchmod(file.fd, mode) != 0) {
    const int err = errno;
    close(file.fd);
    unlink(file.path.c_str());
    return absl::PermissionDeniedError(
        absl::StrCat("cannot set the mode of ", path, ": ", std::strerror(err)));
  }
  return file;
}

absl::Status ReplaceFile(const std::string& path, std::string_view data, mode_t mode) {
  absl::StatusOr<NewFile> file = CreateNextTo(path, mode);
  if (!file.ok()) return file.status();
  int err = WriteFully(file->fd, data);
  if (err == 0 && fsync(file->fd) != 0) err = errno;
  if (close(file->fd) != 0 && err == 0) err = errno;
  if (err == 0 && rename(file->path.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    unlink(file->path.c_str());
    return absl::ResourceExhaustedError(
        absl::StrCat("writing ", path, " failed: ", DescribeWriteError(err), "; nothing was kept"));
  }
  return absl::OkStatus();
}

}  // namespace dprof::profile
