#include "dprof/tracer/tracer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <map>
#include <mutex>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "dprof/cookie/context_tracker.h"
#include "dprof/tracer/event_queue.h"
#include "dprof/tracer/perf_abi.h"
#include "dprof/tracer/ring_buffer.h"
#include "tracer/internal/address_spaces.h"
#include "tracer/internal/callchain.h"
#include "tracer/internal/cgroup.h"
#include "tracer/internal/event_spec.h"
#include "tracer/internal/exit_watch.h"
#include "tracer/internal/off_cpu.h"
#include "tracer/internal/perf_errors.h"
#include "tracer/internal/process.h"
#include "tracer/internal/source_counters.h"
#include "tracer/internal/stack_services.h"

namespace dprof::tracer {

using internal::EventSpec;

namespace {

constexpr uint64_t kBaseSampleType = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID |
                                     PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD;
constexpr int kWaitMs = 100;
// Once the targets look gone: the rounds that make sure they are come quickly.
constexpr int kGoneWaitMs = 5;
// How long a command stopped early may take to exit after SIGTERM before it is killed.
constexpr std::chrono::milliseconds kStopGrace{2000};
constexpr size_t kMaxKernelFrames = 512;
// sched_switch's prev_state bits of a task that is exiting (EXIT_DEAD, EXIT_ZOMBIE).
constexpr int64_t kExitingStates = 0x10 | 0x20;

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

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

// Where user stacks come from, once the options' call graph met this kernel.
enum class StackMode {
  kNone,          // no call chains
  kFramePointer,  // the kernel walks user frame pointers (inline in each sample)
  kDwarf,         // user registers and a stack copy, unwound by the engine
  kNative,        // the kernel's deferred callchains (CallGraph::kAuto on Linux 6.19+)
};

class Tracer::Impl {
 public:
  Impl(TracerOptions options, event::TraceSink* sink)
      : options_(std::move(options)), sink_(sink), tracker_(&cookies_) {}
  ~Impl();

  absl::Status Init();
  // Ring buffer data pages for the rate and size of samples the options make.
  size_t DefaultPages() const;
  absl::Status Start();
  absl::Status Run(std::chrono::nanoseconds duration);
  void RequestStop();
  event::TracerStats Stats() const;

  CommandExit exit_status() const { return exit_; }
  size_t followed() const { return exits_->size(); }
  pid_t command_pid() const { return child_ ? child_->pid() : 0; }
  bool native() const { return mode_ == StackMode::kNative; }
  bool user_only() const { return user_only_; }
  size_t buffer_pages() const { return data_bytes_ / PageSize(); }
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
  struct Buffer {
    int fd = -1;
    void* base = nullptr;
    size_t bytes = 0;
    std::unique_ptr<RingBuffer> ring;
  };

  perf_event_attr MakeAttr(const EventSpec& spec, bool lead) const;
  // Opens every event on (pid, cpu). *gone when the task vanished first.
  absl::Status OpenOn(pid_t pid, int cpu, bool inherit, unsigned long flags, bool* gone);
  absl::Status OpenThreadsOf(pid_t pid, bool whole_process);
  // Reads a running process's mappings and opens the events on all its threads. NotFound when it
  // exited first.
  absl::Status AttachProcess(pid_t pid);
  absl::Status OpenSystemWide();
  absl::Status AttachBuffer(int fd, int cpu);
  // Whether the targets, and every process they forked while recorded, have exited (the command
  // is reaped then).
  bool TargetsGone();
  void Drain();
  void Process(std::span<const uint8_t> record);
  void OnSample(const SampleRecord& s, uint32_t event);
  // Saves the sample's kernel call chain and attaches its user half as the call-graph mode
  // gives it: inline frames, a native cookie, or a dwarf snapshot requested from the engine.
  void AttachStacks(const SampleRecord& s, event::TraceEvent* e);
  void OnMmap(const event::Mmap2Record& m);
  void OnDeferredCallchain(const DeferredCallchainRecord& d);
  std::shared_ptr<const unwind::AddressSpace> SpaceFor(uint32_t pid);
  // Tells the sink about mappings read from /proc.
  void AnnounceMappings(uint32_t pid, const unwind::AddressSpace& space);
  bool Filtered(uint32_t pid, uint32_t tid) const;
  void Count(event::TracerStat s, uint64_t n = 1) { counters_.Count(s, n); }
  template <typename F>
  void CountThread(uint32_t tid, F&& f) {
    counters_.CountThread(tid, std::forward<F>(f));
  }
  void Emit(const event::TraceEvent& e);

