// The async-signal-safe half of TimerSampler: per-thread snapshot buffers and the signal handler
// that fills them.
//
// A CaptureSession owns one ThreadSlot per sampled thread, each with a few Snapshot buffers. The
// handler, running on the interrupted thread, finds its slot through the timer's sigev_value
// (session generation and slot index, checked against the installed session), claims the next
// buffer if the reader has given it back, copies registers and stack into it and publishes it.
// The reader (TimerSampler's Run() thread) takes published buffers, hands them on and gives them
// back. Nothing here locks or allocates on the handler's side.
//
// Handler ↔ uninstall: the handler counts itself in before loading the session and out when done
// (seq_cst, Dekker-style); Uninstall() clears the session and waits for the count to reach zero,
// so no handler still uses a session whose memory is about to be freed.
#ifndef DPROF_TRACER_INTERNAL_SIGNAL_CAPTURE_H_
#define DPROF_TRACER_INTERNAL_SIGNAL_CAPTURE_H_

#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "dprof/cookie/cookie.h"
#include "dprof/event/event.h"
#include "dprof/unwind/registers.h"

namespace dprof::tracer::internal {

// One captured sample. state: kFree (the handler may fill it) → kReady (published; the reader's)
// → kFree again.
struct CapturedSample {
  enum State : uint32_t { kFree, kReady };
  std::atomic<uint32_t> state{kFree};
  uint64_t time_ns = 0;
  uint32_t cpu = 0;
  uint32_t overruns = 0;  // timer expirations folded into this signal
  cookie::Cookie cookie = cookie::kNoCookie;
  unwind::Registers regs;
  uint32_t stack_bytes = 0;  // copied into `stack`; 0 when the stack could not be read
  uint8_t* stack = nullptr;  // the slot's arena, stack_size bytes
};

// One sampled thread's timer and buffers.
struct ThreadSlot {
  size_t index = 0;  // in the session's table: what the timer's sigev_value names
  pid_t tid = 0;
  timer_t timer = {};
  bool armed = false;
  std::unique_ptr<uint8_t[]> arena;  // buffers * stack_size bytes
  std::unique_ptr<CapturedSample[]> samples;
  size_t buffers = 0;
  // Handler-only: the signal is blocked while its handler runs, and a thread's timer signals go
  // to that thread alone, so one handler at a time writes a slot.
  size_t next = 0;
  // Samples no buffer was free for. Relaxed: a counter the reader takes by exchange.
  std::atomic<uint64_t> dropped{0};
};

class CaptureSession {
 public:
  // Up to `max_slots` threads, `buffers_per_slot` buffers of `stack_size` bytes each; cookies
  // from `cookies` (the unwind engine's, which must outlive the session). The handler writes to
  // `wake_fd` (an eventfd; -1: none) when a thread has half its buffers waiting.
  CaptureSession(size_t max_slots, uint32_t stack_size, size_t buffers_per_slot, int wake_fd,
                 cookie::CookieAllocator* cookies);
  ~CaptureSession();

  // Installs the handler for `signo` and makes this the session it serves. FailedPrecondition
  // when the signal has a handler of someone else's or a session is installed already.
  absl::Status Install(int signo);
  // Stops serving: deletes every timer, discards pending signals, waits for running handlers,
  // restores the signal's previous action (unless the program installed another meanwhile).
  // Idempotent; a session is installed once.
  void Uninstall();
  bool installed() const { return installed_; }

  // A slot for thread `tid`, with a timer armed every `period_ns` of its CPU time; nullptr with
  // *error set when the timer could not be made (the thread exited: ESRCH/EINVAL; no free slot:
  // ENOSPC; the session is not installed: EPERM).
  ThreadSlot* AddSlot(pid_t tid, uint64_t period_ns, int* error);
  // The thread exited and its published buffers were given back: deletes its timer; a later
  // AddSlot() reuses the slot.
  void RemoveSlot(ThreadSlot* slot);
  // Whether `slot`'s thread still exists: its CPU-time timer is still counting.
  static bool ThreadAlive(const ThreadSlot& slot);

  // Every slot in use.
  const std::vector<ThreadSlot*>& slots() const { return in_use_; }
  uint32_t stack_size() const { return stack_size_; }

 private:
  static void Handler(int signo, siginfo_t* info, void* ucontext);
  void Capture(ThreadSlot& slot, const void* ucontext);

  const uint32_t generation_;
  const uint32_t stack_size_;
  const size_t buffers_per_slot_;
  const pid_t pid_;
  const int wake_fd_;
  int signo_ = 0;
  struct sigaction previous_ = {};
  bool installed_ = false;
  cookie::CookieAllocator* cookies_;  // wait-free, async-signal-safe
  // Published slot pointers by index (release store, acquire load in the handler).
  std::unique_ptr<std::atomic<ThreadSlot*>[]> table_;
  size_t max_slots_;
  std::vector<std::unique_ptr<ThreadSlot>> owned_;
  std::vector<ThreadSlot*> in_use_;
  std::vector<size_t> free_indices_;
};

// The clock that counts thread `tid`'s CPU time (what CLOCK_THREAD_CPUTIME_ID is on that thread).
clockid_t ThreadCpuClock(pid_t tid);

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_SIGNAL_CAPTURE_H_
