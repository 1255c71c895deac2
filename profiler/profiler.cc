#include "dprof/profiler.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dprof/profile/recorder.h"
#include "dprof/profile/symbolizer.h"
#include "dprof/profile/window_recorder.h"
#include "dprof/rcu/grace_period.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/sync/mutex.h"
#include "dprof/tracer/backend.h"
#include "dprof/tracer/timer_sampler.h"

namespace dprof {
namespace {

// Passes everything to the recorder (or the windows), then to the caller's sinks; stops the
// source once the recording can no longer be written (a full disk).
class RecordingSink : public event::ForwardingSink {
 public:
  // `recorder` null: `windows` records.
  void Attach(profile::Recorder* recorder, profile::WindowRecorder* windows,
              event::EventSource* source, const std::vector<event::TraceSink*>& sinks) {
    recorder_ = recorder;
    source_ = source;
    Add(recorder != nullptr ? static_cast<event::TraceSink*>(recorder) : windows);
    for (event::TraceSink* s : sinks) Add(s);
  }

  void OnTick(uint64_t now_ns) override {
    ForwardingSink::OnTick(now_ns);
    if (recorder_ != nullptr && !recorder_->status().ok()) source_->RequestStop();
  }

 private:
  profile::Recorder* recorder_ = nullptr;
  event::EventSource* source_ = nullptr;
};

std::string DescribeTarget(const tracer::Target& t) {
  if (IsSelf(t)) return absl::StrCat("pid ", getpid(), " (itself)");
  if (!t.command.empty()) return absl::StrJoin(t.command, " ");
  std::string out = t.system_wide ? "system-wide" : "";
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  if (!t.pids.empty()) add(absl::StrCat("pid ", absl::StrJoin(t.pids, ",")));
  if (t.children) add("with children");
  if (!t.tids.empty()) add(absl::StrCat("tid ", absl::StrJoin(t.tids, ",")));
  if (!t.cgroup.empty()) add(absl::StrCat("cgroup ", t.cgroup));
  return out;
}

// Why perf_event cannot serve a self-profile, or Ok.
absl::Status PerfEventBlocked() {
  const char* forced = std::getenv("DPROF_NO_PERF_EVENT");
  if (forced != nullptr && *forced != '\0' && std::string_view(forced) != "0") {
    return absl::UnavailableError("DPROF_NO_PERF_EVENT is set");
  }
  std::unique_ptr<tracer::PerfBackend> backend = tracer::MakeSystemBackend();
  absl::Status s = tracer::PerfEventAvailable(backend.get());
  if (s.code() == absl::StatusCode::kPermissionDenied ||
      s.code() == absl::StatusCode::kUnimplemented) {
    return s;
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view SamplerName(Sampler sampler) {
  switch (sampler) {
    case Sampler::kAuto:
      return "auto";
    case Sampler::kPerfEvent:
      return "perf_event";
    case Sampler::kTimerSignal:
      return "timer signal";
  }
  return "?";
}

bool IsSelf(const tracer::Target& t) {
  return t.pids.empty() && t.tids.empty() && t.command.empty() && !t.system_wide;
}

class Profiler::Impl {
 public:
  explicit Impl(ProfilerOptions options) : options_(std::move(options)) {}
  ~Impl();

  absl::Status Init(Sampler sampler);
  std::map<std::string, std::string> Metadata(Sampler sampler) const;
  absl::Status Start(const std::map<std::string, std::string>& metadata);
  // Has the reader start the source; its status.
  absl::Status StartSource();
  void RequestStop() { source_->RequestStop(); }
  void Wait(std::chrono::nanoseconds timeout);
  absl::Status Finish();
  absl::StatusOr<Profile> Stop();
  event::TracerStats Stats() const { return source_->Stats(); }
  uint64_t bytes_written() const { return recorder_ ? recorder_->bytes_written() : 0; }
  pid_t command_pid() const { return tracer_ ? tracer_->command_pid() : 0; }
  tracer::CommandExit ExitStatus() const {
    return tracer_ ? tracer_->ExitStatus() : tracer::CommandExit{};
  }
  size_t processes_followed() const { return tracer_ ? tracer_->followed() : 0; }
  std::vector<pid_t> OwnThreads() const;
  int collector_nice() const { return nice_; }
  const std::vector<std::string>& notes() const { return notes_; }
  const std::string& collector_nice_refused() const { return nice_refused_; }

 private:
  void ReaderLoop();
  std::vector<std::string> EventNames() const;
  // The formats of the events that are tracepoints, by event index.
  std::map<uint32_t, event::Tracepoint> Tracepoints() const;
  // Names each window cut and hands it to ProfilerOptions::on_window, until the last.
  void NamerLoop();

  ProfilerOptions options_;
  std::unique_ptr<stackdepot::Depot> depot_;
  std::unique_ptr<unwind::DeferredUnwinder> engine_;
  std::vector<unwind::UnwindWork> consumers_;
  std::unique_ptr<profile::Recorder> recorder_;  // null with windows
  std::unique_ptr<profile::WindowRecorder> windows_;
  std::thread namer_;
  sync::Mutex windows_mu_;
  sync::CondVar windows_changed_;
  std::deque<profile::WindowRecorder::Window> cut_ ABSL_GUARDED_BY(windows_mu_);
  bool windows_closed_ ABSL_GUARDED_BY(windows_mu_) = false;
  RecordingSink sink_;
  std::unique_ptr<event::EventSource> source_;
  tracer::Tracer* tracer_ = nullptr;  // source_, when perf_event

  // The reader thread: starts the source when told, runs it, says when it is done.
  std::thread reader_;
  mutable sync::Mutex mu_;
  sync::CondVar changed_;
  pid_t reader_tid_ ABSL_GUARDED_BY(mu_) = 0;
  bool go_ ABSL_GUARDED_BY(mu_) = false;       // Start() asked the reader to start the source
  bool quit_ ABSL_GUARDED_BY(mu_) = false;     // the profiler is destroyed before Start()
  bool started_ ABSL_GUARDED_BY(mu_) = false;  // the source's Start() returned: start_status_
  bool done_ ABSL_GUARDED_BY(mu_) = false;     // the source's Run() returned: run_status_
  absl::Status start_status_ ABSL_GUARDED_BY(mu_);
  absl::Status run_status_ ABSL_GUARDED_BY(mu_);
  size_t unwind_queue_ = 0;   // the engine's queue capacity
  int nice_ = 0;              // of the workers, and of the reader once the source started
  std::string nice_refused_;  // why collector_nice could not be applied
  bool finished_ = false;
  std::vector<std::string> notes_;  // the symbolizer's, from Finish()
  absl::Status finish_status_;
};

Profiler::Impl::~Impl() {
  bool running = false;
  {
    sync::MutexLock lock(&mu_);
    running = started_ && start_status_.ok();
  }
  if (running && !finished_) (void)Finish();
  if (namer_.joinable()) {  // windows that never ran
    {
      sync::MutexLock lock(&windows_mu_);
      windows_closed_ = true;
      windows_changed_.NotifyAll();
    }
    namer_.join();
  }
  if (reader_.joinable()) {
    {
      sync::MutexLock lock(&mu_);
      quit_ = true;
    }
    changed_.NotifyAll();
    if (source_ != nullptr) source_->RequestStop();
    reader_.join();
  }
  for (const unwind::UnwindWork& w : consumers_) engine_->Cancel(w);
  source_.reset();  // its unwind work is canceled before the recorder goes
}

void Profiler::Impl::ReaderLoop() {
  pthread_setname_np(pthread_self(), "dprof-reader");
  {
    sync::MutexLock lock(&mu_);
    reader_tid_ = gettid();
    changed_.NotifyAll();
    while (!go_ && !quit_) changed_.Wait(&mu_);
    if (quit_ && !go_) return;
  }
  // A command the source launches is forked from this thread and keeps its priority: raised once
  // the command is forked. Attaching to many running threads takes long on a busy machine:
  // raised before, then.
  const bool launches = !options_.target.command.empty();
  if (!launches && nice_ != 0) setpriority(PRIO_PROCESS, 0, nice_);
  absl::Status started = source_->Start();
  if (launches && started.ok() && nice_ != 0) setpriority(PRIO_PROCESS, 0, nice_);
  {
    sync::MutexLock lock(&mu_);
    start_status_ = started;
    started_ = true;
    changed_.NotifyAll();
    if (!started.ok()) return;
  }
  absl::Status run = source_->Run(std::chrono::nanoseconds(0));
  sync::MutexLock lock(&mu_);
  run_status_ = run;
  done_ = true;
  changed_.NotifyAll();
}

std::vector<pid_t> Profiler::Impl::OwnThreads() const {
  std::vector<pid_t> tids = engine_->worker_tids();
  {
    sync::MutexLock lock(&mu_);
    tids.push_back(reader_tid_);
  }
  if (const pid_t rcu = rcu::CallbackThread(); rcu != 0) tids.push_back(rcu);
  return tids;
}

std::vector<std::string> Profiler::Impl::EventNames() const {
  std::vector<std::string> names = options_.events;
  if (options_.off_cpu) names.push_back(std::string(profile::kOffCpuEvent));
  return names;
}

std::map<uint32_t, event::Tracepoint> Profiler::Impl::Tracepoints() const {
  std::map<uint32_t, event::Tracepoint> out;
  for (size_t i = 0; tracer_ != nullptr && i < options_.events.size(); ++i) {
    if (const tracer::Tracepoint* tp = tracer_->TracepointOf(i)) {
      out[static_cast<uint32_t>(i)] = *tp;
    }
  }
  return out;
}

absl::Status Profiler::Impl::Init(Sampler sampler) {
  absl::StatusOr<std::unique_ptr<stackdepot::Depot>> depot = stackdepot::Depot::Create({});
  if (!depot.ok()) return depot.status();
  depot_ = *std::move(depot);
  size_t queue = options_.unwind_queue;
  if (queue == 0) {
    const size_t cpus = std::max(1u, std::thread::hardware_concurrency());
    const size_t rate = options_.period == 0 ? options_.frequency * cpus : 0;
    // At most a million: a frequency the kernel refuses later must not cost a huge queue first.
    queue = std::clamp<size_t>(rate, 2048, size_t{1} << 20);
  }
  unwind_queue_ = queue;
  absl::StatusOr<std::unique_ptr<unwind::DeferredUnwinder>> engine =
      unwind::DeferredUnwinder::Create({.unwinder = unwind::MakeDwarfUnwinder(),
                                        .queue_capacity = queue,
                                        .depot = depot_.get()});
  if (!engine.ok()) return engine.status();
  engine_ = *std::move(engine);
  for (const unwind::UnwindCallback& consumer : options_.unwind_consumers) {
    absl::StatusOr<unwind::UnwindWork> work = engine_->Register(consumer);
    if (!work.ok()) return work.status();
    consumers_.push_back(*work);
  }
  reader_ = std::thread([this] { ReaderLoop(); });
  {
    sync::MutexLock lock(&mu_);
    while (reader_tid_ == 0) changed_.Wait(&mu_);
  }
  if (options_.collector_nice != 0) {
    // Per thread: Linux keeps a nice value for each. The reader takes it when it starts its source.
    // The workers run nothing yet; the first refusal is every thread's (the same permission).
    nice_ = options_.collector_nice;
    for (pid_t tid : engine_->worker_tids()) {
      if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice_) != 0) {
        nice_refused_ = absl::StrCat("setpriority(", nice_, "): ", strerror(errno));
        nice_ = 0;
        break;
      }
    }
  }
  const bool self = IsSelf(options_.target);
  std::vector<pid_t> own = OwnThreads();
  if (sampler == Sampler::kTimerSignal) {
    absl::StatusOr<std::unique_ptr<tracer::TimerSampler>> sampler_made =
        tracer::TimerSampler::Create({.frequency = options_.frequency,
                                      .period = options_.period,
                                      .stack_size = options_.stack_size,
                                      .signal = options_.signal,
                                      .exclude_tids = own,
                                      .depot = depot_.get(),
                                      .engine = engine_.get(),
                                      .shared_works = consumers_},
                                     &sink_);
    if (!sampler_made.ok()) return sampler_made.status();
    source_ = *std::move(sampler_made);
  } else {
    tracer::TracerOptions o{.target = options_.target,
                            .events = options_.events,
                            .frequency = options_.frequency,
                            .period = options_.period,
                            .call_graph = options_.call_graph,
                            .stack_size = options_.stack_size,
                            .off_cpu = options_.off_cpu,
                            .buffer_pages = options_.buffer_pages,
                            .depot = depot_.get(),
                            .engine = engine_.get(),
                            .shared_works = consumers_};
    if (self) {
      o.target.pids = {getpid()};
      o.target.exclude_tids.insert(o.target.exclude_tids.end(), own.begin(), own.end());
    }
    absl::StatusOr<std::unique_ptr<tracer::Tracer>> tracer =
        tracer::Tracer::Create(std::move(o), &sink_);
    if (!tracer.ok()) return tracer.status();
    tracer_ = tracer->get();
    source_ = *std::move(tracer);
  }
  return absl::OkStatus();
}

std::map<std::string, std::string> Profiler::Impl::Metadata(Sampler sampler) const {
  std::map<std::string, std::string> m;
  m["command"] = DescribeTarget(options_.target);
  if (!options_.command_args && !options_.target.command.empty()) {
    // The program's name only: its path and arguments may say more than the user wants kept.
    m["command"] = std::filesystem::path(options_.target.command[0]).filename().string();
  }
  m["sampler"] = std::string(SamplerName(sampler));
  tracer::CallGraph mode =
      sampler == Sampler::kTimerSignal ? tracer::CallGraph::kDwarf : options_.call_graph;
  m["call_graph"] = std::string(tracer::CallGraphName(mode));
  const bool native = tracer_ != nullptr && tracer_->native_deferred();
  if (mode == tracer::CallGraph::kAuto)
    m["call_graph"] += native ? " (native deferred)" : " (dwarf)";
  m["stack_size"] = absl::StrCat(options_.stack_size & ~7u);  // as the samplers round it
  if (options_.period != 0) {
    m["period"] = absl::StrCat(options_.period);
  } else {
    m["frequency"] = absl::StrCat(options_.frequency);
  }
  if (options_.wall) m.emplace("wall", "1");
  if (tracer_ != nullptr) m["buffer_pages"] = absl::StrCat(tracer_->buffer_pages());
  if (tracer_ != nullptr && tracer_->user_only()) {
    m["user_only"] = "kernel.perf_event_paranoid allows this user no kernel sampling";
  }
  if (mode == tracer::CallGraph::kDwarf || (mode == tracer::CallGraph::kAuto && !native)) {
    m["unwind_queue"] = absl::StrCat(unwind_queue_);  // dprof unwinds
  }
  if (options_.collector_nice != 0) {
    m["collector_nice"] =
        nice_refused_.empty() ? absl::StrCat(nice_) : absl::StrCat("0 (", nice_refused_, ")");
  }
  m["dprof_version"] = DPROF_VERSION;
  utsname u = {};
  if (uname(&u) == 0) {
    m["kernel"] = absl::StrCat(u.sysname, " ", u.release);
    m["hostname"] = u.nodename;
    m["machine"] = u.machine;
  }
  for (const auto& [key, value] : options_.metadata) m[key] = value;
  return m;
}

absl::Status Profiler::Impl::Start(const std::map<std::string, std::string>& metadata) {
  {
    sync::MutexLock lock(&mu_);
    if (go_) return absl::FailedPreconditionError("the profiler was already started");
  }
  if (options_.window.count() > 0) {
    windows_ = std::make_unique<profile::WindowRecorder>(
        depot_.get(), metadata, EventNames(),
        profile::WindowRecorder::Options{
            .length_ns = static_cast<uint64_t>(options_.window.count()),
            .tracepoints = Tracepoints()},
        [this](profile::WindowRecorder::Window w) {
          sync::MutexLock lock(&windows_mu_);
          cut_.push_back(std::move(w));
          windows_changed_.NotifyAll();
        });
    namer_ = std::thread([this] { NamerLoop(); });
    sink_.Attach(nullptr, windows_.get(), source_.get(), options_.sinks);
    return StartSource();
  }
  absl::StatusOr<std::unique_ptr<profile::Recorder>> recorder =
      options_.output.empty()
          ? profile::Recorder::CreateInMemory(depot_.get(), metadata, EventNames(),
                                              {.tracepoints = Tracepoints()})
          : profile::Recorder::Create(options_.output, depot_.get(), metadata, EventNames(),
                                      {.mode = options_.output_mode,
                                       .keep_recording = options_.keep_profile,
                                       .tracepoints = Tracepoints()});
  if (!recorder.ok()) return recorder.status();
  recorder_ = *std::move(recorder);
  sink_.Attach(recorder_.get(), nullptr, source_.get(), options_.sinks);
  return StartSource();
}

absl::Status Profiler::Impl::StartSource() {
  absl::Status start_status;
  {
    sync::MutexLock lock(&mu_);
    go_ = true;
    changed_.NotifyAll();
    while (!started_) changed_.Wait(&mu_);
    start_status = start_status_;
  }
  if (!start_status.ok()) {
    reader_.join();
    finished_ = true;
    finish_status_ = start_status;
  }
  return start_status;
}

void Profiler::Impl::Wait(std::chrono::nanoseconds timeout) {
  sync::MutexLock lock(&mu_);
  if (!started_ || !start_status_.ok()) return;
  if (timeout.count() > 0) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done_) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds(0)) {
        source_->RequestStop();
        break;
      }
      changed_.WaitFor(&mu_, left);
    }
  }
  while (!done_) changed_.Wait(&mu_);
}

