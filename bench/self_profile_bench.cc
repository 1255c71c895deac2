// What profiling itself costs a program: the same fixed work (rounds of the embedding samples'
// workload, hot_a then hot_b) with no profiler, with dprof::Profiler on perf_event and with the
// timer-signal fallback, both at 999 Hz with DWARF user stacks.
//
// Reported per configuration: the time per round on the profiled thread (its slowdown, signal
// handler included) and `profiler_cpu`, the CPU time of every other thread of the process (the
// profiler's reader and unwind workers) per second of the workload's CPU time.
#include <sys/resource.h>
#include <time.h>

#include <memory>

#include "benchmark/benchmark.h"
#include "dprof/profiler.h"
#include "samples/embed_workload/workload.h"

namespace {

double Seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; }

double ProcessCpuSeconds() {
  rusage u = {};
  getrusage(RUSAGE_SELF, &u);
  return Seconds(u.ru_utime) + Seconds(u.ru_stime);
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void BM_Rounds(benchmark::State& state, bool profile, dprof::Sampler sampler) {
  std::unique_ptr<dprof::Profiler> profiler;
  if (profile) {
    absl::StatusOr<std::unique_ptr<dprof::Profiler>> made =
        dprof::Profiler::Create({.frequency = 999, .sampler = sampler});
    absl::Status s = made.ok() ? (*made)->Start() : made.status();
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
    profiler = *std::move(made);
  }
  const double process_start = ProcessCpuSeconds(), thread_start = ThreadCpuSeconds();
  unsigned long long x = 1;
  for (auto _ : state) {
    x = one_round(x);
    benchmark::DoNotOptimize(x);
  }
  const double thread = ThreadCpuSeconds() - thread_start;
  const double others = ProcessCpuSeconds() - process_start - thread;
  state.counters["profiler_cpu"] = thread > 0 ? others / thread : 0;
  if (profiler != nullptr) {
    absl::StatusOr<dprof::Profile> p = profiler->Stop();
    if (p.ok()) state.counters["samples"] = static_cast<double>(p->view().total_count());
  }
}

BENCHMARK_CAPTURE(BM_Rounds, none, false, dprof::Sampler::kAuto)
    ->Iterations(2000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Rounds, perf_event, true, dprof::Sampler::kPerfEvent)
    ->Iterations(2000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Rounds, timer_signal, true, dprof::Sampler::kTimerSignal)
    ->Iterations(2000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
