#include "dprof/unwind/deferred_unwinder.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "dprof/rcu/rcu.h"
#include "dprof/sync/mutex.h"

namespace dprof::unwind {

std::string_view EngineStatName(EngineStat stat) {
  static constexpr std::string_view kNames[] = {
      "requests",   "jobs",  "shared",           "content hits",      "unwinds",
      "deliveries", "drops", "truncated copies", "canceled requests", "taken snapshots",
  };
  static_assert(std::size(kNames) == kNumEngineStats);
  return kNames[static_cast<int>(stat)];
}

// One kernel entry's unwind: its snapshot until the unwind ran, then its result.
struct DeferredUnwinder::Job {
  enum class State {
    kFree,     // in free_jobs_
    kFilling,  // the first requester is copying the snapshot in
    kQueued,   // waiting for a worker (to unwind, or only to deliver the cached trace)
    kRunning,  // a worker owns it: unwinding and delivering
    kDone,     // result kept for late requests, until evicted
  };

  // Guarded by mu_.
  State state = State::kFree;
  Cookie cookie = cookie::kNoCookie;
  uint64_t requested = 0;  // works that asked
  uint64_t delivered = 0;  // works called
  bool has_result = false;
  bool in_done_list = false;
  bool owns_content_entry = false;
  ContentKey content;
  // What of its snapshot decided the result (kept with the result, for the content cache): the
  // bytes up to stack_extent (kWholeStack: all stack_size of them), hashed into stack_hash.
  uint64_t stack_extent = kWholeStack;
  uint64_t stack_size = 0;
  uint64_t stack_hash = 0;

  // The snapshot: written by the first requester while kFilling, then read by one worker while
  // kRunning. The stack buffer goes back to the pool once the unwind ran.
  uint32_t pid = 0, tid = 0;
  Registers regs;
  uint64_t stack_address = 0;
  StackBuffer* stack = nullptr;
  std::span<const uint8_t> stack_bytes;  // in *stack
  std::shared_ptr<const AddressSpace> space;

