#include "cli/output_file.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "dprof/profile/output_file.h"

namespace dprof::cli {
namespace {

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::Status CheckOutputDirectory(const std::string& path, absl::string_view flag) {
  const std::string dir = DirectoryOf(path);
  struct stat st = {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("cannot write ", path, ": the directory ", dir,
                                            " does not exist; create it or choose another ", flag));
  }
  if (access(dir.c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", path, ": the directory ", dir,
                                                    " is not writable (", std::strerror(errno),
                                                    "); choose another ", flag));
  }
  return absl::OkStatus();
}

absl::Status CheckNotInput(const std::string& output, const std::string& input,
                           absl::string_view flag) {
  struct stat out = {}, in = {};
  const bool same_file = stat(output.c_str(), &out) == 0 && stat(input.c_str(), &in) == 0 &&
                         out.st_dev == in.st_dev && out.st_ino == in.st_ino;
  if (same_file || output == input) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to write ", output, ": it is the recording ", input, "; choose another ", flag));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> PrepareRecordingPath(const std::string& path) {
  if (absl::Status s = CheckOutputDirectory(path, "-o"); !s.ok()) return s;
  struct stat st = {};
  if (lstat(path.c_str(), &st) != 0) return false;  // a new file
  if (S_ISLNK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to write ", path,
                     ": it is a symbolic link, which dprof does not write through; remove it or "
                     "choose another -o"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to write ", path, ": it is not a regular file; choose another -o"));
  }
  const std::string old = path + ".old";
  if (rename(path.c_str(), old.c_str()) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot keep the previous ", path, " as ", old, ": ", std::strerror(errno)));
  }
  return true;
}

void RestorePrevious(const std::string& path, bool kept_previous) {
  unlink(path.c_str());
  if (kept_previous) rename((path + ".old").c_str(), path.c_str());
}

absl::Status WriteOutput(const std::string& path,
                         const std::function<absl::Status(std::ostream&)>& write, mode_t mode) {
  std::ostringstream out;
  if (absl::Status s = write(out); !s.ok()) return s;
  const std::string data = std::move(out).str();
  if (path != "-") return profile::ReplaceFile(path, data, mode);
  // A closed pipe (dprof report | head) ends the output, not dprof.
  signal(SIGPIPE, SIG_IGN);
  std::fflush(stdout);
  if (const int err = profile::WriteFully(STDOUT_FILENO, data); err != 0 && err != EPIPE) {
    return absl::ResourceExhaustedError(
        absl::StrCat("writing to standard output failed: ", profile::DescribeWriteError(err)));
  }
  return absl::OkStatus();
}

void AddModeFlag(CLI::App* command, std::string* mode) {
  command
      ->add_option("--mode", *mode,
                   "Permissions of the files written, octal (default 0600: private, as perf.data; "
                   "they name the command line, paths and threads)")
      ->type_name("MODE");
}

absl::StatusOr<mode_t> ParseMode(const std::string& mode) {
  if (mode.empty()) return profile::kPrivateMode;
  unsigned value = 0;
  size_t used = 0;
  try {
    value = static_cast<unsigned>(std::stoul(mode, &used, 8));
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != mode.size() || value > 0777) {
    return absl::InvalidArgumentError(
        absl::StrCat("--mode takes an octal mode such as 0600 or 0644, not '", mode, "'"));
  }
  return static_cast<mode_t>(value);
}

}  // namespace dprof::cli