  TracerOptions options_;
  event::TraceSink* sink_;
  PerfBackend* backend_ = nullptr;
  std::unique_ptr<PerfBackend> own_backend_;

  std::vector<EventSpec> specs_;       // options_.events, then an internal sched_switch if needed
  int off_cpu_event_ = -1;             // index in specs_ of the sched_switch that feeds off-CPU
  StackMode mode_ = StackMode::kNone;  // what the options' call graph became on this kernel
  bool user_only_ = false;  // the kernel is off limits to this user: exclude_kernel on every event
  bool build_ids_ = true;   // attr.build_id accepted (Linux 5.12+)
  size_t data_bytes_ = 0;
  std::vector<int> cpus_;

  std::vector<int> fds_;
  std::map<int, Buffer> buffers_;  // by CPU
  absl::flat_hash_map<uint64_t, uint32_t> event_of_id_;
  RecordParser parser_;
  EventQueue queue_;

  unwind::BinaryCache binaries_;
  internal::StackServices stacks_;  // after binaries_: the engine's jobs use them until it stops
  internal::AddressSpaces spaces_{
      &binaries_, [this](uint32_t pid) { return unwind::AddressSpace::FromProc(pid, &binaries_); }};
  absl::flat_hash_set<uint32_t> named_;  // processes whose thread names were announced

  std::optional<internal::ChildProcess> child_;
  CommandExit exit_;
  std::optional<internal::ExitWatch> exits_;  // target processes and threads, and their forks
  absl::flat_hash_set<uint32_t> filter_pids_, filter_tids_;
  absl::flat_hash_set<uint32_t> excluded_;  // Target::exclude_tids

  cookie::CookieAllocator cookies_;  // native mode: validates the kernel's cookies
  cookie::ContextTracker tracker_;
  internal::OffCpuTracker off_cpu_;
  std::vector<uint64_t> frames_;

  internal::StopRequest stop_;
  bool started_ = false;

