#include "dprof/tracer/timer_sampler.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "dprof/rcu/grace_period.h"
#include "tracer/internal/callchain.h"
#include "tracer/internal/process.h"
#include "tracer/internal/signal_capture.h"
#include "tracer/internal/source_counters.h"
#include "tracer/internal/stack_services.h"

namespace dprof::tracer {
namespace {

constexpr int kWaitMs = 10;
// A sample whose code is in no known mapping makes the maps be read again, at most this often.
constexpr uint64_t kMapsRereadNs = 100'000'000;

}  // namespace

class TimerSampler::Impl {
 public:
  Impl(Options options, event::TraceSink* sink) : options_(std::move(options)), sink_(sink) {}
  ~Impl();

  absl::Status Init();
  absl::Status Start();
  absl::Status Run(std::chrono::nanoseconds duration);
  void RequestStop();
  event::TracerStats Stats() const;
  stackdepot::Depot* depot() const { return stacks_.depot(); }
  unwind::BinaryCache* binaries() { return &binaries_; }

 private:
  // Finds threads that started (arms their timers) and threads that exited (frees their slots).
  absl::Status ScanThreads(bool starting);
  // Emits every published sample, oldest first.
  void DrainSamples();
  void TakeSample(const internal::ThreadSlot& slot, const internal::CapturedSample& c);
  // The address space to unwind a sample at `ip` with: read again when `ip` is in no mapping
  // (a library loaded since), and the new mappings announced.
  std::shared_ptr<const unwind::AddressSpace> SpaceFor(uint64_t ip);
  void Count(event::TracerStat s, uint64_t n = 1) { counters_.Count(s, n); }
  template <typename F>
  void CountThread(uint32_t tid, F&& f) {
    counters_.CountThread(tid, std::forward<F>(f));
  }

  Options options_;
  event::TraceSink* sink_;
  uint64_t period_ns_ = 0;
  pid_t pid_ = getpid();
  unwind::BinaryCache binaries_;  // before stacks_: the engine's jobs use it until it stops
  internal::StackServices stacks_;
  std::shared_ptr<const unwind::AddressSpace> space_;
  uint64_t maps_read_ns_ = 0;
  std::unique_ptr<internal::CaptureSession> session_;
  absl::flat_hash_set<pid_t> excluded_;
  absl::flat_hash_map<pid_t, internal::ThreadSlot*> slots_;  // by tid
  absl::flat_hash_set<pid_t> not_sampled_;                   // beyond max_threads
  std::vector<pid_t> named_last_scan_;  // named once more at the next scan: threads are often
                                        // renamed just after they start
  std::vector<event::TraceEvent> round_;
  internal::StopRequest stop_;  // its eventfd also wakes Run() for full buffers
  bool started_ = false;
  internal::SourceCounters counters_;
};

TimerSampler::Impl::~Impl() {
  session_.reset();  // no handler runs from here on
}

absl::Status TimerSampler::Impl::Init() {
  if (options_.period == 0) {
    if (options_.frequency == 0 || options_.frequency > 100'000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "timer sampling frequency ", options_.frequency, " Hz is out of range; use 1 to 100000"));
    }
    period_ns_ = 1'000'000'000 / options_.frequency;
  } else {
    period_ns_ = options_.period;
  }
  absl::StatusOr<uint32_t> stack_size = event::CheckStackSize(options_.stack_size);
  if (!stack_size.ok()) return stack_size.status();
  options_.stack_size = *stack_size;
  if (options_.max_threads == 0 || options_.buffers_per_thread < 2) {
    return absl::InvalidArgumentError(
        "timer sampling needs max_threads of at least 1 and 2 buffers per thread");
  }
  if (absl::Status s = stacks_.InitDepot(options_.depot); !s.ok()) return s;
  if (absl::Status s = stacks_.InitEngine(options_.engine, options_.unwind_workers,
                                          options_.shared_works, sink_);
      !s.ok()) {
    return s;
  }
  excluded_.insert(options_.exclude_tids.begin(), options_.exclude_tids.end());
  for (pid_t tid : stacks_.engine()->worker_tids()) excluded_.insert(tid);
  if (stop_.fd() < 0) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot make an eventfd: ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status TimerSampler::Impl::Start() {
  if (started_) return absl::FailedPreconditionError("the sampler was already started");
  started_ = true;
  excluded_.insert(gettid());  // the thread that drains: never sampled
  session_ = std::make_unique<internal::CaptureSession>(options_.max_threads, options_.stack_size,
                                                        options_.buffers_per_thread, stop_.fd(),
                                                        stacks_.engine()->cookies());
  if (absl::Status s = session_->Install(options_.signal); !s.ok()) return s;
  absl::StatusOr<unwind::AddressSpace> space = unwind::AddressSpace::FromProc(pid_, &binaries_);
  absl::Status status = space.status();
  if (status.ok()) {
    maps_read_ns_ = event::MonotonicNs();
    internal::AnnounceMappings(pid_, *space, maps_read_ns_, sink_);
    space_ = std::make_shared<unwind::AddressSpace>(*std::move(space));
    status = ScanThreads(/*starting=*/true);
  }
  // Not sampling after all: no timer stays armed, and the signal's action is restored.
  if (!status.ok()) session_->Uninstall();
  return status;
}

absl::Status TimerSampler::Impl::ScanThreads(bool starting) {
  // liburcu's callback thread starts when first needed: left out once it exists.
  if (const pid_t rcu_thread = rcu::CallbackThread(); rcu_thread != 0) {
    excluded_.insert(rcu_thread);
  }
  const std::vector<pid_t> tids = internal::ListThreads(pid_);
  std::vector<pid_t> fresh;
  for (pid_t tid : tids) {
    if (excluded_.contains(tid) || slots_.contains(tid)) continue;
    int error = 0;
    internal::ThreadSlot* slot = session_->AddSlot(tid, period_ns_, &error);
    if (slot != nullptr) {
      slots_[tid] = slot;
      not_sampled_.erase(tid);  // refused earlier, a slot has come free since
      fresh.push_back(tid);
    } else if (error == ENOSPC) {
      if (not_sampled_.insert(tid).second) Count(event::TracerStat::kThreadsNotSampled);
    } else if (error != EINVAL && error != ESRCH && starting) {
      // EINVAL/ESRCH: the thread exited meanwhile. Anything else at the start is the system
      // refusing timers altogether.
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot make a CPU-time timer for thread ", tid, ": ", strerror(error),
                       error == EAGAIN ? "; raise the pending-signal limit (ulimit -i)" : ""));
    }
  }
  // Threads gone, as their own timers say (a listing of /proc can miss a live thread): nothing
  // runs their handler any more, so once drained their slots are free.
  for (auto it = slots_.begin(); it != slots_.end();) {
    auto current = it++;
    if (internal::CaptureSession::ThreadAlive(*current->second)) continue;
    DrainSamples();  // anything it published before it died
    session_->RemoveSlot(current->second);
    slots_.erase(current);
  }
  const absl::flat_hash_set<pid_t> listed(tids.begin(), tids.end());
  for (auto it = not_sampled_.begin(); it != not_sampled_.end();) {
    auto current = it++;
    if (!listed.contains(*current)) not_sampled_.erase(current);
  }
  std::vector<pid_t> to_name = fresh;
  to_name.insert(to_name.end(), named_last_scan_.begin(), named_last_scan_.end());
  internal::AnnounceNames(pid_, to_name, event::MonotonicNs(), sink_);
  named_last_scan_ = std::move(fresh);
  return absl::OkStatus();
}

