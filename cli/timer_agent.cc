#include "cli/timer_agent.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dprof::cli {
namespace {

// The agent next to the dprof binary (the build tree), or in ../lib/dprof (an installation).
absl::StatusOr<std::string> AgentPath() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot read /proc/self/exe: ", ec.message()));
  for (const std::filesystem::path& candidate :
       {exe.parent_path() / "libdprof_agent.so",
        exe.parent_path().parent_path() / "lib" / "dprof" / "libdprof_agent.so"}) {
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
  }
  return absl::NotFoundError(absl::StrCat("the timer sampler needs libdprof_agent.so next to ",
                                          exe.string(),
                                          " or in its ../lib/dprof; reinstall dprof"));
}

}  // namespace

absl::StatusOr<TimerAgentRun> RunWithTimerAgent(const TimerAgentOptions& o) {
  absl::StatusOr<std::string> agent = AgentPath();
  if (!agent.ok()) return agent.status();
  std::vector<char*> argv;
  for (const std::string& arg : o.command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  // Everything the child needs, made before fork.
  const char* preload = std::getenv("LD_PRELOAD");
  const std::string preload_value =
      preload == nullptr || *preload == '\0' ? *agent : absl::StrCat(*agent, ":", preload);
  const std::string frequency = absl::StrCat(o.frequency);
  const std::string stack = absl::StrCat(o.stack_size);
  const std::string mode = absl::StrFormat("%o", o.mode);

  struct sigaction ignore = {}, old_int = {}, old_quit = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
    return absl::ErrnoToStatus(error, "cannot start the command: fork");
  }
  if (pid == 0) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
    char self[16];
    std::snprintf(self, sizeof(self), "%d", static_cast<int>(getpid()));
    setenv("DPROF_AGENT_PID", self, 1);
    setenv("DPROF_AGENT_OUTPUT", o.output.c_str(), 1);
    setenv("DPROF_AGENT_FREQ", frequency.c_str(), 1);
    setenv("DPROF_AGENT_STACK", stack.c_str(), 1);
    setenv("DPROF_AGENT_MODE", mode.c_str(), 1);
    setenv("DPROF_AGENT_COMMAND", o.command_metadata.c_str(), 1);
    setenv("LD_PRELOAD", preload_value.c_str(), 1);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "dprof: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  TimerAgentRun run{.pid = pid};
  while (waitpid(pid, &run.wait_status, 0) < 0 && errno == EINTR) {
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  return run;
}

}  // namespace dprof::cli