absl::Status Profiler::Impl::Finish() {
  if (finished_) return finish_status_;
  {
    sync::MutexLock lock(&mu_);
    if (!started_) return absl::FailedPreconditionError("the profiler was never started");
  }
  source_->RequestStop();
  Wait(std::chrono::nanoseconds(0));
  reader_.join();
  finished_ = true;
  if (windows_ != nullptr) {
    windows_->Close(event::MonotonicNs());
    {
      sync::MutexLock lock(&windows_mu_);
      windows_closed_ = true;
      windows_changed_.NotifyAll();
    }
    namer_.join();
    sync::MutexLock lock(&mu_);  // the reader that wrote it has exited: for the analysis
    finish_status_ = run_status_;
    return finish_status_;
  }
  profile::Symbolizer symbolizer({.progress = options_.naming_progress}, source_->binaries());
  finish_status_ = recorder_->Finish(profile::CountersOf(source_->Stats()), &symbolizer);
  notes_ = symbolizer.notes();
  if (finish_status_.ok()) {
    sync::MutexLock lock(&mu_);  // the reader that wrote it has exited: for the analysis
    finish_status_ = run_status_;
  }
  return finish_status_;
}

void Profiler::Impl::NamerLoop() {
  pthread_setname_np(pthread_self(), "dprof-windows");
  // One symbolizer for the whole run: each binary is opened once.
  profile::Symbolizer symbolizer({}, source_->binaries());
  for (;;) {
    profile::WindowRecorder::Window w;
    {
      sync::MutexLock lock(&windows_mu_);
      while (cut_.empty() && !windows_closed_) windows_changed_.Wait(&windows_mu_);
      if (cut_.empty()) return;
      w = std::move(cut_.front());
      cut_.pop_front();
    }
    // In memory: nothing to fail but naming, which leaves addresses unnamed. The counters are
    // the run's so far.
    (void)w.recorder->Finish(profile::CountersOf(source_->Stats()), &symbolizer);
    absl::StatusOr<profile::Recording> recording = w.recorder->TakeRecording();
    if (options_.on_window) {
      // Every window is handed over, so that they tile the run; one that could not be taken is
      // empty.
      options_.on_window(ProfileWindow{
          .index = w.index,
          .start_ns = w.start_ns,
          .end_ns = w.end_ns,
          .recording = recording.ok() ? *std::move(recording) : profile::Recording{}});
    }
  }
}

