// libdprof_agent.so: `dprof record --sampler timer` inside the launched command. Where
// perf_event_open is refused, only a process can sample itself (CPU-time timer signals), so
// dprof record starts the command with this library in LD_PRELOAD and these variables:
//
//   DPROF_AGENT_PID      the pid the command runs as: only that process records (not the
//                        processes it starts, which inherit the environment)
//   DPROF_AGENT_OUTPUT   the recording to write
//   DPROF_AGENT_FREQ     samples per second of CPU time; DPROF_AGENT_STACK bytes of stack copied
//   DPROF_AGENT_MODE     the recording file's mode (octal)
//   DPROF_AGENT_COMMAND  the command as the recording's metadata names it
//
// It records from before main() until the process exits (exit(), or a return from main); the
// recording is readable up to its last chunk whatever happens. When the process execs, the new
// program records in its place (the file is replaced): a wrapper (env, a shim, a shell's exec)
// leaves the program it runs recorded.
// Being the command-line tool's part, it says what went wrong on the command's stderr.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "dprof/profiler.h"

namespace {

// The agent's profiler, and the process it records (a forked child inherits the pointer but not
// the threads behind it).
dprof::Profiler* agent = nullptr;
pid_t agent_pid = 0;

void Say(const std::string& message) { std::fprintf(stderr, "dprof: %s\n", message.c_str()); }

std::string Get(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// A process the command started: neither it nor what it starts is recorded, or loads the agent.
void Forget() {
  for (const char* name : {"DPROF_AGENT_PID", "DPROF_AGENT_OUTPUT", "DPROF_AGENT_FREQ",
                           "DPROF_AGENT_STACK", "DPROF_AGENT_MODE", "DPROF_AGENT_COMMAND"}) {
    unsetenv(name);
  }
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload != nullptr &&
      std::string_view(preload).find("libdprof_agent.so") != std::string_view::npos) {
    unsetenv("LD_PRELOAD");
  }
}

void FinishAgent() {
  if (agent == nullptr || getpid() != agent_pid) return;
  if (absl::Status s = agent->Finish(); !s.ok()) Say(std::string(s.message()));
}

[[gnu::constructor]] void StartAgent() {
  // The launched process keeps the variables: a program it execs (env, a wrapper, a shell's
  // exec) records again, in its place.
  int wanted = 0;
  const std::string output = Get("DPROF_AGENT_OUTPUT");
  if (!absl::SimpleAtoi(Get("DPROF_AGENT_PID"), &wanted) || wanted != getpid() || output.empty()) {
    Forget();
    return;
  }
  const std::string frequency = Get("DPROF_AGENT_FREQ");
  const std::string stack = Get("DPROF_AGENT_STACK");
  const std::string mode = Get("DPROF_AGENT_MODE");
  const std::string command = Get("DPROF_AGENT_COMMAND");

  dprof::ProfilerOptions o{.call_graph = dprof::tracer::CallGraph::kDwarf,
                           .output = output,
                           .sampler = dprof::Sampler::kTimerSignal};
  uint64_t value = 0;
  if (absl::SimpleAtoi(frequency, &value)) o.frequency = value;
  if (absl::SimpleAtoi(stack, &value)) o.stack_size = static_cast<uint32_t>(value);
  if (unsigned m = 0; !mode.empty() && std::sscanf(mode.c_str(), "%o", &m) == 1) o.output_mode = m;
  if (!command.empty()) o.metadata["command"] = command;
  absl::StatusOr<std::unique_ptr<dprof::Profiler>> created = dprof::Profiler::Create(o);
  if (!created.ok()) {
    Say("the timer sampler could not start: " + std::string(created.status().message()));
    return;
  }
  if (absl::Status s = (*created)->Start(); !s.ok()) {
    Say("the timer sampler could not start: " + std::string(s.message()));
    return;
  }
  // Never destroyed: exit runs it once, and the threads it stops are needed until then.
  agent = created->release();
  agent_pid = getpid();
  std::atexit(FinishAgent);
}

}  // namespace