std::shared_ptr<const unwind::AddressSpace> TimerSampler::Impl::SpaceFor(uint64_t ip) {
  const uint64_t now = event::MonotonicNs();
  if (space_->Find(ip) != nullptr || now - maps_read_ns_ < kMapsRereadNs) return space_;
  maps_read_ns_ = now;
  absl::StatusOr<unwind::AddressSpace> space = unwind::AddressSpace::FromProc(pid_, &binaries_);
  if (!space.ok()) return space_;
  // Announce only what is new: the recording has the rest.
  unwind::AddressSpace added(&binaries_, "", pid_);
  for (const unwind::Mapping& m : space->mappings()) {
    const unwind::Mapping* old = space_->Find(m.start);
    if (old == nullptr || old->start != m.start || old->end != m.end || old->path != m.path) {
      added.Map(m);
    }
  }
  internal::AnnounceMappings(pid_, added, now, sink_);
  space_ = std::make_shared<unwind::AddressSpace>(*std::move(space));
  return space_;
}

void TimerSampler::Impl::TakeSample(const internal::ThreadSlot& slot,
                                    const internal::CapturedSample& c) {
  const uint32_t tid = static_cast<uint32_t>(slot.tid);
  event::TraceEvent e{.kind = event::EventKind::kSample,
                      .event = 0,
                      .pid = static_cast<uint32_t>(pid_),
                      .tid = tid,
                      .cpu = c.cpu,
                      .time_ns = c.time_ns,
                      .weight = period_ns_ * (1 + uint64_t{c.overruns}),
                      .user_mode = true};
  if (c.stack_bytes == 0) {
    e.user = event::UserStack::kMissing;
    Count(event::TracerStat::kNoUserContext);
  } else {
    const unwind::TaskContext context{.pid = e.pid,
                                      .tid = tid,
                                      .cpu = c.cpu,
                                      .time_ns = c.time_ns,
                                      .user_mode = true,
                                      .cookie = c.cookie,
                                      .regs = c.regs,
                                      .stack_address = c.regs.sp(),
                                      .stack = std::span<const uint8_t>(c.stack, c.stack_bytes),
                                      .space = SpaceFor(c.regs.ip())};
    stacks_.RequestUserStack(context, c.stack_bytes >= options_.stack_size, &counters_, &e);
  }
  Count(event::TracerStat::kSamples);
  CountThread(tid, [](event::ThreadStats& t) { ++t.samples; });
  round_.push_back(e);
}