  // The result: written by the worker before has_result is set (under mu_), read-only after.
  std::vector<uint64_t> pcs;
  size_t frames = 0;
  StopReason reason = StopReason::kOutermost;
  stackdepot::Handle handle = stackdepot::kNoHandle;
};

std::string_view RequestStatusName(RequestStatus status) {
  switch (status) {
    case RequestStatus::kQueued:
      return "queued";
    case RequestStatus::kAlreadyPending:
      return "already pending";
    case RequestStatus::kCanceled:
      return "work canceled";
    case RequestStatus::kDropped:
      return "dropped: unwind queue full";
    case RequestStatus::kNoCookie:
      return "no cookie";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<DeferredUnwinder>> DeferredUnwinder::Create(Options options) {
  if (options.unwinder == nullptr) {
    return absl::InvalidArgumentError("deferred unwinder: Options::unwinder is required");
  }
  if (options.queue_capacity == 0 || options.max_stack_bytes == 0 || options.max_frames == 0) {
    return absl::InvalidArgumentError(
        "deferred unwinder: queue_capacity, max_stack_bytes and max_frames must be positive");
  }
  if (options.workers <= 0) {
    options.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  return std::unique_ptr<DeferredUnwinder>(new DeferredUnwinder(std::move(options)));
}

DeferredUnwinder::DeferredUnwinder(Options options)
    : options_(std::move(options)),
      tracker_(&cookies_, cookie::ContextTracker::Options{.max_tasks = options_.max_tasks}) {
  // Every job that can be queued or running needs a stack buffer; finished ones keep only their
  // result. Buffers grow to their size on first use and are reused after; jobs are made when
  // first needed, up to max_jobs_ (so a queue sized for a burst costs memory only in one).
  const size_t in_flight = options_.queue_capacity + static_cast<size_t>(options_.workers);
  max_jobs_ = in_flight + options_.result_cache;
  sync::MutexLock lock(&mu_);
  for (size_t i = 0; i < in_flight; ++i) {
    all_stacks_.push_back(std::make_unique<StackBuffer>());
    free_stacks_.push_back(all_stacks_.back().get());
  }
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  // worker_tids() is complete once Create() returns: a self-profiler excludes these threads
  // before it opens its events.
  while (worker_tids_.size() != workers_.size()) idle_.Wait(&mu_);
}

DeferredUnwinder::~DeferredUnwinder() {
  Flush();
  {
    sync::MutexLock lock(&mu_);
    stopping_ = true;
  }
  work_ready_.NotifyAll();
  for (std::thread& t : workers_) t.join();
  for (std::atomic<Work*>& slot : works_) delete slot.load(std::memory_order_relaxed);
}

absl::StatusOr<UnwindWork> DeferredUnwinder::Register(UnwindCallback callback) {
  if (!callback) return absl::InvalidArgumentError("deferred unwinder: empty callback");
  sync::MutexLock lock(&works_mu_);
  if (used_bits_ == ~uint64_t{0}) {
    return absl::ResourceExhaustedError(absl::StrCat("deferred unwinder: all ", kMaxWorks,
                                                     " works are registered; cancel one first"));
  }
  const int bit = std::countr_one(used_bits_);
  auto* work = new Work{std::move(callback), ++generations_};
  used_bits_ |= uint64_t{1} << bit;
  // Release: publishes the Work; pairs with the acquire loads in Request() and Deliver().
  works_[bit].store(work, std::memory_order_release);
  return UnwindWork{bit, work->generation};
}

void DeferredUnwinder::Cancel(UnwindWork work) {
  assert(!rcu::InReadSection() && "Cancel() inside a read-side section would wait for itself");
  if (work.bit < 0 || work.bit >= kMaxWorks) return;
  const uint64_t mask = uint64_t{1} << work.bit;
  Work* unlinked = nullptr;
  {
    sync::MutexLock lock(&works_mu_);
    Work* current = works_[work.bit].load(std::memory_order_relaxed);
    if (current == nullptr || current->generation != work.generation) {
      // Already unlinked. If that Cancel() is still under way (the bit is not free yet, and no
      // newer work has it), its promise is not kept yet: wait until it is.
      while ((canceling_bits_ & mask) != 0) canceled_.Wait(&works_mu_);
      return;
    }
    // From here on Request() refuses the work and Deliver() skips it.
    works_[work.bit].store(nullptr, std::memory_order_release);
    canceling_bits_ |= mask;
    unlinked = current;
  }
  // Every Request() that still saw the work has set its bit, and every callback of it has
  // returned: both happen inside read-side sections.
  rcu::Synchronize();
  {
    sync::MutexLock lock(&mu_);
    for (auto& [cookie, job] : jobs_) {
      job->requested &= ~mask;
      job->delivered &= ~mask;
    }
    tracker_.ClearRequested(mask);  // a later work with the bit starts afresh
  }
  // A worker may have read a pending mask naming the bit before it was cleared; it did so inside
  // a read-side section, which has ended now. Only then may a new work get the bit.
  rcu::Synchronize();
  delete unlinked;
  {
    sync::MutexLock lock(&works_mu_);
    used_bits_ &= ~mask;
    canceling_bits_ &= ~mask;
  }
  canceled_.NotifyAll();
}

RequestResult DeferredUnwinder::Request(UnwindWork work, const TaskContext& context) {
  return Request(std::span<const UnwindWork>(&work, 1), context);
}

RequestResult DeferredUnwinder::Request(std::span<const UnwindWork> works,
                                        const TaskContext& context) {
  Count(EngineStat::kRequests);
  // The works are checked and their bits set inside one read-side section, so Cancel() (which
  // waits for a grace period between unlinking a work and clearing its bit) cannot miss a bit.
  rcu::ReadLock rcu;
  uint64_t bits = 0;
  for (const UnwindWork& work : works) {
    const Work* w = work.bit >= 0 && work.bit < kMaxWorks
                        ? works_[work.bit].load(std::memory_order_acquire)
                        : nullptr;
    if (w == nullptr || w->generation != work.generation) {
      Count(EngineStat::kCanceledRequests);
      continue;
    }
    bits |= uint64_t{1} << work.bit;
  }
  if (bits == 0) return {RequestStatus::kCanceled};
  Job* fill = nullptr;
  Cookie cookie = cookie::kNoCookie;
  {
    sync::MutexLock lock(&mu_);
    cookie = context.cookie != cookie::kNoCookie
                 ? tracker_.AcceptNative(context.tid, context.cpu, context.time_ns, context.cookie)
                 : tracker_.Track({.tid = context.tid,
                                   .cpu = context.cpu,
                                   .time_ns = context.time_ns,
                                   .user_mode = context.user_mode,
                                   .user_regs = context.regs.value});
    if (cookie == cookie::kNoCookie) return {RequestStatus::kNoCookie};
    // One callback per work per kernel entry: a work that asked before in this entry has had its
    // callback or will (this also ends a callback asking for the cookie it is being told about).
    if ((tracker_.Requested(context.tid) & bits) == bits) {
      Count(EngineStat::kShared);
      return {RequestStatus::kAlreadyPending, cookie};
    }
    if (auto it = jobs_.find(cookie); it != jobs_.end()) {
      Job* job = it->second;
      Count(EngineStat::kShared);
      // The tracker forgot the task (evicted it) but the job still knows.
      if ((job->requested & bits) == bits) return {RequestStatus::kAlreadyPending, cookie};
      const bool done = job->state == Job::State::kDone;
      if (done && queue_.size() >= options_.queue_capacity) {
        Count(EngineStat::kDrops);
        return {RequestStatus::kDropped, cookie};
      }
      job->requested |= bits;
      tracker_.AddRequested(context.tid, bits);
      if (!done) return {RequestStatus::kAlreadyPending, cookie};
      // Already unwound for other works: deliver the kept trace to this one, without a new unwind.
      job->state = Job::State::kQueued;
      queue_.push_back(job);
      ++busy_;
      if (sleeping_workers_ > 0 && batches_.load(std::memory_order_relaxed) == 0) {
        work_ready_.NotifyOne();
      }
      return {RequestStatus::kQueued, cookie};
    }
    if (queue_.size() + filling_ >= options_.queue_capacity || free_stacks_.empty() ||
        (fill = TakeJobLocked()) == nullptr) {
      Count(EngineStat::kDrops);
      return {RequestStatus::kDropped, cookie};
    }
    fill->state = Job::State::kFilling;
    fill->cookie = cookie;
    fill->requested = bits;
    fill->delivered = 0;
    fill->has_result = false;
    fill->stack = free_stacks_.back();
    free_stacks_.pop_back();
    jobs_.emplace(cookie, fill);
    tracker_.AddRequested(context.tid, bits);
    ++busy_;
    ++filling_;
  }
  // Copied outside the lock: while kFilling no worker takes the job, and further requests for
  // the cookie only set their bits.
  fill->pid = context.pid;
  fill->tid = context.tid;
  fill->regs = context.regs;
  fill->stack_address = context.stack_address;
  std::span<const uint8_t> stack = context.stack;
  if (stack.size() > options_.max_stack_bytes) {
    stack = stack.first(options_.max_stack_bytes);
    Count(EngineStat::kTruncatedCopies);
  }
  const uint8_t* buffer_start = context.stack_buffer != nullptr
                                    ? reinterpret_cast<const uint8_t*>(context.stack_buffer->data())
                                    : nullptr;
  if (context.stack_lasts) {
    Count(EngineStat::kTakenSnapshots);  // read where it lies until the unwind
  } else if (buffer_start != nullptr && stack.data() >= buffer_start &&
             stack.data() + stack.size() <= buffer_start + 8 * context.stack_buffer->size()) {
    // The caller's buffer becomes the job's, and the job's the caller's: a swap of vectors moves
    // no bytes, and `stack` still points into the same memory.
    std::swap(*fill->stack, *context.stack_buffer);
    Count(EngineStat::kTakenSnapshots);
  } else {
    fill->stack->resize((stack.size() + 7) / 8);
    std::memcpy(fill->stack->data(), stack.data(), stack.size());
    stack = std::span(reinterpret_cast<const uint8_t*>(fill->stack->data()), stack.size());
  }
  fill->stack_bytes = stack;
  fill->space = context.space;
  Count(EngineStat::kJobs);
  bool wake = false;
  {
    sync::MutexLock lock(&mu_);
    fill->state = Job::State::kQueued;
    queue_.push_back(fill);
    --filling_;
    // A worker that is awake takes the job when it is done with its own: waking one is a
    // syscall, so only sleepers are woken, and not during a batch (its end wakes them).
    wake = sleeping_workers_ > 0 && batches_.load(std::memory_order_relaxed) == 0;
  }
  if (wake) work_ready_.NotifyOne();
  return {RequestStatus::kQueued, cookie};
}

DeferredUnwinder::Job* DeferredUnwinder::TakeJobLocked() {
  if (!free_jobs_.empty()) {
    Job* job = free_jobs_.back();
    free_jobs_.pop_back();
    return job;
  }
  if (all_jobs_.size() < max_jobs_) {
    all_jobs_.push_back(std::make_unique<Job>());
    all_jobs_.back()->pcs.resize(options_.max_frames);
    return all_jobs_.back().get();
  }
  // Reuse the oldest finished job; one being re-delivered is skipped and files itself again
  // when it is done.
  while (!done_.empty()) {
    Job* job = done_.front();
    done_.pop_front();
    job->in_done_list = false;
    if (job->state != Job::State::kDone) continue;
    RetireLocked(job);
    return job;
  }
  return nullptr;
}

void DeferredUnwinder::RetireLocked(Job* job) {
  jobs_.erase(job->cookie);
  if (job->owns_content_entry) by_content_.erase(job->content);
  job->owns_content_entry = false;
  job->state = Job::State::kFree;
}

std::vector<pid_t> DeferredUnwinder::worker_tids() const {
  sync::MutexLock lock(&mu_);
  return worker_tids_;
}

void DeferredUnwinder::WorkerLoop() {
  pthread_setname_np(pthread_self(), "dprof-unwind");
  {
    sync::MutexLock lock(&mu_);
    worker_tids_.push_back(gettid());
  }
  idle_.NotifyAll();
  for (;;) {
    Job* job = nullptr;
    {
      sync::MutexLock lock(&mu_);
      ++sleeping_workers_;
      while (!stopping_ && queue_.empty()) work_ready_.Wait(&mu_);
      --sleeping_workers_;
      if (queue_.empty()) return;  // stopping, and nothing left
      job = queue_.front();
      queue_.pop_front();
      job->state = Job::State::kRunning;
    }
    Process(job);
  }
}

void DeferredUnwinder::Process(Job* job) {
  bool unwound;
  {
    sync::MutexLock lock(&mu_);
    unwound = job->has_result;
  }
  if (!unwound) Unwind(job);
  Deliver(job, job->cookie);
}

void DeferredUnwinder::Unwind(Job* job) {
  const std::span<const uint8_t> stack = job->stack_bytes;
  // The content cache is keyed by everything but the stack bytes (two hashes salted apart, so
  // that keys collide only if 128 bits do). An unwind reads a few hundred bytes of a copy of
  // kilobytes: a hit needs only those the earlier unwind read (its extent) to be equal, which
  // a hash of them checks. A busy thread's samples have different registers nearly every time,
  // and then no byte is hashed at all until the unwind says how many counted.
  const uint64_t space_id = job->space ? job->space->id() : 0;
  const ContentKey content{
      absl::HashOf(uint64_t{0x9e3779b97f4a7c15}, space_id, job->pid, job->regs.valid,
                   absl::MakeConstSpan(job->regs.value), job->stack_address),
      absl::HashOf(uint64_t{0xc2b2ae3d27d4eb4f}, space_id, job->pid, job->regs.valid,
                   absl::MakeConstSpan(job->regs.value), job->stack_address)};
  auto hash_of = [&stack](uint64_t extent) {
    const size_t n = extent == kWholeStack ? stack.size() : extent;
    return absl::HashOf(extent, absl::MakeConstSpan(stack.first(n)));
  };
  bool reused = false;
  // The earlier unwind with the same key read only its extent of the copy; when the copy counted
  // whole (or was cut short), this one must be as long. Its bytes are hashed outside the lock,
  // then the entry is looked up again: it may have moved on meanwhile.
  Cookie candidate = cookie::kNoCookie;
  uint64_t extent = 0, expected = 0;
  {
    sync::MutexLock lock(&mu_);
    if (auto it = by_content_.find(content); it != by_content_.end()) {
      const Job* same = it->second;
      if (same->stack_extent == kWholeStack ? stack.size() == same->stack_size
                                            : stack.size() >= same->stack_extent) {
        candidate = same->cookie;
        extent = same->stack_extent;
        expected = same->stack_hash;
      }
    }
  }
  if (candidate != cookie::kNoCookie && hash_of(extent) == expected) {
    sync::MutexLock lock(&mu_);
    auto it = by_content_.find(content);
    if (it != by_content_.end() && it->second->cookie == candidate) {
      const Job* same = it->second;  // finished: its result no longer changes
      std::copy(same->pcs.begin(), same->pcs.begin() + same->frames, job->pcs.begin());
      job->frames = same->frames;
      job->reason = same->reason;
      job->handle = same->handle;
      reused = true;
    }
  }
  if (reused) {
    Count(EngineStat::kContentHits);
  } else {
    const Snapshot snapshot{.pid = job->pid,
                            .tid = job->tid,
                            .regs = job->regs,
                            .stack_address = job->stack_address,
                            .stack = stack,
                            .space = job->space.get()};
    const UnwindResult result = options_.unwinder->Unwind(snapshot, job->pcs);
    job->frames = result.frames;
    job->reason = result.reason;
    job->stack_extent = result.stack_extent <= stack.size() ? result.stack_extent : kWholeStack;
    job->stack_size = stack.size();
    job->stack_hash = hash_of(job->stack_extent);
    job->handle = stackdepot::kNoHandle;
    if (options_.depot != nullptr && result.frames > 0) {
      job->handle =
          options_.depot->Save(std::span(job->pcs).first(result.frames), stackdepot::kCanAlloc);
    }
    Count(EngineStat::kUnwinds);
    stop_reasons_[static_cast<int>(result.reason)].fetch_add(1, std::memory_order_relaxed);
  }
  sync::MutexLock lock(&mu_);
  job->has_result = true;
  free_stacks_.push_back(job->stack);
  job->stack = nullptr;
  job->stack_bytes = {};
  job->space.reset();
  if (!reused && options_.content_cache > 0) {
    // The newest snapshot with the key holds its entry: an older one differed where this read.
    auto [it, inserted] = by_content_.try_emplace(content, job);
    if (!inserted) {
      it->second->owns_content_entry = false;
      it->second = job;
    }
    job->owns_content_entry = true;
    job->content = content;
    content_order_.emplace_back(content, job);
    TrimContentCacheLocked();
  }
}

void DeferredUnwinder::TrimContentCacheLocked() {
  auto live = [this](const std::pair<ContentKey, Job*>& entry) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    auto it = by_content_.find(entry.first);
    return it != by_content_.end() && it->second == entry.second;
  };
  // Forget the oldest contents beyond the bound (their cookies keep their results), and entries
  // of jobs that were retired meanwhile.
  while (!content_order_.empty() &&
         (by_content_.size() > options_.content_cache || !live(content_order_.front()))) {
    if (live(content_order_.front())) {
      content_order_.front().second->owns_content_entry = false;
      by_content_.erase(content_order_.front().first);
    }
    content_order_.pop_front();
  }
  // Retired entries deeper in the queue: compact now and then, so the queue stays bounded.
  if (content_order_.size() > 2 * options_.content_cache + 16) {
    std::erase_if(content_order_, [&](const auto& entry) { return !live(entry); });
  }
}

void DeferredUnwinder::Deliver(Job* job, Cookie cookie) {
  const UnwindTrace trace{.pcs = std::span<const uint64_t>(job->pcs).first(job->frames),
                          .reason = job->reason,
                          .handle = job->handle};
  for (;;) {
    // The section begins before the pending mask is read: Cancel() waits for it before freeing
    // the bit of a work it clears from the mask (see Cancel()).
    rcu::ReadLock rcu;
    uint64_t pending;
    {
      sync::MutexLock lock(&mu_);
      pending = job->requested & ~job->delivered;
      if (pending == 0) {
        job->state = Job::State::kDone;
        if (!job->in_done_list) {
          done_.push_back(job);
          job->in_done_list = true;
        }
        --busy_;
        if (idle_waiters_ > 0 && busy_ <= idle_at_) idle_.NotifyAll();
        return;
      }
      job->delivered |= pending;
    }
    for (uint64_t bits = pending; bits != 0; bits &= bits - 1) {
      const int bit = std::countr_zero(bits);
      // Acquire; pairs with the release in Register().
      if (const Work* w = works_[bit].load(std::memory_order_acquire)) {
        w->callback(trace, cookie);
        Count(EngineStat::kDeliveries);
      }
    }
  }
}

void DeferredUnwinder::TaskExited(uint32_t tid) {
  sync::MutexLock lock(&mu_);
  tracker_.TaskExited(tid);
}

DeferredUnwinder::Batch::Batch(DeferredUnwinder* engine) : engine_(engine) {
  engine_->batches_.fetch_add(1, std::memory_order_relaxed);
}

DeferredUnwinder::Batch::~Batch() {
  if (engine_->batches_.fetch_sub(1, std::memory_order_relaxed) != 1) return;
  size_t wake;
  {
    sync::MutexLock lock(&engine_->mu_);
    wake = std::min(engine_->queue_.size(), static_cast<size_t>(engine_->sleeping_workers_));
  }
  // The jobs queued during the batch: as many sleepers as there are jobs for them.
  for (size_t i = 0; i < wake; ++i) engine_->work_ready_.NotifyOne();
}

void DeferredUnwinder::WaitUntilAtMost(size_t jobs) {
  sync::MutexLock lock(&mu_);
  if (busy_ <= jobs) return;
  ++idle_waiters_;
  idle_at_ = std::max(idle_at_, jobs);
  while (busy_ > jobs) idle_.Wait(&mu_);
  if (--idle_waiters_ == 0) idle_at_ = 0;
}

EngineStats DeferredUnwinder::Stats() const {
  EngineStats stats;
  for (int i = 0; i < kNumEngineStats; ++i) {
    stats.values[i] = stats_[i].load(std::memory_order_relaxed);
  }
  for (int i = 0; i < kNumStopReasons; ++i) {
    stats.stop_reasons[i] = stop_reasons_[i].load(std::memory_order_relaxed);
  }
  return stats;
}

}  // namespace dprof::unwind
