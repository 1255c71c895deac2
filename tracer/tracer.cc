#include "dprof/tracer/tracer.h"

#include <errno.h>
#include <linux/perf_event.h>

#include <chrono>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "dprof/tracer/perf_abi.h"
#include "tracer/internal/perf_errors.h"
#include "tracer/internal/tracer_impl.h"

namespace dprof::tracer {

namespace {

constexpr int kWaitMs = 100;
// Once the targets look gone: the rounds that make sure they are come quickly.
constexpr int kGoneWaitMs = 5;
// How long a command stopped early may take to exit after SIGTERM before it is killed.
constexpr std::chrono::milliseconds kStopGrace{2000};

}  // namespace

std::string_view CallGraphName(CallGraph mode) {
  switch (mode) {
    case CallGraph::kNone:
      return "none";
    case CallGraph::kFramePointer:
      return "fp";
    case CallGraph::kDwarf:
      return "dwarf";
    case CallGraph::kAuto:
      return "auto";
  }
  return "?";
}

absl::StatusOr<CallGraph> ParseCallGraph(std::string_view name) {
  for (CallGraph m :
       {CallGraph::kNone, CallGraph::kFramePointer, CallGraph::kDwarf, CallGraph::kAuto}) {
    if (name == CallGraphName(m)) return m;
  }
  return absl::InvalidArgumentError("unknown call-graph mode '" + std::string(name) +
                                    "'; use fp, dwarf, auto or none");
}

namespace {

// What the probes below open: a disabled cpu-clock event on this thread, one sample a millisecond.
perf_event_attr ProbeAttr() {
  perf_event_attr attr = {};
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.sample_period = 1000000;
  attr.disabled = 1;
  return attr;
}

// Opens `attr` on this thread and closes it again: 0, or the negative errno of the refusal.
int Probe(PerfBackend* backend, const perf_event_attr& attr) {
  const int fd = backend->Open(attr, 0, -1, -1, 0);
  if (fd < 0) return fd;
  backend->Close(fd);
  return 0;
}

}  // namespace

absl::Status PerfEventAvailable(PerfBackend* backend) {
  perf_event_attr attr = ProbeAttr();
  attr.exclude_kernel = 1;
  if (const int err = Probe(backend, attr); err < 0) {
    return internal::OpenError(-err, {.event = "cpu-clock"});
  }
  return absl::OkStatus();
}

bool KernelSamplingAllowed(PerfBackend* backend) {
  perf_event_attr attr = ProbeAttr();
  attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_CALLCHAIN;
  const int err = Probe(backend, attr);
  return err != -EACCES && err != -EPERM;
}

bool NativeDeferredSupported(PerfBackend* backend) {
  perf_event_attr attr = ProbeAttr();
  attr.sample_type = PERF_SAMPLE_CALLCHAIN;
  attr.exclude_kernel = 1;
  abi::SetAttrFlag(attr, abi::kAttrBitDeferCallchain);
  // Kernels without the flag reject the unknown bit with EINVAL.
  return Probe(backend, attr) == 0;
}

absl::Status Tracer::Impl::Init() {
  const Target& t = options_.target;
  const int kinds = !t.pids.empty() + !t.tids.empty() + !t.command.empty();
  if (t.system_wide) {
    if (!t.command.empty()) {
      return absl::InvalidArgumentError("record a command or the whole system, not both");
    }
  } else if (kinds != 1) {
    return absl::InvalidArgumentError(
        kinds == 0 ? "nothing to record: give a PID, a TID, a command, or system-wide"
                   : "give one kind of target: PIDs, TIDs or a command (or system-wide with "
                     "PID/TID filters)");
  } else if (!t.cgroup.empty()) {
    return absl::InvalidArgumentError("a cgroup filter needs system-wide recording");
  }
  if (t.children && (t.pids.empty() || t.system_wide)) {
    return absl::InvalidArgumentError(
        "children are followed from the processes given (Target::pids), not from a command, "
        "threads or the whole system");
  }
  excluded_.insert(t.exclude_tids.begin(), t.exclude_tids.end());
  if (options_.events.empty()) return absl::InvalidArgumentError("no events to record");
  if (options_.period == 0) {
    if (absl::Status s = internal::CheckFrequency(options_.frequency); !s.ok()) return s;
  }
  absl::StatusOr<uint32_t> stack_size = event::CheckStackSize(options_.stack_size);
  if (!stack_size.ok()) return stack_size.status();
  options_.stack_size = *stack_size;

  if (options_.backend == nullptr) {
    own_backend_ = MakeSystemBackend();
    options_.backend = own_backend_.get();
  }
  backend_ = options_.backend;
  exits_.emplace(backend_);

  for (const std::string& name : options_.events) {
    absl::StatusOr<EventSpec> spec = internal::ResolveEvent(name, options_.tracefs_root);
    if (!spec.ok()) return spec.status();
    specs_.push_back(*std::move(spec));
  }
  if (options_.off_cpu) {
    for (size_t i = 0; i < specs_.size(); ++i) {
      if (specs_[i].name == "sched:sched_switch") off_cpu_event_ = static_cast<int>(i);
    }
    if (off_cpu_event_ < 0) {
      absl::StatusOr<EventSpec> spec =
          internal::ResolveEvent("sched:sched_switch", options_.tracefs_root);
      if (!spec.ok()) return spec.status();
      off_cpu_event_ = static_cast<int>(specs_.size());
      specs_.push_back(*std::move(spec));
    }
  }

  // At kernel.perf_event_paranoid 2 an ordinary user may sample user space only, as perf does
  // (cpu-clock:u): rather than fail, record that, and say so. Other CPUs' events and
  // tracepoints still fail with their fix.
  settings_.user_only = !t.system_wide && !KernelSamplingAllowed(backend_);
  settings_.mode =
      internal::StackModeOf(options_.call_graph, options_.call_graph == CallGraph::kAuto &&
                                                     NativeDeferredSupported(backend_));
  settings_.off_cpu = off_cpu_event_ >= 0;
  settings_.frequency = options_.frequency;
  settings_.period = options_.period;
  settings_.stack_size = options_.stack_size;

  if (absl::Status st = stacks_.InitDepot(options_.depot); !st.ok()) return st;
  if (settings_.mode == StackMode::kDwarf) {
    if (absl::Status st = stacks_.InitEngine(options_.engine, options_.unwind_workers,
                                             options_.shared_works, sink_);
        !st.ok()) {
      return st;
    }
  } else if (!options_.shared_works.empty()) {
    return absl::InvalidArgumentError(
        "shared unwind works need --call-graph dwarf: only then does dprof unwind user stacks");
  }

  size_t pages = options_.buffer_pages;
  if (pages == 0) pages = internal::DefaultPages(settings_, PageSize());
  if ((pages & (pages - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring buffer of ", pages, " pages: use a power of two"));
  }
  settings_.data_bytes = pages * PageSize();
  events_.emplace(backend_, &specs_, settings_,
                  internal::EventSet::Options{.cpus = internal::OnlineCpus(),
                                              .page_size = PageSize(),
                                              .enable_on_exec = !t.command.empty(),
                                              .system_wide = t.system_wide});
  sample_stacks_.emplace(settings_.mode, &stacks_, &tracker_, &counters_);
  internal::RecordDispatcher::Filters filters{.excluded = excluded_};
  if (t.system_wide) {
    filters.pids.insert(t.pids.begin(), t.pids.end());
    filters.tids.insert(t.tids.begin(), t.tids.end());
  }
  dispatcher_.emplace(
      internal::RecordDispatcher::Events{
          .specs = &specs_, .requested = options_.events.size(), .off_cpu_event = off_cpu_event_},
      std::move(filters),
      internal::RecordDispatcher::Parts{.ids = &events_->ids(),
                                        .spaces = &spaces_,
                                        .tracker = &tracker_,
                                        .stacks = &stacks_,
                                        .sample_stacks = &*sample_stacks_,
                                        .counters = &counters_},
      this, sink_);
  return absl::OkStatus();
}

Tracer::Impl::~Impl() = default;

void Tracer::Impl::FirstEventOf(uint32_t pid) {
  internal::AnnounceNames(pid, internal::ListThreads(pid), backend_->NowNs(), sink_);
}

void Tracer::Impl::ProcessForked(uint32_t pid) {
  // A new process of the recorded tree: followed until it exits, past its parent's exit.
  if (!options_.target.system_wide) exits_->Watch(pid, false);
}

void Tracer::Impl::ProcessExited(uint32_t pid) { exits_->Forget(pid); }

absl::Status Tracer::Impl::AttachProcess(pid_t pid) {
  spaces_.Attach(pid, [this](uint32_t p, const unwind::AddressSpace& s) {
    internal::AnnounceMappings(p, s, backend_->NowNs(), sink_);
  });
  exits_->Watch(pid, false);
  return events_->OpenThreadsOf(pid, true, excluded_);
}

absl::Status Tracer::Impl::Start() {
  if (started_) return absl::FailedPreconditionError("the tracer was already started");
  started_ = true;
  const Target& t = options_.target;
  if (stop_.fd() >= 0) backend_->Watch(stop_.fd());

  if (t.system_wide) {
    if (absl::Status s = events_->OpenSystemWide(t.cgroup); !s.ok()) return s;
  } else if (!t.command.empty()) {
    absl::StatusOr<internal::ChildProcess> child = internal::ChildProcess::Launch(t.command);
    if (!child.ok()) return child.status();
    child_.emplace(*std::move(child));
    spaces_.Launched(child_->pid());
    if (absl::Status s = events_->OpenThreadsOf(child_->pid(), true, excluded_); !s.ok()) {
      return s;
    }
  } else {
    for (pid_t pid : t.pids) {
      if (!internal::ProcessExists(pid)) {
        return absl::NotFoundError(
            absl::StrCat("no process with PID ", pid, "; check the PID (ps -p ", pid, ")"));
      }
    }
    for (pid_t tid : t.tids) {
      if (!internal::ProcessExists(tid)) {
        return absl::NotFoundError(absl::StrCat("no thread with TID ", tid));
      }
    }
    for (pid_t pid : t.pids) {
      if (absl::Status s = AttachProcess(pid); !s.ok()) return s;
    }
    if (t.children) {
      // Processes forked after their parent's events were opened inherit them; those running
      // before were not told. (One forked while this runs may be missed.)
      for (pid_t pid : internal::Descendants(t.pids)) {
        if (absl::Status s = AttachProcess(pid); !s.ok() && !absl::IsNotFound(s)) return s;
      }
    }
    for (pid_t tid : t.tids) {
      exits_->Watch(tid, true);
      if (absl::Status s = events_->OpenThreadsOf(tid, false, excluded_); !s.ok()) return s;
    }
  }

  if (child_) {
    // enable_on_exec: counting starts when the command execs, not before.
    if (absl::Status s = child_->Go(); !s.ok()) return s;
    exits_->Watch(child_->pid(), false);
  } else if (absl::Status s = events_->EnableAll(); !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

bool Tracer::Impl::TargetsGone() {
  if (options_.target.system_wide) return false;
  // The command is reaped for its exit status; what it left running is still recorded.
  if (child_ && !exit_.exited && !child_->TryWait(&exit_)) return false;
  return exits_->AllExited();
}

void Tracer::Impl::Drain() {
  events_->Read([this](std::span<const uint8_t> record) {
    event::SampleId sid;
    // Records without a known event still go through Process() to be counted.
    queue_.Push(events_->ids().parser().ParseSampleId(record, &sid) ? sid.time : 0, record);
  });
}

absl::Status Tracer::Impl::Run(std::chrono::nanoseconds duration) {
  if (!started_) return absl::FailedPreconditionError("Start() the tracer before Run()");
  const uint64_t deadline = duration.count() > 0 ? backend_->NowNs() + duration.count() : 0;
  auto process = [this](uint64_t, std::span<const uint8_t> record, EventQueue::Buffer* buffer) {
    dispatcher_->Process(record, buffer);
  };
  uint64_t horizon = 0;
  uint64_t processed = 0;  // every record up to here went through Process()
  uint64_t gone_at = 0;    // when the targets last looked gone, or 0
  for (;;) {
    const uint64_t round_start = backend_->NowNs();
    bool finishing = stop_.requested() || (deadline != 0 && round_start >= deadline);
    if (!finishing && TargetsGone()) {
      // Gone as far as the records processed so far tell: a process forked before the last exit
      // (an orphan, a daemon) may still be in the buffers. Once everything up to the moment they
      // looked gone is processed and they still do, they are.
      if (gone_at == 0) gone_at = round_start;
      finishing = processed >= gone_at;
    } else {
      gone_at = 0;
    }
    Drain();
    if (finishing) break;
    // Every buffer was read dry after `horizon`: nothing older can still arrive. The unwind
    // workers wake once for the round's snapshots, not once each.
    {
      std::optional<unwind::DeferredUnwinder::Batch> batch;
      if (stacks_.engine() != nullptr) batch.emplace(stacks_.engine());
      queue_.PopUntil(horizon, process);
    }
    processed = horizon;
    horizon = round_start;
    sink_->OnTick(backend_->NowNs());
    const int r = backend_->Wait(gone_at != 0 ? kGoneWaitMs : kWaitMs);
    if (r < 0 && r != -EINTR) {
      return absl::InternalError(absl::StrCat("waiting for events failed: ", strerror(-r)));
    }
  }
  if (child_ && !exit_.exited) {
    // Stopped early: the command does not outlive its recording, and how it ended is reported.
    // What it did while ending is read too.
    child_->Stop(kStopGrace, &exit_);
    Drain();
  }
  queue_.PopAll(process);
  dispatcher_->Finish(backend_->NowNs());
  counters_.Count(event::TracerStat::kCorruptBytes, events_->corrupt_bytes());
  if (stacks_.engine() != nullptr) stacks_.engine()->Flush();
  return absl::OkStatus();
}

void Tracer::Impl::RequestStop() { stop_.Request(); }

event::TracerStats Tracer::Impl::Stats() const { return stacks_.Stats(counters_); }

Tracer::Tracer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tracer::~Tracer() = default;

absl::StatusOr<std::unique_ptr<Tracer>> Tracer::Create(TracerOptions options,
                                                       event::TraceSink* sink) {
  if (sink == nullptr) return absl::InvalidArgumentError("the tracer needs a sink");
  auto impl = std::make_unique<Impl>(std::move(options), sink);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<Tracer>(new Tracer(std::move(impl)));
}

absl::Status Tracer::Start() { return impl_->Start(); }
absl::Status Tracer::Run(std::chrono::nanoseconds duration) { return impl_->Run(duration); }
void Tracer::RequestStop() { impl_->RequestStop(); }
event::TracerStats Tracer::Stats() const { return impl_->Stats(); }
CommandExit Tracer::ExitStatus() const { return impl_->exit_status(); }
size_t Tracer::followed() const { return impl_->followed(); }
pid_t Tracer::command_pid() const { return impl_->command_pid(); }
bool Tracer::native_deferred() const { return impl_->native(); }
bool Tracer::user_only() const { return impl_->user_only(); }
size_t Tracer::buffer_pages() const { return impl_->buffer_pages(); }
std::shared_ptr<const unwind::AddressSpace> Tracer::AddressSpaceOf(pid_t pid) const {
  return impl_->AddressSpaceOf(pid);
}
const Tracepoint* Tracer::TracepointOf(size_t event) const { return impl_->TracepointOf(event); }
stackdepot::Depot* Tracer::depot() const { return impl_->depot(); }
unwind::BinaryCache* Tracer::binaries() const { return impl_->binaries(); }

}  // namespace dprof::tracer