void TimerSampler::Impl::DrainSamples() {
  round_.clear();
  for (internal::ThreadSlot* slot : session_->slots()) {
    for (size_t i = 0; i < slot->buffers; ++i) {
      internal::CapturedSample& c = slot->samples[i];
      // Acquire; pairs with the handler's release store of kReady.
      if (c.state.load(std::memory_order_acquire) != internal::CapturedSample::kReady) continue;
      if (!excluded_.contains(slot->tid)) TakeSample(*slot, c);
      // Release; pairs with the handler's acquire load: the buffer is read before it is reused.
      c.state.store(internal::CapturedSample::kFree, std::memory_order_release);
    }
    if (const uint64_t dropped = slot->dropped.exchange(0, std::memory_order_relaxed)) {
      // The CPU time they stand for stays in the profile, under "[user stack dropped]".
      Count(event::TracerStat::kDroppedSnapshots, dropped);
      Count(event::TracerStat::kSamples);
      CountThread(slot->tid, [&](event::ThreadStats& t) {
        t.dropped_snapshots += dropped;
        ++t.samples;
      });
      round_.push_back({.kind = event::EventKind::kSample,
                        .pid = static_cast<uint32_t>(pid_),
                        .tid = static_cast<uint32_t>(slot->tid),
                        .time_ns = event::MonotonicNs(),
                        .weight = period_ns_ * dropped,
                        .user_mode = true,
                        .user = event::UserStack::kDropped});
    }
  }
  std::sort(
      round_.begin(), round_.end(),
      [](const event::TraceEvent& a, const event::TraceEvent& b) { return a.time_ns < b.time_ns; });
  for (const event::TraceEvent& e : round_) sink_->OnEvent(e);
}

absl::Status TimerSampler::Impl::Run(std::chrono::nanoseconds duration) {
  if (!started_ || session_ == nullptr || !session_->installed()) {
    return absl::FailedPreconditionError(
        "Run() needs a sampler that Start() started, and runs once");
  }
  const uint64_t deadline = duration.count() > 0 ? event::MonotonicNs() + duration.count() : 0;
  const uint64_t scan_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.thread_scan_interval).count());
  uint64_t next_scan = event::MonotonicNs() + scan_ns;
  absl::Status status;
  for (;;) {
    const uint64_t now = event::MonotonicNs();
    const bool finishing = stop_.requested() || (deadline != 0 && now >= deadline);
    DrainSamples();
    if (finishing) break;
    if (now >= next_scan) {
      if (status = ScanThreads(false); !status.ok()) break;
      next_scan = now + scan_ns;
    }
    sink_->OnTick(event::MonotonicNs());
    pollfd p = {.fd = stop_.fd(), .events = POLLIN, .revents = 0};
    if (poll(&p, 1, kWaitMs) > 0 && !stop_.requested()) {
      uint64_t ignored;  // a wake-up for full buffers: the next round drains them
      (void)!read(stop_.fd(), &ignored, sizeof(ignored));
    }
  }
  session_->Uninstall();
  DrainSamples();
  // Names as they are now: threads named after they started.
  std::vector<pid_t> live;
  for (const auto& [tid, slot] : slots_) live.push_back(tid);
  internal::AnnounceNames(pid_, live, event::MonotonicNs(), sink_);
  stacks_.engine()->Flush();
  return status;
}

void TimerSampler::Impl::RequestStop() { stop_.Request(); }

event::TracerStats TimerSampler::Impl::Stats() const { return stacks_.Stats(counters_); }

TimerSampler::TimerSampler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TimerSampler::~TimerSampler() = default;

absl::StatusOr<std::unique_ptr<TimerSampler>> TimerSampler::Create(Options options,
                                                                   event::TraceSink* sink) {
  if (sink == nullptr) return absl::InvalidArgumentError("the timer sampler needs a sink");
  auto impl = std::make_unique<Impl>(std::move(options), sink);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<TimerSampler>(new TimerSampler(std::move(impl)));
}

absl::Status TimerSampler::Start() { return impl_->Start(); }
absl::Status TimerSampler::Run(std::chrono::nanoseconds duration) { return impl_->Run(duration); }
void TimerSampler::RequestStop() { impl_->RequestStop(); }
event::TracerStats TimerSampler::Stats() const { return impl_->Stats(); }
stackdepot::Depot* TimerSampler::depot() const { return impl_->depot(); }
unwind::BinaryCache* TimerSampler::binaries() const { return impl_->binaries(); }

}  // namespace dprof::tracer
