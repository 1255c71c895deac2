#include "tests/cli/cli_testing.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "gtest/gtest.h"

namespace dprof::testing {
namespace {

// Makes perf_event_open fail with `err` in this process and what it execs.
void DenyPerfEventOpen(int err) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_perf_event_open, 0, 1),
      BPF_STMT(BPF_RET | BPF_K,
               SECCOMP_RET_ERRNO | (static_cast<uint32_t>(err) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    _exit(126);
  }
}

}  // namespace

std::string ReachableByEveryone(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target = fs::absolute(path);
  bool reachable = true;
  for (fs::path p = target; reachable; p = p.parent_path()) {
    struct stat st = {};
    reachable = stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) != 0 &&
                (p != target || (st.st_mode & S_IROTH) != 0);
    if (p == p.root_path()) break;
  }
  if (reachable) return path;
  // Removed when this process exits.
  static const struct Dir {
    fs::path path =
        fs::path(::testing::TempDir()) / ("dprof-for-everyone-" + std::to_string(getpid()));
    ~Dir() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } copies;
  const fs::path& dir = copies.path;
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  auto copy = [&](const fs::path& from) {
    fs::copy_file(from, dir / from.filename(), fs::copy_options::overwrite_existing);
  };
  copy(target);
  if (const fs::path agent = target.parent_path() / "libdprof_agent.so"; fs::exists(agent)) {
    copy(agent);
  }
  return (dir / target.filename()).string();
}

CliProcess::CliProcess(const std::vector<std::string>& args, const CliOptions& options) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
  std::string program = options.program.empty() ? DPROF_CLI : options.program;
  if (options.as_nobody && geteuid() == 0) program = ReachableByEveryone(program);
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(126);
    if (options.as_nobody && geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
      _exit(126);
    }
    if (options.perf_errno != 0) DenyPerfEventOpen(options.perf_errno);
    for (const std::string& e : options.env) putenv(const_cast<char*>(e.c_str()));
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
}

CliProcess::~CliProcess() {
  if (pid_ > 0 && result_.exit_code < 0) {
    kill(pid_, SIGKILL);
    Finish();
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void CliProcess::Pump(int timeout_ms) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (poll(fds, 2, timeout_ms) <= 0) return;
  char buffer[65536];
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
    const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
    if (n > 0) {
      (i == 0 ? result_.out : result_.err).append(buffer, static_cast<size_t>(n));
    } else {
      close(fds[i].fd);
      (i == 0 ? out_fd_ : err_fd_) = -1;
    }
  }
}

bool CliProcess::WaitForStderr(const std::string& text, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (result_.err.find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline || (out_fd_ < 0 && err_fd_ < 0)) return false;
    Pump(50);
  }
  return true;
}

CliResult CliProcess::Finish() {
  while (out_fd_ >= 0 || err_fd_ >= 0) Pump(-1);
  int status = 0;
  if (pid_ > 0 && waitpid(pid_, &status, 0) == pid_) {
    result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return result_;
}

CliResult RunDprof(const std::vector<std::string>& args, const CliOptions& options) {
  CliProcess process(args, options);
  return process.Finish();
}

std::string ScratchDir(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  const std::filesystem::path dir = std::filesystem::path(tmp ? tmp : "/tmp") /
                                    ("dprof_cli_test_" + std::to_string(getpid())) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

namespace {

// Column `column` (0: self, 1: total) of the report row naming `function`.
double Share(const std::string& report, const std::string& function, int column) {
  std::istringstream in(report);
  std::string line;
  while (std::getline(in, line)) {
    // "  65.97%   66.12%      1.286 s  (anonymous namespace)::hot_a   cpu_bound_nofp"
    std::istringstream fields(line);
    double self = 0, total = 0;
    char percent = 0;
    if (!(fields >> self >> percent >> total) || percent != '%') continue;
    std::string word;
    while (fields >> word) {
      if (word == function || word.ends_with("::" + function)) return column == 0 ? self : total;
    }
  }
  return -1;
}

}  // namespace

double SelfShare(const std::string& report, const std::string& function) {
  return Share(report, function, 0);
}

double TotalShare(const std::string& report, const std::string& function) {
  return Share(report, function, 1);
}

}  // namespace dprof::testing
