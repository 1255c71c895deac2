// dprof record's timer sampler: where perf_event_open is refused, the launched command samples
// itself with CPU-time timer signals through libdprof_agent.so (cli/agent/agent.cc), loaded by
// LD_PRELOAD, and writes the recording.
#ifndef DPROF_CLI_TIMER_AGENT_H_
#define DPROF_CLI_TIMER_AGENT_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dprof::cli {

struct TimerAgentOptions {
  std::vector<std::string> command;
  uint64_t frequency = 999;
  uint32_t stack_size = 32768;
  std::string output;  // the recording the agent writes
  mode_t mode = 0600;
  std::string command_metadata;  // how the recording names the command
};

struct TimerAgentRun {
  pid_t pid = 0;
  int wait_status = 0;  // waitpid's
};

// Runs the command with the agent to its end (SIGINT and SIGQUIT, which the terminal sends the
// command too, are ignored here meanwhile). NotFound when the agent library is not installed
// next to dprof; the command's own failures are in wait_status.
absl::StatusOr<TimerAgentRun> RunWithTimerAgent(const TimerAgentOptions& options);

}  // namespace dprof::cli

#endif  // DPROF_CLI_TIMER_AGENT_H_