  internal::SourceCounters counters_;
};

absl::Status Tracer::Impl::Init() {
  const Target& t = options_.target;
  const int kinds = !t.pids.empty() + !t.tids.empty() + !t.command.empty();
  if (t.system_wide) {
    if (!t.command.empty()) {
      return absl::InvalidArgumentError("record a command or the whole system, not both");
    }
    filter_pids_.insert(t.pids.begin(), t.pids.end());
    filter_tids_.insert(t.tids.begin(), t.tids.end());
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
  if (!t.system_wide && !KernelSamplingAllowed(backend_)) user_only_ = true;
  switch (options_.call_graph) {
    case CallGraph::kNone:
      mode_ = StackMode::kNone;
      break;
    case CallGraph::kFramePointer:
      mode_ = StackMode::kFramePointer;
      break;
    case CallGraph::kDwarf:
      mode_ = StackMode::kDwarf;
      break;
    case CallGraph::kAuto:
      mode_ = NativeDeferredSupported(backend_) ? StackMode::kNative : StackMode::kDwarf;
      break;
  }

  if (absl::Status st = stacks_.InitDepot(options_.depot); !st.ok()) return st;
  if (mode_ == StackMode::kDwarf) {
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
  if (pages == 0) pages = DefaultPages();
  if ((pages & (pages - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring buffer of ", pages, " pages: use a power of two"));
  }
  data_bytes_ = pages * PageSize();
  cpus_ = internal::OnlineCpus();
  frames_.resize(kMaxKernelFrames);
  return absl::OkStatus();
}

size_t Tracer::Impl::DefaultPages() const {
  // An eighth of a second of samples at the frequency on one CPU (the most a CPU's clock event
  // makes): room for the reader to be late by that much. Counter and tracepoint rates are not
  // known in advance: the sizes for 999 Hz.
  const bool dwarf = mode_ == StackMode::kDwarf;
  const uint64_t rate =
      options_.period == 0 && options_.frequency > 0 ? options_.frequency : uint64_t{999};
  // A sample's header, ids, registers and kernel call chain, and its stack copy (dwarf).
  const uint64_t bytes = rate * ((dwarf ? options_.stack_size : 0) + 1024) / 8;
  // The nearest power of two.
  const uint64_t want = std::max<uint64_t>(1, bytes / PageSize());
  size_t pages = std::clamp<size_t>(std::bit_floor(want + want / 2), 128, 4096);
  if (geteuid() != 0) {
    // An ordinary user may lock kernel.perf_event_mlock_kb per CPU for ring buffers, and
    // RLIMIT_MEMLOCK beyond that: what fits, less each buffer's metadata page (perf's default
    // for such users is the same 128 pages at the usual limits).
    const uint64_t page = PageSize();
    const uint64_t cpus = std::max<size_t>(1, internal::OnlineCpus().size());
    rlimit limit = {};
    getrlimit(RLIMIT_MEMLOCK, &limit);
    const uint64_t shared =
        limit.rlim_cur == RLIM_INFINITY ? uint64_t{1} << 30 : limit.rlim_cur / page / cpus;
    const uint64_t budget =
        static_cast<uint64_t>(internal::ReadSysctl("kernel/perf_event_mlock_kb", 516)) * 1024 /
            page +
        shared - 1;
    pages = std::min<size_t>(pages, std::bit_floor(std::max<uint64_t>(budget, 1)));
  }
  return pages;
}

Tracer::Impl::~Impl() {
  for (auto& [cpu, b] : buffers_) backend_->Unmap(b.base, b.bytes);
  for (int fd : fds_) backend_->Close(fd);
}

perf_event_attr Tracer::Impl::MakeAttr(const EventSpec& spec, bool lead) const {
  perf_event_attr attr = {};
  attr.size = sizeof(attr);
  attr.type = spec.type;
  attr.config = spec.config;
  attr.exclude_kernel = spec.exclude_kernel || user_only_;
  attr.exclude_user = spec.exclude_user;
  attr.sample_type = kBaseSampleType;
  if (spec.tracepoint) {
    attr.sample_type |= PERF_SAMPLE_RAW;
    attr.sample_period = 1;
  } else if (options_.period != 0) {
    attr.sample_period = options_.period;
  } else {
    attr.freq = 1;
    attr.sample_freq = options_.frequency;
  }
  const bool stacks = mode_ != StackMode::kNone;
  if (stacks) attr.sample_type |= PERF_SAMPLE_CALLCHAIN;
  if (mode_ == StackMode::kDwarf) {
    attr.sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
    attr.sample_regs_user = abi::kUserRegsMask;
    attr.sample_stack_user = options_.stack_size;
    attr.exclude_callchain_user = 1;  // dprof unwinds the copy; the kernel need not walk it
  }
  if (mode_ == StackMode::kNative) {
    abi::SetAttrFlag(attr, abi::kAttrBitDeferCallchain);
    if (lead) abi::SetAttrFlag(attr, abi::kAttrBitDeferOutput);
  }
  attr.sample_id_all = 1;
  attr.use_clockid = 1;
  attr.clockid = CLOCK_MONOTONIC;
  attr.disabled = 1;
  attr.watermark = 1;
  attr.wakeup_watermark = static_cast<uint32_t>(data_bytes_ / 4);
  if (lead) {
    // Side-band records once per buffer: only the first event asks for them.
    attr.mmap = 1;
    attr.mmap2 = 1;
    attr.comm = 1;
    attr.comm_exec = 1;
    attr.task = 1;
    attr.build_id = build_ids_;
    attr.context_switch = off_cpu_event_ >= 0;
  }
  return attr;
}

absl::Status Tracer::Impl::AttachBuffer(int fd, int cpu) {
  auto it = buffers_.find(cpu);
  if (it != buffers_.end()) {
    const int r = backend_->Ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, it->second.fd);
    if (r < 0) {
      return absl::InternalError(
          absl::StrCat("cannot share a ring buffer (SET_OUTPUT): ", strerror(-r)));
    }
    return absl::OkStatus();
  }
  Buffer b{.fd = fd, .base = nullptr, .bytes = PageSize() + data_bytes_, .ring = nullptr};
  if (const int r = backend_->Map(fd, b.bytes, &b.base); r < 0) {
    return internal::MapError(-r, data_bytes_);
  }
  b.ring = std::make_unique<RingBuffer>(b.base, PageSize(), data_bytes_);
  buffers_.emplace(cpu, std::move(b));
  if (const int r = backend_->Watch(fd); r < 0) {
    return absl::InternalError(absl::StrCat("cannot watch a ring buffer: ", strerror(-r)));
  }
  return absl::OkStatus();
}

absl::Status Tracer::Impl::OpenOn(pid_t pid, int cpu, bool inherit, unsigned long flags,
                                  bool* gone) {
  *gone = false;
  for (size_t i = 0; i < specs_.size(); ++i) {
    perf_event_attr attr = MakeAttr(specs_[i], i == 0);
    attr.inherit = inherit;
    attr.enable_on_exec = child_.has_value();
    int fd = backend_->Open(attr, pid, cpu, -1, flags);
    if (fd == -EINVAL && attr.build_id) {
      build_ids_ = false;  // before Linux 5.12: MMAP2 records carry inode numbers instead
      attr.build_id = 0;
      fd = backend_->Open(attr, pid, cpu, -1, flags);
    }
    if (fd == -ESRCH) {
      *gone = true;
      return absl::OkStatus();
    }
    if (fd < 0) {
      return internal::OpenError(-fd, {.event = specs_[i].name,
                                       .system_wide = options_.target.system_wide,
                                       .tracepoint = specs_[i].tracepoint.has_value()});
    }
    fds_.push_back(fd);
    uint64_t id = 0;
    if (const int r = backend_->Ioctl(fd, PERF_EVENT_IOC_ID, reinterpret_cast<uintptr_t>(&id));
        r < 0) {
      return absl::InternalError(absl::StrCat("cannot read an event's id: ", strerror(-r)));
    }
    if (!parser_.AddEvent(
            id, {.sample_type = attr.sample_type, .regs_user_mask = attr.sample_regs_user})) {
      return absl::InternalError(
          absl::StrCat("event '", specs_[i].name, "' asks for sample fields dprof cannot parse"));
    }
    event_of_id_[id] = static_cast<uint32_t>(i);
    if (absl::Status s = AttachBuffer(fd, cpu); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Tracer::Impl::OpenThreadsOf(pid_t pid, bool whole_process) {
  // Threads created after their creator's events were opened inherit them; threads created
  // between listing and opening are caught by listing again until nothing new turns up.
  absl::flat_hash_set<pid_t> opened;
  bool any = false;
  for (int pass = 0; pass < 8; ++pass) {
    std::vector<pid_t> tids = whole_process ? internal::ListThreads(pid) : std::vector{pid};
    bool added = false;
    for (pid_t tid : tids) {
      if (excluded_.contains(tid) || !opened.insert(tid).second) continue;
      added = true;
      for (int cpu : cpus_) {
        bool gone = false;
        if (absl::Status s = OpenOn(tid, cpu, whole_process, 0, &gone); !s.ok()) return s;
        if (gone) break;
        any = true;
      }
    }
    if (!added || !whole_process) break;
  }
  if (!any) {
    return absl::NotFoundError(
        absl::StrCat(whole_process ? "process " : "thread ", pid,
                     " exited before recording started; record a short-lived program "
                     "by launching it instead (dprof record -- CMD)"));
  }
  return absl::OkStatus();
}

absl::Status Tracer::Impl::AttachProcess(pid_t pid) {
  spaces_.Attach(pid,
                 [this](uint32_t p, const unwind::AddressSpace& s) { AnnounceMappings(p, s); });
  exits_->Watch(pid, false);
  return OpenThreadsOf(pid, true);
}

absl::Status Tracer::Impl::OpenSystemWide() {
  int cgroup_fd = -1;
  unsigned long flags = 0;
  if (!options_.target.cgroup.empty()) {
    absl::StatusOr<std::string> path = internal::CgroupPath(options_.target.cgroup);
    if (!path.ok()) return path.status();
    cgroup_fd = open(path->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgroup_fd < 0) {
      return absl::NotFoundError(absl::StrCat("cannot open cgroup ", *path, ": ", strerror(errno),
                                              "; give a cgroup directory (ls ", *path, "/..)"));
    }
    flags = PERF_FLAG_PID_CGROUP;
  }
  absl::Status status;
  for (int cpu : cpus_) {
    bool gone = false;
    status = OpenOn(cgroup_fd, cpu, false, flags, &gone);
    if (!status.ok()) break;
  }
  if (cgroup_fd >= 0) close(cgroup_fd);
  return status;
}

absl::Status Tracer::Impl::Start() {
  if (started_) return absl::FailedPreconditionError("the tracer was already started");
  started_ = true;
  const Target& t = options_.target;
  if (stop_.fd() >= 0) backend_->Watch(stop_.fd());

  if (t.system_wide) {
    if (absl::Status s = OpenSystemWide(); !s.ok()) return s;
  } else if (!t.command.empty()) {
    absl::StatusOr<internal::ChildProcess> child = internal::ChildProcess::Launch(t.command);
    if (!child.ok()) return child.status();
    child_.emplace(*std::move(child));
    spaces_.Launched(child_->pid());
    if (absl::Status s = OpenThreadsOf(child_->pid(), true); !s.ok()) return s;
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
      if (absl::Status s = OpenThreadsOf(tid, false); !s.ok()) return s;
    }
  }

  if (child_) {
    // enable_on_exec: counting starts when the command execs, not before.
    if (absl::Status s = child_->Go(); !s.ok()) return s;
    exits_->Watch(child_->pid(), false);
  } else {
    for (int fd : fds_) {
      if (const int r = backend_->Ioctl(fd, PERF_EVENT_IOC_ENABLE, 0); r < 0) {
        return absl::InternalError(absl::StrCat("cannot enable an event: ", strerror(-r)));
      }
    }
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
  for (auto& [cpu, b] : buffers_) {
    b.ring->Read([this](std::span<const uint8_t> record) {
      event::SampleId sid;
      // Records without a known event still go through Process() to be counted.
      queue_.Push(parser_.ParseSampleId(record, &sid) ? sid.time : 0, record);
    });
  }
}

absl::Status Tracer::Impl::Run(std::chrono::nanoseconds duration) {
  if (!started_) return absl::FailedPreconditionError("Start() the tracer before Run()");
  const uint64_t deadline = duration.count() > 0 ? backend_->NowNs() + duration.count() : 0;
  auto process = [this](uint64_t, std::span<const uint8_t> record) { Process(record); };
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
  off_cpu_.CloseAll(backend_->NowNs(), [this](const event::TraceEvent& e) { Emit(e); });
  for (auto& [cpu, b] : buffers_) {
    const RingBufferStats& rs = b.ring->stats();
    Count(event::TracerStat::kCorruptBytes, rs.corrupt_bytes);
  }
  if (stacks_.engine() != nullptr) stacks_.engine()->Flush();
  return absl::OkStatus();
}

void Tracer::Impl::RequestStop() { stop_.Request(); }

event::TracerStats Tracer::Impl::Stats() const { return stacks_.Stats(counters_); }

bool Tracer::Impl::Filtered(uint32_t pid, uint32_t tid) const {
  if (excluded_.contains(tid)) return true;
  if (filter_pids_.empty() && filter_tids_.empty()) return false;
  return !filter_pids_.contains(pid) && !filter_tids_.contains(tid);
}

void Tracer::Impl::Emit(const event::TraceEvent& e) {
  if (e.kind == event::EventKind::kOffCpu) {
    Count(event::TracerStat::kOffCpuIntervals);
    CountThread(e.tid, [](event::ThreadStats& t) { ++t.off_cpu; });
  }
  if (named_.insert(e.pid).second) {
    internal::AnnounceNames(e.pid, internal::ListThreads(e.pid), backend_->NowNs(), sink_);
  }
  sink_->OnEvent(e);
}

void Tracer::Impl::Process(std::span<const uint8_t> bytes) {
  Record record;
  switch (parser_.Parse(bytes, &record)) {
    case ParseStatus::kOk:
      break;
    case ParseStatus::kUnknownType:
      Count(event::TracerStat::kUnknownRecords);
      return;
    case ParseStatus::kUnknownEvent:
      Count(event::TracerStat::kForeignRecords);
      return;
    case ParseStatus::kMalformed:
      Count(event::TracerStat::kMalformedRecords);
      return;
  }
  if (auto* s = std::get_if<SampleRecord>(&record)) {
    auto it = event_of_id_.find(s->sid.id);
    if (it != event_of_id_.end()) OnSample(*s, it->second);
  } else if (auto* m = std::get_if<event::Mmap2Record>(&record)) {
    OnMmap(*m);
  } else if (auto* c = std::get_if<event::CommRecord>(&record)) {
    if (c->exec) {
      // A new program: the MMAP2 records that follow describe all of it (the program, its
      // loader, every library), so /proc need not be read, and may be gone by the first sample.
      spaces_.Exec(c->pid);
    }
    sink_->OnComm(*c);
  } else if (auto* t = std::get_if<event::TaskRecord>(&record)) {
    if (t->exit) {
      if (stacks_.engine() != nullptr) stacks_.engine()->TaskExited(t->tid);
      tracker_.TaskExited(t->tid);
      off_cpu_.Exited(t->tid);
      if (t->pid == t->tid) exits_->Forget(t->pid);
    } else if (t->pid != t->ppid) {
      // A new process of the recorded tree: followed until it exits, past its parent's exit.
      if (!options_.target.system_wide) exits_->Watch(t->pid, false);
      spaces_.Fork(t->ppid, t->pid);
    }
    sink_->OnTask(*t);
  } else if (auto* l = std::get_if<LostRecord>(&record)) {
    Count(event::TracerStat::kLost, l->lost);
    CountThread(l->sid.tid, [&](event::ThreadStats& ts) { ts.lost += l->lost; });
  } else if (auto* ls = std::get_if<LostSamplesRecord>(&record)) {
    Count(event::TracerStat::kLostSamples, ls->lost);
    CountThread(ls->sid.tid, [&](event::ThreadStats& ts) { ts.lost += ls->lost; });
  } else if (auto* th = std::get_if<ThrottleRecord>(&record)) {
    Count(th->throttle ? event::TracerStat::kThrottled : event::TracerStat::kUnthrottled);
    if (th->throttle) CountThread(th->sid.tid, [](event::ThreadStats& ts) { ++ts.throttled; });
  } else if (auto* sw = std::get_if<SwitchRecord>(&record)) {
    if (!sw->out) {
      off_cpu_.SwitchedIn(sw->sid.tid, sw->sid.time,
                          [this](const event::TraceEvent& e) { Emit(e); });
    }
  } else if (auto* d = std::get_if<DeferredCallchainRecord>(&record)) {
    OnDeferredCallchain(*d);
  }
}

void Tracer::Impl::AnnounceMappings(uint32_t pid, const unwind::AddressSpace& space) {
  internal::AnnounceMappings(pid, space, backend_->NowNs(), sink_);
}

std::shared_ptr<const unwind::AddressSpace> Tracer::Impl::SpaceFor(uint32_t pid) {
  return spaces_.For(pid,
                     [this](uint32_t p, const unwind::AddressSpace& s) { AnnounceMappings(p, s); });
}

void Tracer::Impl::OnMmap(const event::Mmap2Record& m) {
  spaces_.Map(m);
  sink_->OnMmap(m);
}

void Tracer::Impl::AttachStacks(const SampleRecord& s, event::TraceEvent* e) {
  const internal::Callchain chain = internal::SplitCallchain(s.callchain);
  e->kernel_stack = stacks_.Save(chain.kernel, event::kKernelStackTag);
  if (e->kernel_stack == stackdepot::kNoHandle) e->kernel_pcs = chain.kernel;
  // The user frames the kernel walked (frame pointers), or those before native support.
  auto user_inline = [&] {
    if (chain.user.empty()) {
      Count(event::TracerStat::kNoUserContext);
      return;
    }
    e->user = event::UserStack::kInline;
    e->user_stack = stacks_.Save(chain.user, event::kUserStackTag);
    if (e->user_stack == stackdepot::kNoHandle) e->user_pcs = chain.user;
  };
  switch (mode_) {
    case StackMode::kNone:
      return;
    case StackMode::kFramePointer:
      user_inline();
      return;
    case StackMode::kNative:
      if (chain.deferred_cookie != 0) {
        e->user = event::UserStack::kDeferred;
        e->cookie = tracker_.AcceptNative(s.sid.tid, s.sid.cpu, s.sid.time, chain.deferred_cookie);
      } else {
        user_inline();
      }
      return;
    case StackMode::kDwarf:
      break;
  }
  if (s.regs_abi == abi::kRegsAbiNone || s.regs.empty()) {
    Count(event::TracerStat::kNoUserContext);
    return;
  }
  if (s.stack.empty()) {
    e->user = event::UserStack::kMissing;
    Count(event::TracerStat::kNoUserContext);
    return;
  }
  const unwind::Registers regs = internal::ToDwarfRegisters(s);
  const unwind::TaskContext context{.pid = s.sid.pid,
                                    .tid = s.sid.tid,
                                    .cpu = s.sid.cpu,
                                    .time_ns = s.sid.time,
                                    .user_mode = s.user_mode(),
                                    .regs = regs,
                                    .stack_address = regs.sp(),
                                    .stack = s.stack,
                                    .space = SpaceFor(s.sid.pid)};
  stacks_.RequestUserStack(context, s.stack.size() >= s.stack_reserved, &counters_, e);
}

void Tracer::Impl::OnSample(const SampleRecord& s, uint32_t event) {
  if (Filtered(s.sid.pid, s.sid.tid)) {
    Count(event::TracerStat::kFilteredOut);
    return;
  }
  const EventSpec& spec = specs_[event];
  event::TraceEvent e{
      .kind = spec.tracepoint ? event::EventKind::kTracepoint : event::EventKind::kSample,
      .event = event,
      .pid = s.sid.pid,
      .tid = s.sid.tid,
      .cpu = s.sid.cpu,
      .time_ns = s.sid.time,
      .weight = spec.tracepoint ? 1 : s.period,
      .user_mode = s.user_mode(),
      .raw = s.raw};
  AttachStacks(s, &e);
  const bool requested = event < options_.events.size();
  if (static_cast<int>(event) == off_cpu_event_) {
    int64_t prev_state = 0;
    spec.tracepoint->ReadInt(s.raw, "prev_state", &prev_state);
    if ((prev_state & kExitingStates) == 0) off_cpu_.SwitchedOut(e);
  }
  if (!requested) return;  // the internal sched_switch only feeds off-CPU intervals
  Count(spec.tracepoint ? event::TracerStat::kTracepointHits : event::TracerStat::kSamples);
  CountThread(s.sid.tid, [](event::ThreadStats& t) { ++t.samples; });
  Emit(e);
}

void Tracer::Impl::OnDeferredCallchain(const DeferredCallchainRecord& d) {
  Count(event::TracerStat::kDeferredCallchains);
  const cookie::Cookie cookie = tracker_.AcceptNative(d.sid.tid, d.sid.cpu, d.sid.time, d.cookie);
  const size_t n = internal::StripMarkers(d.ips, frames_);
  const std::span<const uint64_t> pcs(frames_.data(), n);
  sink_->OnUserStack(cookie, {.pcs = pcs,
                              .handle = stacks_.Save(pcs, event::kUserStackTag),
                              .reason = unwind::StopReason::kOutermost,
                              .native = true});
}

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
