// Support for the tracer tests: a sink that keeps everything, the perf_event gate, and the paths
// of the sample programs.
#ifndef DPROF_TESTS_TRACER_TRACER_TESTING_H_
#define DPROF_TESTS_TRACER_TRACER_TESTING_H_

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "dprof/tracer/tracer.h"

namespace dprof::testing {

// Keeps every event, user stack, name and task record the tracer produced.
class CollectingSink : public event::TraceSink {
 public:
  void OnEvent(const event::TraceEvent& event) override;
  void OnUserStack(cookie::Cookie cookie, const event::UserStackTrace& trace) override;
  void OnComm(const event::CommRecord& comm) override;
  void OnTask(const event::TaskRecord& task) override;

  // Read after Run() returned.
  std::vector<event::TraceEvent> events;
  std::vector<std::vector<uint8_t>> raw;  // a copy of each event's tracepoint fields
  std::map<uint32_t, std::string> comms;  // by tid
  std::vector<event::TaskRecord> forks;   // FORK records
  std::map<cookie::Cookie, std::vector<uint64_t>> user_stacks;
  std::map<cookie::Cookie, int> deliveries;  // OnUserStack calls per cookie

  // The kernel frames of `event`: from the depot, or those it refused; empty when none.
  std::vector<uint64_t> KernelPcs(const event::TraceEvent& event,
                                  const stackdepot::Depot& depot) const;
  // The user frames of `event`: inline (from the depot, or those it refused), or delivered for its
  // cookie; empty when none.
  std::vector<uint64_t> UserPcs(const event::TraceEvent& event,
                                const stackdepot::Depot& depot) const;

 private:
  std::mutex mu_;                              // OnUserStack runs on unwind workers
  std::deque<std::vector<uint64_t>> refused_;  // what events' kernel_pcs and user_pcs point at
};

// Whether perf_event_open works here at all (a cpu-clock event on this thread). Tests that need
// it call DPROF_REQUIRE_PERF_OR_SKIP(): they skip when it does not, unless DPROF_REQUIRE_PERF=1,
// which turns the skip into a failure (CI).
bool PerfEventAvailable(std::string* why);

#define DPROF_REQUIRE_PERF_OR_SKIP()                                                         \
  do {                                                                                       \
    std::string why;                                                                         \
    if (!::dprof::testing::PerfEventAvailable(&why)) {                                       \
      const char* require = std::getenv("DPROF_REQUIRE_PERF");                               \
      if (require != nullptr && std::string(require) == "1") {                               \
        FAIL() << "perf_event_open is unavailable (" << why << ") and DPROF_REQUIRE_PERF=1"; \
      }                                                                                      \
      GTEST_SKIP() << "perf_event_open is unavailable: " << why;                             \
    }                                                                                        \
  } while (0)

// How far a ratio of two sample counts (samples/cpu_bound's hot_a : hot_b, 2:1) may stray from
// the truth by sampling alone: a VM's timer jitters, samples land about binomially, and a ratio
// of counts a/b has a standard error of about (a/b)·sqrt(1/a + 1/b). 4.5 of them (at 2000
// samples: 0.43), at least 0.2: the suite checks dozens of such ratios in each of its four
// trees, and at 3.5 one run in a few failed by chance alone (CI: 610:376 at a fixed period,
// 3.2 standard errors off).
double RatioTolerance(double a, double b);

// samples/<name>_<variant> ("fp" or "nofp").
std::string SampleProgram(const std::string& name, const std::string& variant);
// A file the samples/ build wrote: "inlined", "libdlopen_plugin.so", "debug/dlopen_plugin.debug".
std::string SampleFile(const std::string& name);

// samples/cpu_bound_nofp running in the background for `seconds`, past its exec and startup when
// constructed; killed (and reaped) when destroyed.
class BusySample {
 public:
  explicit BusySample(double seconds);
  ~BusySample();
  BusySample(const BusySample&) = delete;
  BusySample& operator=(const BusySample&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

}  // namespace dprof::testing

#endif  // DPROF_TESTS_TRACER_TRACER_TESTING_H_
