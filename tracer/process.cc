#include "tracer/internal/process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string_view>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dprof::tracer::internal {

std::vector<pid_t> ListThreads(pid_t pid) {
  std::vector<pid_t> tids;
  DIR* dir = opendir(absl::StrCat("/proc/", pid, "/task").c_str());
  if (dir == nullptr) return tids;
  while (dirent* e = readdir(dir)) {
    pid_t tid;
    if (absl::SimpleAtoi(e->d_name, &tid)) tids.push_back(tid);
  }
  closedir(dir);
  return tids;
}

void AnnounceMappings(uint32_t pid, const unwind::AddressSpace& space, uint64_t now_ns,
                      event::TraceSink* sink) {
  for (const unwind::Mapping& m : space.mappings()) {
    if (m.path.empty() || !m.executable()) continue;  // what symbols are looked up in
    event::Mmap2Record r;
    r.sid.pid = r.sid.tid = r.pid = r.tid = pid;
    r.sid.time = now_ns;
    r.address = m.start;
    r.length = m.end - m.start;
    r.pgoff = m.pgoff;
    r.build_id = std::span(reinterpret_cast<const uint8_t*>(m.build_id.data()), m.build_id.size());
    r.prot = m.prot;
    r.filename = m.path;
    sink->OnMmap(r);
  }
}

void AnnounceNames(uint32_t pid, const std::vector<pid_t>& tids, uint64_t now_ns,
                   event::TraceSink* sink) {
  for (pid_t tid : tids) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/task/", tid, "/comm"));
    std::string comm;
    if (!std::getline(in, comm)) continue;  // the thread exited meanwhile
    event::CommRecord r;
    r.sid.pid = r.pid = pid;
    r.sid.tid = r.tid = static_cast<uint32_t>(tid);
    r.sid.time = now_ns;
    r.comm = comm;
    sink->OnComm(r);
  }
}

std::vector<int> OnlineCpus() {
  std::vector<int> cpus;
  std::ifstream in("/sys/devices/system/cpu/online");
  std::string text;
  if (std::getline(in, text)) {
    for (absl::string_view range : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
      std::vector<absl::string_view> ends = absl::StrSplit(range, '-');
      int first, last;
      if (!absl::SimpleAtoi(ends[0], &first)) continue;
      last = first;
      if (ends.size() == 2 && !absl::SimpleAtoi(ends[1], &last)) continue;
      for (int c = first; c <= last; ++c) cpus.push_back(c);
    }
  }
  if (cpus.empty()) {
    for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN); ++c) cpus.push_back(static_cast<int>(c));
  }
  return cpus;
}

bool ProcessExists(pid_t pid) {
  struct stat st;
  return pid > 0 && stat(absl::StrCat("/proc/", pid).c_str(), &st) == 0;
}

std::vector<pid_t> Descendants(const std::vector<pid_t>& roots) {
  absl::flat_hash_map<pid_t, std::vector<pid_t>> children;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return {};
  while (dirent* e = readdir(dir)) {
    pid_t pid;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat;
    if (!std::getline(in, stat)) continue;  // exited meanwhile
    // "pid (comm) state ppid ...": the name may hold spaces and parentheses; the last ')' ends it.
    const size_t end = stat.rfind(')');
    if (end == std::string::npos) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(absl::string_view(stat).substr(end + 1), ' ', absl::SkipEmpty());
    pid_t ppid;
    if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &ppid)) children[ppid].push_back(pid);
  }
  closedir(dir);
  std::vector<pid_t> out;
  std::vector<pid_t> next = roots;
  while (!next.empty()) {
    const pid_t parent = next.back();
    next.pop_back();
    auto it = children.find(parent);
    if (it == children.end()) continue;
    for (pid_t child : it->second) {
      out.push_back(child);
      next.push_back(child);
    }
  }
  return out;
}

int OpenPidfd(pid_t pid, bool thread) {
  // PIDFD_THREAD (Linux 6.9) is O_EXCL.
  const long fd = syscall(SYS_pidfd_open, pid, thread ? O_EXCL : 0);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

bool PidfdExited(int pidfd) {
  pollfd p{.fd = pidfd, .events = POLLIN, .revents = 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

absl::StatusOr<ChildProcess> ChildProcess::Launch(const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("no command to run");
  int go[2], error[2];
  if (pipe2(go, O_CLOEXEC) != 0) return absl::InternalError(strerror(errno));
  if (pipe2(error, O_CLOEXEC) != 0) {
    close(go[0]);
    close(go[1]);
    return absl::InternalError(strerror(errno));
  }
  // Everything the child needs is prepared before fork: it may only make async-signal-safe
  // calls afterwards.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    for (int fd : {go[0], go[1], error[0], error[1]}) close(fd);
    return absl::ResourceExhaustedError(absl::StrCat("cannot fork: ", strerror(err)));
  }
  if (pid == 0) {
    close(go[1]);
    close(error[0]);
    char byte;
    // Wait until the parent has opened the events (or gone away: then do not run at all).
    if (read(go[0], &byte, 1) != 1) _exit(127);
    execvp(args[0], args.data());
    const int err = errno;
    (void)!write(error[1], &err, sizeof(err));
    _exit(127);
  }
  close(go[0]);
  close(error[1]);
  ChildProcess child(pid, go[1], error[0]);
  child.program_ = argv[0];
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_),
      go_fd_(other.go_fd_),
      error_fd_(other.error_fd_),
      reaped_(other.reaped_),
      program_(std::move(other.program_)) {
  other.pid_ = -1;
  other.go_fd_ = other.error_fd_ = -1;
}

ChildProcess::~ChildProcess() {
  if (go_fd_ >= 0) close(go_fd_);
  if (error_fd_ >= 0) close(error_fd_);
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

absl::Status ChildProcess::Go() {
  const char byte = 1;
  if (write(go_fd_, &byte, 1) != 1) return absl::InternalError(strerror(errno));
  close(go_fd_);
  go_fd_ = -1;
  // The error pipe closes at a successful exec (close-on-exec) or carries exec's errno.
  int err = 0;
  ssize_t n;
  do {
    n = read(error_fd_, &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  close(error_fd_);
  error_fd_ = -1;
  if (n == sizeof(err)) {
    waitpid(pid_, nullptr, 0);
    reaped_ = true;
    const std::string message = absl::StrCat("cannot run '", program_, "': ", strerror(err));
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(message, "; check the path"));
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);
  }
  return absl::OkStatus();
}

bool ChildProcess::TryWait(CommandExit* exit) {
  if (reaped_ || pid_ <= 0) return reaped_;
  int status;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return false;
  reaped_ = true;
  exit->exited = true;
  exit->code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  exit->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return true;
}

void ChildProcess::Stop(std::chrono::milliseconds grace, CommandExit* exit) {
  if (reaped_ || pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!TryWait(exit)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      int status;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
      *exit = {.exited = true, .code = 0, .signal = SIGKILL};
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace dprof::tracer::internal