absl::StatusOr<Profile> Profiler::Impl::Stop() {
  if (absl::Status s = Finish(); !s.ok()) return s;
  if (windows_ != nullptr) {
    return absl::FailedPreconditionError(
        "a windowed profiler handed its profile over window by window (on_window)");
  }
  absl::StatusOr<profile::Recording> recording = recorder_->TakeRecording();
  if (!recording.ok()) {
    return absl::FailedPreconditionError(
        options_.keep_profile ? std::string(recording.status().message())
                              : absl::StrCat("the profile was not kept (keep_profile is off): "
                                             "read the recording ",
                                             options_.output, " instead"));
  }
  return Profile(*std::move(recording));
}

absl::StatusOr<std::unique_ptr<Profiler>> Profiler::Create(ProfilerOptions options) {
  if (options.wall) options.off_cpu = true;
  if (options.window.count() < 0) return absl::InvalidArgumentError("a window cannot be negative");
  if (options.window.count() > 0 && !options.output.empty()) {
    return absl::InvalidArgumentError(
        "a windowed profiler writes no recording file; leave the output empty");
  }
  Sampler sampler = options.sampler;
  const bool self = IsSelf(options.target);
  if (sampler == Sampler::kTimerSignal && !self) {
    return absl::InvalidArgumentError(
        "timer signals sample the calling process only; profile other processes with "
        "perf_event (Sampler::kAuto)");
  }
  std::string fallback_reason;
  if (sampler == Sampler::kAuto && self) {
    if (absl::Status blocked = PerfEventBlocked(); !blocked.ok()) {
      fallback_reason = std::string(blocked.message());
      sampler = Sampler::kTimerSignal;
    }
  }
  if (sampler == Sampler::kAuto) sampler = Sampler::kPerfEvent;
  if (sampler == Sampler::kTimerSignal) {
    for (const std::string& e : options.events) {
      if (e != "cpu-clock" && e != "task-clock") {
        return absl::FailedPreconditionError(
            absl::StrCat(fallback_reason.empty() ? "" : absl::StrCat(fallback_reason, "; "),
                         "timer signals sample CPU time only, not '", e, "'; record cpu-clock"));
      }
    }
    if (options.off_cpu) {
      return absl::FailedPreconditionError(
          absl::StrCat(fallback_reason.empty() ? "" : absl::StrCat(fallback_reason, "; "),
                       "timer signals cannot see off-CPU time; leave out off_cpu and wall"));
    }
    if (!fallback_reason.empty() && options.notice) {
      options.notice(absl::StrCat("perf_event is not available (", fallback_reason,
                                  "); sampling this process with CPU-time timer signals "
                                  "instead: user stacks only"));
    }
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Init(sampler); !s.ok()) return s;
  return std::unique_ptr<Profiler>(new Profiler(std::move(impl), sampler));
}

