// dprof::unwind::DeferredUnwinder — one user-stack unwind per kernel entry, for every consumer.
//
// The user-space version of the kernel's deferred unwinding (docs/design.md). Consumers register
// a callback and get an UnwindWork (one bit of a request mask). For each event they want a user
// stack for, they Request() with the task's context. The first request of a kernel entry
// (named by its cookie, from a ContextTracker) copies the snapshot and queues one unwind job; later
// requests for the same cookie, from any work, only set their bit. A worker thread unwinds once
// and calls every work whose bit is set with the same trace and cookie: each work is called once
// per cookie, however often it asked (the kernel's per-task unwind_mask). A work asking first for
// a cookie whose unwind already ran gets the cached trace without a new unwind, and a snapshot
// identical in registers to a recent one, and in the stack bytes that one's unwind read
// (UnwindResult::stack_extent), reuses that one's result.
//
// Guarantees:
//  - Request() never waits for an unwind, and memory stays bounded: jobs and stack buffers come
//    from pools sized by Options (each is allocated the first time it is needed, then reused);
//    when the queue is full the snapshot is dropped and counted.
//  - After Cancel(work) returns, work's callback is not running anywhere and is never called
//    again; requests with it fail. Register() and Cancel() never block unwinding: the callback
//    table is read under RCU.
//  - Callbacks of different cookies run in parallel on the worker threads.
//
// Example:
//   auto engine = DeferredUnwinder::Create({.unwinder = MakeLibunwindUnwinder()}).value();
//   UnwindWork work = engine->Register([](const UnwindTrace& t, Cookie c) { Keep(c, t.pcs); })
//                         .value();
//   RequestResult r = engine->Request(work, context);  // per event, from the sampler thread
//   // r.cookie names the entry; the callback gets the trace with the same cookie, later.
//   engine->Cancel(work);
#ifndef DPROF_UNWIND_DEFERRED_UNWINDER_H_
#define DPROF_UNWIND_DEFERRED_UNWINDER_H_

#include <sys/types.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "dprof/cookie/context_tracker.h"
#include "dprof/cookie/cookie.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/sync/mutex.h"
#include "dprof/unwind/unwinder.h"

namespace dprof::unwind {

using cookie::Cookie;

// What every work that asked for a cookie receives.
struct UnwindTrace {
  std::span<const uint64_t> pcs = {};  // valid during the callback
  StopReason reason = StopReason::kOutermost;
  // The trace in Options::depot (pinned), or kNoHandle without a depot or when it was full.
  stackdepot::Handle handle = stackdepot::kNoHandle;
};

// Called on a worker thread, possibly in parallel with other cookies' callbacks; must not call
// Cancel() (it would wait for itself).
using UnwindCallback = std::function<void(const UnwindTrace& trace, Cookie cookie)>;

// A registered consumer. Invalid after Cancel().
struct UnwindWork {
  int bit = -1;
  uint64_t generation = 0;
};

// Memory holding a stack snapshot, 8-byte aligned.
using StackBuffer = std::vector<uint64_t>;

// What the sampler knows about an event when it asks for the task's user stack.
struct TaskContext {
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t cpu = 0;
  uint64_t time_ns = 0;
  bool user_mode = false;  // the event interrupted user code
  // Set when the entry is already named: by the kernel (native deferred callchains), or by a
  // sampler that took a cookie itself (tracer::TimerSampler's signal handler). Else the engine's
  // ContextTracker names it.
  Cookie cookie = cookie::kNoCookie;
  Registers regs = {};  // user registers
  uint64_t stack_address = 0;
  std::span<const uint8_t> stack = {};  // copied on the first request of an entry
  // The buffer `stack` lies in, when the caller is done with it: the first request of an entry
  // takes it (leaving one of the engine's in its place, of any size) instead of copying `stack`.
  StackBuffer* stack_buffer = nullptr;
  // Whether `stack` stays valid and unchanged until the engine's next Flush() returns (a perf.data
  // file mapped for the engine's life): the first request reads it in place, copying nothing.
  bool stack_lasts = false;
  std::shared_ptr<const AddressSpace> space = nullptr;
};

enum class RequestStatus {
  kQueued,          // this request queued the cookie's unwind, or a delivery of its cached trace
  kAlreadyPending,  // the work already asked in this kernel entry: its one callback for the
                    // cookie has run or will run
  kCanceled,        // the work was canceled (or never registered)
  kDropped,         // the queue was full: the snapshot was dropped (counted)
  kNoCookie,        // no cookie could be made for the event (counted by the tracker)
};
std::string_view RequestStatusName(RequestStatus status);

struct RequestResult {
  RequestStatus status;
  Cookie cookie = cookie::kNoCookie;
};

enum class EngineStat : int {
  kRequests,         // Request() calls
  kJobs,             // unwind jobs queued (one per cookie)
  kShared,           // requests served by another request's job: pending, or the cached trace
  kContentHits,      // jobs whose result came from an identical earlier snapshot, not an unwind
  kUnwinds,          // unwinds run
  kDeliveries,       // callback calls
  kDrops,            // snapshots dropped because the queue was full
  kTruncatedCopies,  // snapshots cut to Options::max_stack_bytes
  kCanceledRequests,
  kTakenSnapshots,  // snapshots whose buffer the engine took from the requester (not copied)
  kCount,
};
inline constexpr int kNumEngineStats = static_cast<int>(EngineStat::kCount);
std::string_view EngineStatName(EngineStat stat);

struct EngineStats {
  std::array<uint64_t, kNumEngineStats> values{};
  std::array<uint64_t, kNumStopReasons> stop_reasons{};  // of the unwinds run

