// Tracer::Impl: the tracer's parts, put together (tracer.cc): the events and their ring buffers
// (EventSet, attrs for what each asks), the record dispatch (RecordDispatcher: what each record
// does), the address-space model (AddressSpaces), the processes followed (ExitWatch), the stacks
// of samples (SampleStacks over StackServices), the cookies of kernel entries (ContextTracker).
// As the dispatch's host it does what only a live source does: naming a process's threads from
// /proc, following the processes of the target.
//
// Context: Init, Start and Run on one thread (the reader); Stats and RequestStop from any.
#ifndef DPROF_TRACER_INTERNAL_TRACER_IMPL_H_
#define DPROF_TRACER_INTERNAL_TRACER_IMPL_H_

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "dprof/cookie/context_tracker.h"
#include "dprof/tracer/event_queue.h"
#include "dprof/tracer/tracer.h"
#include "tracer/internal/address_spaces.h"
#include "tracer/internal/attrs.h"
#include "tracer/internal/event_set.h"
#include "tracer/internal/event_spec.h"
#include "tracer/internal/exit_watch.h"
#include "tracer/internal/process.h"
#include "tracer/internal/record_dispatcher.h"
#include "tracer/internal/sample_stacks.h"
#include "tracer/internal/source_counters.h"
#include "tracer/internal/stack_services.h"

namespace dprof::tracer {

using internal::EventSpec;
using internal::StackMode;

inline size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

class Tracer::Impl : public internal::RecordDispatcher::Host {
 public:
  Impl(TracerOptions options, event::TraceSink* sink)
      : options_(std::move(options)), sink_(sink), tracker_(&cookies_) {}
  ~Impl() override;

  absl::Status Init();
  absl::Status Start();
  absl::Status Run(std::chrono::nanoseconds duration);
  void RequestStop();
  event::TracerStats Stats() const;

  CommandExit exit_status() const { return exit_; }
  size_t followed() const { return exits_->size(); }
  pid_t command_pid() const { return child_ ? child_->pid() : 0; }
  bool native() const { return settings_.mode == StackMode::kNative; }
  bool user_only() const { return settings_.user_only; }
  size_t buffer_pages() const { return settings_.data_bytes / PageSize(); }
  std::shared_ptr<const unwind::AddressSpace> AddressSpaceOf(pid_t pid) const {
    return spaces_.Of(pid);
  }
  const Tracepoint* TracepointOf(size_t event) const {
    return event < options_.events.size() && specs_[event].tracepoint ? &*specs_[event].tracepoint
                                                                      : nullptr;
  }
  stackdepot::Depot* depot() const { return stacks_.depot(); }
  unwind::BinaryCache* binaries() { return &binaries_; }

 private:
  // Reads a running process's mappings and opens the events on all its threads. NotFound when it
  // exited first.
  absl::Status AttachProcess(pid_t pid);
  // Whether the targets, and every process they forked while recorded, have exited (the command
  // is reaped then).
  bool TargetsGone();
  void Drain();

  // RecordDispatcher::Host.
  uint64_t NowNs() override { return backend_->NowNs(); }
  void FirstEventOf(uint32_t pid) override;
  void ProcessForked(uint32_t pid) override;
  void ProcessExited(uint32_t pid) override;

  TracerOptions options_;
  event::TraceSink* sink_;
  PerfBackend* backend_ = nullptr;
  std::unique_ptr<PerfBackend> own_backend_;

  std::vector<EventSpec> specs_;  // options_.events, then an internal sched_switch if needed
  int off_cpu_event_ = -1;        // index in specs_ of the sched_switch that feeds off-CPU
  // What the options became on this kernel: the call graph's mode, user space only (the kernel
  // is off limits to this user), the ring buffers' size.
  internal::AttrSettings settings_;
  std::optional<internal::EventSet> events_;  // made by Init()
  EventQueue queue_;

  unwind::BinaryCache binaries_;
  internal::StackServices stacks_;  // after binaries_: the engine's jobs use them until it stops
  internal::AddressSpaces spaces_{
      &binaries_, [this](uint32_t pid) { return unwind::AddressSpace::FromProc(pid, &binaries_); }};

  std::optional<internal::ChildProcess> child_;
  CommandExit exit_;
  std::optional<internal::ExitWatch> exits_;  // target processes and threads, and their forks
  absl::flat_hash_set<uint32_t> excluded_;    // Target::exclude_tids

  cookie::CookieAllocator cookies_;  // native mode: validates the kernel's cookies
  cookie::ContextTracker tracker_;
  std::optional<internal::SampleStacks> sample_stacks_;   // made by Init()
  std::optional<internal::RecordDispatcher> dispatcher_;  // made by Init()

  internal::StopRequest stop_;
  bool started_ = false;

  internal::SourceCounters counters_;
};

}  // namespace dprof::tracer

#endif  // DPROF_TRACER_INTERNAL_TRACER_IMPL_H_
