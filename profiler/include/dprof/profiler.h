// dprof::Profiler — profile a command, other processes, the whole system or the calling process
// itself from inside a program, and get the profile back without writing a file.
//
// A Profiler puts dprof's parts together: a sampler (perf_event through tracer::Tracer, or the
// CPU-time timer signals of tracer::TimerSampler when perf_event_open is not allowed), the stack
// depot, the deferred unwind engine, the recorder (a recording file, or memory) and, at the end,
// the symbolizer. `dprof record` is a client of this class.
//
// Self-profiling: with an empty target the profiler records the calling process, every thread it
// has and every thread it starts, and leaves out its own threads (the reader, "dprof-reader"; the
// unwind workers, "dprof-unwind"; liburcu's callback thread). When perf_event_open is not allowed
// (kernel.perf_event_paranoid=3, a container's seccomp profile) or DPROF_NO_PERF_EVENT=1 is set,
// Sampler::kAuto falls back to timer signals, says so once through ProfilerOptions::notice, and
// records the same kind of profile: user stacks of CPU time (no kernel stacks).
//
// Example:
//   auto profiler = dprof::Profiler::Create({.frequency = 499}).value();  // this process
//   absl::Status s = profiler->Start();
//   RunTheWorkload();
//   absl::StatusOr<dprof::Profile> profile = profiler->Stop();
//   s = profile->WriteFlameGraph("profile.html");
//   for (const auto& stack : profile->view().stacks()) { /* stack.weight, stack.frames */ }
//
// Context: Create, Start, Wait, Finish and Stop from one thread at a time (any thread: the
// profiler records on its own reader thread). RequestStop() from any thread or a signal handler.
// Stats() and the accessors from any thread; bytes_written() from a sink's OnTick or after
// Finish(). Not async-signal-safe otherwise.
#ifndef DPROF_PROFILER_H_
#define DPROF_PROFILER_H_

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/profile/flamegraph.h"
#include "dprof/profile/output_file.h"
#include "dprof/profile/recording.h"
#include "dprof/profile/report.h"
#include "dprof/profile/symbolizer.h"
#include "dprof/profile/view.h"
#include "dprof/tracer/tracer.h"
#include "dprof/unwind/deferred_unwinder.h"