  uint64_t operator[](EngineStat s) const { return values[static_cast<int>(s)]; }
  uint64_t stopped(StopReason r) const { return stop_reasons[static_cast<int>(r)]; }
  // Jobs finished: unwound, or answered by an identical snapshot's result.
  uint64_t done() const {
    return (*this)[EngineStat::kUnwinds] + (*this)[EngineStat::kContentHits];
  }
};

class DeferredUnwinder {
 public:
  static constexpr int kMaxWorks = 64;

  struct Options {
    std::unique_ptr<Unwinder> unwinder = nullptr;  // required
    int workers = 0;                               // 0: one per CPU
    // Jobs waiting for a worker: enough for a second of 999 Hz samples while the first unwinds
    // of a binary read its DWARF (each holds a stack copy of up to max_stack_bytes).
    size_t queue_capacity = 1024;
    size_t max_stack_bytes = kMaxStackCopy;  // per snapshot
    size_t max_frames = 256;
    size_t result_cache = 1024;   // finished cookies whose trace is kept for late requests
    size_t content_cache = 1024;  // snapshot contents whose result is kept for reuse
    stackdepot::Depot* depot = nullptr;
    size_t max_tasks = 65536;  // ContextTracker bound
  };

  // Starts the workers. Fails with InvalidArgument on a missing unwinder or a zero size.
  static absl::StatusOr<std::unique_ptr<DeferredUnwinder>> Create(Options options);
  // Runs every queued job to the end, then stops the workers.
  ~DeferredUnwinder();
  DeferredUnwinder(const DeferredUnwinder&) = delete;
  DeferredUnwinder& operator=(const DeferredUnwinder&) = delete;

  // Registers a consumer. ResourceExhausted when kMaxWorks are registered.
  // Context: any thread; never blocks unwinding.
  absl::StatusOr<UnwindWork> Register(UnwindCallback callback) ABSL_LOCKS_EXCLUDED(works_mu_);

  // Asks for the user stack of `context`'s kernel entry on behalf of `work`.
  // Context: any thread, including a callback; never waits for an unwind.
  RequestResult Request(UnwindWork work, const TaskContext& context) ABSL_LOCKS_EXCLUDED(mu_);
  // The same on behalf of several works at once (a sampler asking for its own consumer and
  // others sharing its unwinds): one cookie, one unwind, each work's callback once. kCanceled
  // only when every work is; canceled ones among others are counted and skipped.
  RequestResult Request(std::span<const UnwindWork> works, const TaskContext& context)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Unregisters `work`: further requests with it fail, its bit is cleared from pending jobs, and
  // when Cancel() returns its callback is not running and never runs again (also when another
  // thread is cancelling the same work: this call then waits for that one).
  // Context: may block for two RCU grace periods; never from a callback or inside a ReadLock.
  void Cancel(UnwindWork work) ABSL_LOCKS_EXCLUDED(works_mu_, mu_);

  // The task exited: forget its context (PERF_RECORD_EXIT).
  void TaskExited(uint32_t tid) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until every queued job has run and been delivered. Context: never from a callback.
  void Flush() ABSL_LOCKS_EXCLUDED(mu_) { WaitUntilAtMost(0); }
  // Waits until at most `jobs` jobs are queued or running: a source that must not drop (a file)
  // queues more while workers run the rest, and never more than queue_capacity at once.
  // Context: never from a callback.
  void WaitUntilAtMost(size_t jobs) ABSL_LOCKS_EXCLUDED(mu_);

  // Holds back the wake-ups of sleeping workers while it lives: the jobs queued meanwhile are
  // handed out at once when it ends. A sampler that reads events in rounds opens one per round,
  // so that workers wake a few times per round, not once per event: every wake-up of a thread on
  // another CPU interrupts what runs there (the target) with an IPI.
  // Context: the thread that makes most requests (other threads' jobs wait for its batch too).
  class Batch {
   public:
    explicit Batch(DeferredUnwinder* engine);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    DeferredUnwinder* engine_;
  };

