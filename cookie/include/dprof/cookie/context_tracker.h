// dprof::cookie::ContextTracker — which kernel entry does an event belong to?
//
// The kernel clears a task's cookie when the task returns to user space; every event in between
// (timer samples taken in kernel mode, sched_switch out and back in, syscall tracepoints) shares
// it, and the user stack of all of them is unwound once. Where the kernel hands out cookies itself
// (native deferred callchains, Linux 6.19+) AcceptNative() takes them as they are. Elsewhere the
// tracker infers the entry from what each event carries (docs/design.md, "When do two events share
// a kernel entry?"):
//
//  - a sample taken in user mode is a context of its own;
//  - a sample taken in kernel mode continues the task's current context while the user registers
//    (saved at kernel entry) are unchanged and no user-mode event of the task came in between;
//  - anything else starts a new context, with a new cookie made on the CPU of its first event.
//
// Per-task state is a few words, dropped on TaskExited(), and bounded by Options::max_tasks: when
// full, the longest-idle eighth of the tasks is forgotten (a forgotten task's next kernel event
// starts a new context: one extra unwind, never a wrong stitch).
//
// Example (the ring-buffer reader, per sample):
//   dprof::cookie::ContextTracker tracker(&cookies);
//   Cookie c = tracker.Track({.tid = s.tid, .cpu = s.cpu, .time_ns = s.time, .user_mode = false,
//                             .user_regs = s.user_regs});
//
// Context: not thread-safe; one tracker belongs to one thread (the one reading the ring buffers).
// Track() does not allocate once the task is known.
#ifndef DPROF_COOKIE_CONTEXT_TRACKER_H_
#define DPROF_COOKIE_CONTEXT_TRACKER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/container/flat_hash_map.h"
#include "dprof/cookie/cookie.h"

namespace dprof::cookie {

struct TaskEvent {
  uint32_t tid = 0;
  uint32_t cpu = 0;
  uint64_t time_ns = 0;
  // Taken while the task ran user code (PERF_RECORD_MISC_USER), as opposed to in the kernel.
  bool user_mode = false;
  // The task's user registers: at the interrupt for a user-mode event, as saved at kernel entry
  // for a kernel-mode one (PERF_SAMPLE_REGS_USER). Any fixed register set; compared as a whole.
  std::span<const uint64_t> user_regs;
};

enum class TrackerStat : int {
  kContexts,        // new contexts started (cookies made)
  kJoined,          // events that continued their task's current context
  kNativeAccepted,  // kernel-made cookies taken as they are
  kNativeInvalid,   // kernel-made cookies that were malformed (a new one was made instead)
  kUnallocated,     // events the allocator could not serve (CPU beyond its counters)
  kTasksExited,     // tasks dropped on exit
  kTasksEvicted,    // tasks forgotten because max_tasks was reached
  kCount,
};
inline constexpr int kNumTrackerStats = static_cast<int>(TrackerStat::kCount);

class ContextTracker {
 public:
  struct Options {
    size_t max_tasks = 65536;
  };

  // `cookies` must outlive the tracker.
  explicit ContextTracker(CookieAllocator* cookies) : ContextTracker(cookies, Options{}) {}
  ContextTracker(CookieAllocator* cookies, const Options& options);

  // The cookie of the kernel entry `event` belongs to; kNoCookie when none could be made.
  Cookie Track(const TaskEvent& event);

  // A cookie the kernel made for `tid` (PERF_CONTEXT_USER_DEFERRED). Valid ones are used as they
  // are and become the task's current context; a malformed one is replaced by a new cookie on
  // `cpu`, the same for every event that carries it.
  Cookie AcceptNative(uint32_t tid, uint32_t cpu, uint64_t time_ns, Cookie native);

  // The consumers (one bit each) that asked for the user stack of the task's current context, and
  // recording one more: the kernel's per-task unwind_mask, which makes one callback per consumer
  // per kernel entry. Every new context starts with none.
  uint64_t Requested(uint32_t tid) const;
  void AddRequested(uint32_t tid, uint64_t bits);
  // Clears `bits` in every task (their consumer went away). O(tasks).
  void ClearRequested(uint64_t bits);
  // Forgets the task (PERF_RECORD_EXIT).
  void TaskExited(uint32_t tid);

  size_t tasks() const { return tasks_.size(); }
  uint64_t stat(TrackerStat s) const { return stats_[static_cast<int>(s)]; }

 private:
  struct TaskState {
    Cookie cookie = kNoCookie;
    uint64_t regs_hash = 0;
    uint64_t last_time_ns = 0;
    // The current context is a kernel entry that later kernel-mode events may continue.
    bool open = false;
    // With native cookies: the kernel's cookie the current context came from.
    Cookie native = kNoCookie;
    uint64_t requested = 0;  // consumer bits that asked in the current context
  };

  TaskState& StateOf(uint32_t tid, uint64_t time_ns);
  Cookie NewContext(TaskState& state, uint32_t cpu);
  void EvictIdle();
  void Count(TrackerStat s) { ++stats_[static_cast<int>(s)]; }

  CookieAllocator* cookies_;
  Options options_;
  absl::flat_hash_map<uint32_t, TaskState> tasks_;
  std::array<uint64_t, kNumTrackerStats> stats_{};
};

}  // namespace dprof::cookie

#endif  // DPROF_COOKIE_CONTEXT_TRACKER_H_