namespace dprof {

// What takes the samples.
enum class Sampler : uint8_t {
  kAuto,         // perf_event; timer signals when profiling itself and perf_event is not allowed
  kPerfEvent,    // perf_event only (tracer::Tracer)
  kTimerSignal,  // CPU-time timer signals (tracer::TimerSampler): the calling process only
};
std::string_view SamplerName(Sampler sampler);  // "auto", "perf_event", "timer signal"

// One window of a windowed profiler (ProfilerOptions::window): the events of [start_ns, end_ns)
// (CLOCK_MONOTONIC), as a recording of their own, named.
struct ProfileWindow {
  uint64_t index = 0;  // 0, 1, ... in time order
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  profile::Recording recording;
};

struct ProfilerOptions {
  // Empty (no pids, tids, command, not system-wide): the calling process, without the profiler's
  // own threads.
  tracer::Target target = {};
  // As tracer::TracerOptions. Timer signals sample CPU time only: "cpu-clock" or "task-clock".
  std::vector<std::string> events = {"cpu-clock"};
  uint64_t frequency = 999;  // samples per second (of each thread's CPU time)
  uint64_t period = 0;       // events per sample instead (nanoseconds for the clocks)
  tracer::CallGraph call_graph = tracer::CallGraph::kDwarf;
  uint32_t stack_size =
      32768;  // bytes of user stack copied per sample (dwarf); 8..unwind::kMaxStackCopy (65528)
  bool off_cpu = false;     // also where threads blocked, and for how long (perf_event only)
  size_t buffer_pages = 0;  // ring buffer data pages per CPU (perf_event); 0: by call graph
  // User stacks that may wait for an unwind worker (each holds its stack copy); beyond it they
  // are dropped and counted. 0: a second of samples at `frequency` on every CPU, at least
  // 2048 and at most 1,048,576.
  size_t unwind_queue = 0;
  bool wall = false;  // off_cpu, and the profile's default view is wall-clock time
  // The recording file written while recording (readable up to its last chunk whatever happens);
  // empty: the recording is kept in memory only.
  std::string output = {};
  // Whether Stop() gives the profile back: the recorder keeps the whole recording in memory as
  // it writes it, and never reads the file. Off (with an output file), it keeps only what naming
  // the frames needs, so a long recording's memory grows far slower, and Stop() is
  // FailedPrecondition: the file holds the profile.
  bool keep_profile = true;
  // The recording file's mode: private by default, as perf.data (docs/recording-format.md says
  // what a recording holds).
  mode_t output_mode = profile::kPrivateMode;
  // Whether the recording keeps a launched command's arguments ("command" in its metadata):
  // without them, only the program's name (arguments may hold secrets).
  bool command_args = true;
  // Sinks that see everything the recorder sees, on the reader thread (OnUserStack on unwind
  // workers); OnTick suits a status line. Not owned; must outlive the profiler.
  std::vector<event::TraceSink*> sinks = {};
  // Consumers of the deferred unwinds next to the recorder's: each is called once per cookie
  // with the user stack of that kernel entry, from the same unwind, on unwind worker threads.
  // They need call_graph kDwarf (the default), where dprof itself unwinds.
  std::vector<unwind::UnwindCallback> unwind_consumers = {};
  Sampler sampler = Sampler::kAuto;
  // The nice value of the profiler's own threads (the reader and the unwind workers) while it
  // records; 0 leaves them as they are. A busy target (many threads that want every CPU) gets
  // each of them a fair share only, too little to keep up with the samples it makes: the ring
  // buffers overflow and the unwind queue drops. Below 0 needs CAP_SYS_NICE (root) or an
  // RLIMIT_NICE that allows it; where refused the threads keep their priority, and
  // collector_nice() says so. A launched command keeps the caller's priority.
  int collector_nice = 0;
  int signal = SIGPROF;  // the timer signals' (must have no handler of the program's)
  // Added to the recording's metadata ("command", "call_graph", "start_time", ... are set).
  std::map<std::string, std::string> metadata = {};
  // Told, once, what the user should know: that sampling fell back to timer signals, and why.
  // Called on the thread that called Create(). Library code never prints; this is how to.
  std::function<void(std::string_view)> notice = nullptr;
  // Windows instead of one recording (a continuous profiler): every `window` of event time, the
  // events so far are cut off into a recording of their own (profile::WindowRecorder), which is
  // named on a thread of the profiler's and handed to `on_window` there, in time order, windows
  // with no event too. No file is written (`output` must be empty) and Stop() gives nothing back;
  // Finish() hands over the last, shorter window before it returns. 0: one recording.
  std::chrono::nanoseconds window{0};
  std::function<void(ProfileWindow)> on_window = nullptr;
  // Told how naming the recording's addresses goes when it ends (Finish()), on its thread: what
  // a caller needs for a status line while that takes long.
  std::function<void(const profile::Symbolizer::Progress&)> naming_progress = nullptr;
};

// A finished recording: its events, stacks, symbols and counters, as views and files.
class Profile {
 public:
  explicit Profile(profile::Recording recording);

  // Everything recorded (profile/recording.h).
  const profile::Recording& recording() const { return recording_; }
  // The default view's stacks, merged, with their weights and symbolized frames (root first):
  // the first recorded event, with off-CPU time when recorded with `wall`.
  const profile::View& view() const { return view_; }
  // Any other view: some events, processes, threads, halves of the stacks.
  profile::View MakeView(const profile::ViewOptions& options) const;

