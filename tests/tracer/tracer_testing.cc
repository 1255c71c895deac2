#include "tests/tracer/tracer_testing.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

namespace dprof::testing {

void CollectingSink::OnEvent(const event::TraceEvent& event) {
  std::lock_guard lock(mu_);
  events.push_back(event);
  events.back().raw = {};  // valid only during the call
  raw.emplace_back(event.raw.begin(), event.raw.end());
  // Frames the depot refused: copied, and the event points at the copies.
  events.back().kernel_pcs =
      refused_.emplace_back(event.kernel_pcs.begin(), event.kernel_pcs.end());
  events.back().user_pcs = refused_.emplace_back(event.user_pcs.begin(), event.user_pcs.end());
}

void CollectingSink::OnUserStack(cookie::Cookie cookie, const event::UserStackTrace& trace) {
  std::lock_guard lock(mu_);
  user_stacks[cookie].assign(trace.pcs.begin(), trace.pcs.end());
  ++deliveries[cookie];
}

void CollectingSink::OnComm(const event::CommRecord& comm) {
  std::lock_guard lock(mu_);
  comms[comm.tid] = std::string(comm.comm);
}

void CollectingSink::OnTask(const event::TaskRecord& task) {
  std::lock_guard lock(mu_);
  if (!task.exit) forks.push_back(task);
}

std::vector<uint64_t> CollectingSink::KernelPcs(const event::TraceEvent& event,
                                                const stackdepot::Depot& depot) const {
  std::span<const uint64_t> pcs = event.kernel_stack == stackdepot::kNoHandle
                                      ? event.kernel_pcs
                                      : depot.Fetch(event.kernel_stack);
  return {pcs.begin(), pcs.end()};
}

std::vector<uint64_t> CollectingSink::UserPcs(const event::TraceEvent& event,
                                              const stackdepot::Depot& depot) const {
  if (event.user == event::UserStack::kInline) {
    std::span<const uint64_t> pcs =
        event.user_stack == stackdepot::kNoHandle ? event.user_pcs : depot.Fetch(event.user_stack);
    return {pcs.begin(), pcs.end()};
  }
  if (event.user != event::UserStack::kDeferred) return {};
  auto it = user_stacks.find(event.cookie);
  return it == user_stacks.end() ? std::vector<uint64_t>{} : it->second;
}

bool PerfEventAvailable(std::string* why) {
  perf_event_attr attr = {};
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.disabled = 1;
  const long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    *why = std::strerror(errno);
    return false;
  }
  close(static_cast<int>(fd));
  return true;
}

std::string SampleProgram(const std::string& name, const std::string& variant) {
  return SampleFile(name + "_" + variant);
}

std::string SampleFile(const std::string& name) {
  return std::string(DPROF_SAMPLES_DIR) + "/" + name;
}

BusySample::BusySample(double seconds) {
  const std::string program = SampleProgram("cpu_bound", "nofp");
  const std::string s = std::to_string(seconds);
  pid_ = fork();
  if (pid_ == 0) {
    execl(program.c_str(), program.c_str(), s.c_str(), nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // past exec and startup
}

BusySample::~BusySample() {
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

double RatioTolerance(double a, double b) {
  if (a <= 0 || b <= 0) return 0.2;
  return std::max(0.2, 4.5 * (a / b) * std::sqrt(1 / a + 1 / b));
}

}  // namespace dprof::testing
