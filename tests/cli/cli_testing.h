// Support for the CLI tests: runs the real dprof binary (or a sample program), as a user would,
// and collects what it printed and how it exited.
#ifndef DPROF_TESTS_CLI_CLI_TESTING_H_
#define DPROF_TESTS_CLI_CLI_TESTING_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace dprof::testing {

struct CliResult {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string out;     // stdout
  std::string err;     // stderr
};

struct CliOptions {
  std::string cwd = {};  // "": this process's
  // When non-zero, perf_event_open fails with this errno in dprof (a seccomp filter), as in a
  // container or under kernel.perf_event_paranoid=3.
  int perf_errno = 0;
  // Run as uid/gid 65534 (when this process is root). The program is run from a copy every user
  // can reach when its own directory is closed to them (a build tree under /root).
  bool as_nobody = false;
  std::string program = {};  // "": the dprof binary; else this program (a path, or on PATH)
  std::vector<std::string> env = {};  // "NAME=VALUE" added to the environment
};

// A dprof process started in the background, its output going to pipes.
class CliProcess {
 public:
  CliProcess(const std::vector<std::string>& args, const CliOptions& options = {});
  ~CliProcess();
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Reads stderr until it contains `text` or `timeout_s` passed: whether it did.
  bool WaitForStderr(const std::string& text, double timeout_s);
  // Reads everything to the end and reaps the process.
  CliResult Finish();

 private:
  void Pump(int timeout_ms);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  CliResult result_;
};

// `path` when every user can reach and run it, else a copy that every user can (in a directory of
// this process under the test's temporary directory; a copy of the dprof binary takes the timer
// sampler's agent along). For a program a test runs as another user.
std::string ReachableByEveryone(const std::string& path);

// Runs dprof with `args` to the end.
CliResult RunDprof(const std::vector<std::string>& args, const CliOptions& options = {});

// A fresh empty directory under the test's temporary directory.
std::string ScratchDir(const std::string& name);

// The share (percent) of the report row naming `function`'s self weight; -1 when absent.
double SelfShare(const std::string& report, const std::string& function);
// The same of its total weight (the second column).
double TotalShare(const std::string& report, const std::string& function);

}  // namespace dprof::testing

#endif  // DPROF_TESTS_CLI_CLI_TESTING_H_