  // Files, each replaced only once whole (profile/output_file.h); WriteRecording() excepted,
  // which writes the recording file in place. The flame graph is an SVG
  // picture when `path` ends in .svg, else an interactive HTML page; flame graphs and folded
  // stacks start each stack with its thread's name, as `dprof flamegraph` does.
  absl::Status WriteFlameGraph(const std::string& path,
                               const profile::FlameGraphOptions& options = {}) const;
  absl::Status WriteFolded(const std::string& path) const;
  absl::Status WritePprof(const std::string& path) const;
  absl::Status WriteSpeedscope(const std::string& path) const;
  // A recording file `dprof report` and the other views read.
  absl::Status WriteRecording(const std::string& path) const;
  // The text report of `dprof report`.
  void WriteReport(std::ostream& out, const profile::ReportOptions& options = {}) const;

 private:
  profile::ViewOptions DefaultView(bool thread_root) const;

  profile::Recording recording_;
  profile::View view_;
};

class Profiler {
 public:
  // Checks the options (events, frequency, stack size, target), makes the depot, the unwind
  // engine and the reader thread, and chooses the sampler. InvalidArgument/NotFound for options
  // that cannot work; FailedPrecondition for what timer signals cannot sample. Whether
  // perf_event may open the events shows at Start().
  static absl::StatusOr<std::unique_ptr<Profiler>> Create(ProfilerOptions options);
  // Stops and finishes a recording still running (as Finish()).
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  // Creates the recording (file or memory) and starts sampling; returns once sampling runs, or
  // why it could not start (nothing was recorded then). Once.
  absl::Status Start();
  // Makes the recording end. Context: any thread; async-signal-safe.
  void RequestStop();
  // Waits until the recording ends on its own: a launched command or every target process
  // exited, `timeout` passed (then it stops it; 0: no limit), or RequestStop() was called.
  void Wait(std::chrono::nanoseconds timeout = std::chrono::nanoseconds(0));
  // Stops sampling, waits for every user stack, and finishes the recording (symbols, counters,
  // the end chunk). The recording's status: a write that failed (a full disk) names the problem.
  absl::Status Finish();
  // Finish(), then the profile, as `dprof report` sees its file (ProfilerOptions::keep_profile).
  // Once.
  absl::StatusOr<Profile> Stop();

  // What samples: never kAuto once created.
  Sampler sampler() const { return sampler_; }
  // Counters so far: samples, lost, dropped, unwinds. Context: any thread.
  event::TracerStats Stats() const;
  // Bytes of the recording written so far. Context: a sink's OnTick (the reader thread), or
  // after Finish().
  uint64_t bytes_written() const;
  // The launched command (perf_event with Target::command): its pid, and how it ended.
  pid_t command_pid() const;
  tracer::CommandExit ExitStatus() const;
  // Processes (and threads) of the targets still followed: a command's exit ends a recording
  // only once what it started has exited too (perf_event; 0 otherwise). Context: a sink's OnTick
  // (the reader thread), or after Finish().
  size_t processes_followed() const;
  // The recording's metadata as written.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Threads of the profiler in this process (left out of a self-profile).
  std::vector<pid_t> own_threads() const;
  // What naming the recording's addresses could not read, and why, each once ("/tmp/perf-42.map
  // is owned by uid 1000, ..."): a caller shows them to its user. Context: after Finish().
  const std::vector<std::string>& notes() const;
  // The nice value the profiler's threads record with: ProfilerOptions::collector_nice, or 0 when
  // it was 0 or the system refused it (collector_nice_refused() then says why).
  int collector_nice() const;
  const std::string& collector_nice_refused() const;

 private:
  class Impl;
  Profiler(std::unique_ptr<Impl> impl, Sampler sampler);

  std::unique_ptr<Impl> impl_;
  Sampler sampler_;
  std::map<std::string, std::string> metadata_;
};

// Whether `target` is the calling process (an empty Target).
bool IsSelf(const tracer::Target& target);

}  // namespace dprof

#endif  // DPROF_PROFILER_H_
