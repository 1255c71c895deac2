// dprof::tracer::TimerSampler — a process samples its own threads with CPU-time timer signals,
// where perf_event_open is not allowed (a container's default seccomp profile,
// kernel.perf_event_paranoid=3).
//
// Every thread of the calling process (but those excluded: dprof's own) gets a timer on its own
// CPU-time clock (timer_create on the thread's CLOCK_THREAD_CPUTIME_ID clock, SIGEV_THREAD_ID):
// after each period of CPU time the thread ran, the kernel interrupts it with a signal. The
// handler runs on the interrupted thread and only copies: the user registers from its ucontext and
// the top of its stack (process_vm_readv, which reports an unmapped page instead of faulting) into
// a buffer the sampler preallocated for that thread, a cookie from the lock-free allocator, the
// time and CPU. It takes no lock, allocates nothing, and never calls into the profiler, the stack
// depot, RCU or the unwind engine: any of those may be what the thread was interrupted in
// (read-side primitives used from such a context must not recurse into it), and
// liburcu's read side registers a thread on first use, which allocates.
//
// The thread that calls Run() then hands each captured snapshot, with the cookie the handler took,
// to the same DeferredUnwinder the perf_event path uses, and emits a kSample event (weight: the
// CPU time it stands for, overruns included) with a kDeferred user stack. Samples a thread took
// while all its buffers waited become one event per drain, weighted by their CPU time, with a
// kDropped user stack: the time stays in the profile. Threads that start later are found by
// scanning /proc/self/task (Options::thread_scan_interval); threads that exit have their timer
// deleted and their buffers reused.
//
// What it cannot do, compared with perf_event: kernel stacks (the signal arrives on return to user
// space), other processes, tracepoints and off-CPU time. Threads that live shorter than a scan are
// not sampled. A syscall interrupted by the signal is restarted (SA_RESTART) except those the
// kernel never restarts (sleeps with a timeout, epoll_wait), as with any SIGPROF profiler.
//
// Example (what dprof::Profiler does when perf_event_open fails):
//   TimerSampler::Options o{.frequency = 999, .exclude_tids = engine->worker_tids(),
//                           .depot = depot, .engine = engine};
//   auto sampler = TimerSampler::Create(o, &sink).value();
//   absl::Status s = sampler->Start();   // on the thread that will call Run(): never sampled
//   s = sampler->Run();                  // until RequestStop()
//
// Context: Create on any thread; Start and Run on one thread (the one never sampled);
// RequestStop() from any thread or a signal handler; Stats() from any thread. One TimerSampler
// samples a process at a time.
#ifndef DPROF_TRACER_TIMER_SAMPLER_H_
#define DPROF_TRACER_TIMER_SAMPLER_H_

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/tracer/tracer.h"
#include "dprof/unwind/deferred_unwinder.h"

namespace dprof::tracer {

class TimerSampler : public event::EventSource {
 public:
  struct Options {
    uint64_t frequency = 999;  // samples per second of each thread's CPU time
    uint64_t period = 0;       // nanoseconds of a thread's CPU time per sample, instead
    uint32_t stack_size =
        32768;             // bytes of stack copied per sample; 8..unwind::kMaxStackCopy (65528)
    int signal = SIGPROF;  // must have no handler of the process's own
    // Threads never sampled besides the one that calls Start() and Run(): the unwind workers and
    // any other thread of the embedding profiler.
    std::vector<pid_t> exclude_tids = {};
    stackdepot::Depot* depot = nullptr;                 // not owned; nullptr: the sampler's own
    unwind::DeferredUnwinder* engine = nullptr;         // not owned; nullptr: its own (DWARF)
    std::vector<unwind::UnwindWork> shared_works = {};  // as TracerOptions::shared_works
    int unwind_workers = 0;                             // for its own engine; 0: one per CPU
    size_t max_threads = 4096;  // threads sampled at once; more are counted (kThreadsNotSampled)
    size_t buffers_per_thread = 8;  // snapshots a thread may have waiting for Run()
    std::chrono::milliseconds thread_scan_interval{100};
  };

  // Checks the options. `sink` must outlive the sampler.
  static absl::StatusOr<std::unique_ptr<TimerSampler>> Create(Options options,
                                                              event::TraceSink* sink);
  // Stops sampling if Run() did not (timers deleted, the signal's previous action restored).
  ~TimerSampler() override;
  TimerSampler(const TimerSampler&) = delete;
  TimerSampler& operator=(const TimerSampler&) = delete;

  // Installs the handler and arms a timer on every thread of the process but the excluded ones
  // and the calling thread. FailedPrecondition when the signal already has a handler or another
  // TimerSampler runs; the error names the way out.
  absl::Status Start() override;
  // Emits the captured samples until RequestStop() or `duration` (0: no limit); then stops the
  // timers, restores the signal's action, emits what was left and waits for every user stack.
  // Once: a second call (or one after a failed Start()) is FailedPrecondition.
  absl::Status Run(std::chrono::nanoseconds duration = std::chrono::nanoseconds(0)) override;
  // Context: any thread; async-signal-safe.
  void RequestStop() override;
  // kSamples, kDroppedSnapshots (a thread's buffers were all waiting, or the engine's queue was
  // full), kTruncatedSnapshots, kNoUserContext (the stack could not be read), kThreadsNotSampled;
  // per thread; and the engine's. Context: any thread.
  event::TracerStats Stats() const override;
  stackdepot::Depot* depot() const override;
  unwind::BinaryCache* binaries() const override;

 private:
  class Impl;
  explicit TimerSampler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dprof::tracer

#endif  // DPROF_TRACER_TIMER_SAMPLER_H_