Profiler::Profiler(std::unique_ptr<Impl> impl, Sampler sampler)
    : impl_(std::move(impl)), sampler_(sampler), metadata_(impl_->Metadata(sampler)) {}
Profiler::~Profiler() = default;

absl::Status Profiler::Start() {
  metadata_["start_time"] = absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::LocalTimeZone());
  return impl_->Start(metadata_);
}
void Profiler::RequestStop() { impl_->RequestStop(); }
void Profiler::Wait(std::chrono::nanoseconds timeout) { impl_->Wait(timeout); }
absl::Status Profiler::Finish() { return impl_->Finish(); }
absl::StatusOr<Profile> Profiler::Stop() { return impl_->Stop(); }
event::TracerStats Profiler::Stats() const { return impl_->Stats(); }
uint64_t Profiler::bytes_written() const { return impl_->bytes_written(); }
pid_t Profiler::command_pid() const { return impl_->command_pid(); }
tracer::CommandExit Profiler::ExitStatus() const { return impl_->ExitStatus(); }
size_t Profiler::processes_followed() const { return impl_->processes_followed(); }
std::vector<pid_t> Profiler::own_threads() const { return impl_->OwnThreads(); }
int Profiler::collector_nice() const { return impl_->collector_nice(); }
const std::vector<std::string>& Profiler::notes() const { return impl_->notes(); }
const std::string& Profiler::collector_nice_refused() const {
  return impl_->collector_nice_refused();
}

}  // namespace dprof