  // Context: any thread; reads counters only (relaxed atomics), takes no lock.
  EngineStats Stats() const;

  // The worker threads' ids (they are named "dprof-unwind"): a profiler of its own process
  // leaves them out. Context: any thread.
  std::vector<pid_t> worker_tids() const ABSL_LOCKS_EXCLUDED(mu_);

  // The allocator the engine names kernel entries with. A sampler that names entries itself
  // (TaskContext::cookie, taken in a signal handler) takes its cookies here, so that they never
  // collide with the engine's. Context: NextOn() from any thread or signal handler.
  cookie::CookieAllocator* cookies() { return &cookies_; }

 private:
  struct Job;
  struct Work {
    UnwindCallback callback;
    uint64_t generation;
  };

  explicit DeferredUnwinder(Options options);
  void WorkerLoop();
  void Process(Job* job);
  void Unwind(Job* job);
  void Deliver(Job* job, Cookie cookie);
  void RetireLocked(Job* job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TrimContentCacheLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Job* TakeJobLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Count(EngineStat s, uint64_t n = 1) {
    stats_[static_cast<int>(s)].fetch_add(n, std::memory_order_relaxed);
  }

  Options options_;
  cookie::CookieAllocator cookies_;

  // The callback table, one slot per bit, read under RCU: a slot is published with release and
  // loaded with acquire; Cancel() clears it and waits for a grace period before freeing the Work.
  std::array<std::atomic<Work*>, kMaxWorks> works_{};
  sync::Mutex works_mu_;    // serializes Register() and Cancel()
  sync::CondVar canceled_;  // a Cancel() finished
  uint64_t used_bits_ ABSL_GUARDED_BY(works_mu_) = 0;
  uint64_t canceling_bits_ ABSL_GUARDED_BY(works_mu_) = 0;  // unlinked, not yet free
  uint64_t generations_ ABSL_GUARDED_BY(works_mu_) = 0;

  // Cookies, jobs and the queue.
  mutable sync::Mutex mu_;
  sync::CondVar work_ready_;  // a job was queued, or stopping_
  sync::CondVar idle_;        // a job finished, or a worker started
  cookie::ContextTracker tracker_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Cookie, Job*> jobs_ ABSL_GUARDED_BY(mu_);
  // Snapshot contents (two independent 64-bit hashes, so that a collision is out of reach) to a
  // finished job with that content's result.
  struct ContentKey {
    uint64_t a = 0, b = 0;
    bool operator==(const ContentKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const ContentKey& k) {
      return H::combine(std::move(h), k.a, k.b);
    }
  };
  absl::flat_hash_map<ContentKey, Job*> by_content_ ABSL_GUARDED_BY(mu_);
  // Insertion order of by_content_, for eviction; entries whose job moved on are skipped.
  std::deque<std::pair<ContentKey, Job*>> content_order_ ABSL_GUARDED_BY(mu_);
  std::deque<Job*> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<Job*> done_ ABSL_GUARDED_BY(mu_);  // finished jobs, oldest first, for eviction
  std::vector<Job*> free_jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<StackBuffer*> free_stacks_ ABSL_GUARDED_BY(mu_);
  size_t max_jobs_ = 0;  // queued, running and kept for late requests
  std::vector<std::unique_ptr<Job>> all_jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<StackBuffer>> all_stacks_;
  size_t busy_ ABSL_GUARDED_BY(mu_) = 0;           // jobs queued or being processed
  // Threads in WaitUntilAtMost(), and the largest number of jobs one of them waits for: a
  // finished job wakes them only when busy_ is down to it, not once per job.
  int idle_waiters_ ABSL_GUARDED_BY(mu_) = 0;
  size_t idle_at_ ABSL_GUARDED_BY(mu_) = 0;
  size_t filling_ ABSL_GUARDED_BY(mu_) = 0;        // new jobs whose snapshot is being copied in
  int sleeping_workers_ ABSL_GUARDED_BY(mu_) = 0;  // waiting on work_ready_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<pid_t> worker_tids_ ABSL_GUARDED_BY(mu_);

  // Open batches (Batch). Relaxed: a request that misses a batch's start wakes a worker early, one
  // that misses its end leaves its job to the end's wake-up, which takes mu_ after it.
  std::atomic<int> batches_{0};
  std::array<std::atomic<uint64_t>, kNumEngineStats> stats_{};
  std::array<std::atomic<uint64_t>, kNumStopReasons> stop_reasons_{};
  std::vector<std::thread> workers_;
};

}  // namespace dprof::unwind

#endif  // DPROF_UNWIND_DEFERRED_UNWINDER_H_
