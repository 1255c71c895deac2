// dprof record: profiles a command, processes, threads or the whole system into a recording
// file; with --flamegraph, writes the flame graph as soon as it ends.
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/flamegraph.h"
#include "cli/ids.h"
#include "cli/output_file.h"
#include "cli/recording_input.h"
#include "cli/status_line.h"
#include "cli/stop_signals.h"
#include "cli/timer_agent.h"
#include "cli/usage.h"
#include "cli/view_flags.h"
#include "dprof/event/event.h"
#include "dprof/profile/recording.h"
#include "dprof/profiler.h"
#include "dprof/tracer/backend.h"
#include "dprof/tracer/tracer.h"
#include "dprof/unwind/snapshot.h"

namespace dprof::cli {
namespace {

// dprof's own threads outrank busy targets by this much (see ProfilerOptions::collector_nice).
constexpr int kCollectorNice = -10;

// record -q: errors only.
bool say_nothing = false;

// A line of progress or news on stderr, unless -q.
[[gnu::format(printf, 1, 2)]] void Say(const char* format, ...) {
  if (say_nothing) return;
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
}

struct RecordFlags {
  std::vector<std::string> pids;
  bool children = false;
  std::vector<std::string> tids;
  bool system_wide = false;
  std::string cgroup;
  uint64_t frequency = 999;
  uint64_t period = 0;
  std::vector<std::string> events = {"cpu-clock"};
  std::string call_graph;       // "": dwarf, or fp with -g
  bool frame_pointers = false;  // -g
  uint32_t stack_size = 0;      // 0: the tracer's default, or the one --call-graph dwarf,SIZE names
  bool off_cpu = false;
  bool wall = false;
  int collector_nice = kCollectorNice;
  std::string mode;
  bool no_cmdline_args = false;
  size_t mmap_pages = 0;    // 0: the tracer's default
  size_t unwind_queue = 0;  // 0: the profiler's default
  bool quiet = false;
  std::string sampler = "auto";  // auto, perf or timer
  double duration = 0;
  std::string output = kDefaultRecording;
  std::string flamegraph;
  std::vector<std::string> command;
};

// Draws the status line on the reader's ticks, and says when a command exited but the processes
// it started are still recorded.
class StatusSink : public event::TraceSink {
 public:
  explicit StatusSink(StatusLine* status) : status_(status) {}
  void set_profiler(const Profiler* profiler, std::string command) {
    profiler_ = profiler;
    command_ = std::move(command);
  }
  void OnEvent(const event::TraceEvent&) override {}
  void OnUserStack(cookie::Cookie, const event::UserStackTrace&) override {}
  void OnTick(uint64_t now_ns) override {
    // A tick after the command exited: the recording goes on for what it left running.
    if (!command_.empty() && !told_exit_ && profiler_->ExitStatus().exited &&
        profiler_->processes_followed() > 0) {
      told_exit_ = true;
      status_->Clear();
      Say("dprof: %s exited; recording the processes it started until they exit "
          "(Ctrl-C stops)\n",
          command_.c_str());
    }
    if (status_->Due(now_ns)) {
      status_->Update(now_ns, profiler_->Stats(), profiler_->bytes_written());
    }
  }

 private:
  StatusLine* status_;
  const Profiler* profiler_ = nullptr;
  std::string command_;  // a launched command's name
  bool told_exit_ = false;
};

absl::StatusOr<ProfilerOptions> ProfilerOptionsOf(const RecordFlags& f) {
  ProfilerOptions o;
  absl::StatusOr<std::vector<pid_t>> pids = ParseIds(f.pids, "-p");
  if (!pids.ok()) return pids.status();
  absl::StatusOr<std::vector<pid_t>> tids = ParseIds(f.tids, "-t");
  if (!tids.ok()) return tids.status();
  o.target = {.pids = *pids,
              .children = f.children,
              .tids = *tids,
              .command = f.command,
              .system_wide = f.system_wide,
              .cgroup = f.cgroup};
  if (f.children && (o.target.pids.empty() || f.system_wide)) {
    return absl::InvalidArgumentError(
        "--children follows the processes that -p names: give -p PID (without -a)");
  }
  if (o.target.pids.empty() && o.target.tids.empty() && o.target.command.empty() &&
      !o.target.system_wide) {
    return absl::InvalidArgumentError(
        "nothing to record: give a command (dprof record -- CMD ARGS), -p PID, -t TID or -a");
  }
  o.events = f.events;
  o.frequency = f.frequency;
  o.period = f.period;
  // perf's forms: "dwarf", "dwarf,16384", "fp"; -g is fp.
  std::vector<std::string> mode = absl::StrSplit(
      f.call_graph.empty() ? (f.frame_pointers ? "fp" : "dwarf") : f.call_graph, ',');
  absl::StatusOr<tracer::CallGraph> call_graph = tracer::ParseCallGraph(mode[0]);
  if (!call_graph.ok()) return call_graph.status();
  o.call_graph = *call_graph;
  if (mode.size() > 2 || (mode.size() == 2 && (o.call_graph != tracer::CallGraph::kDwarf ||
                                               !absl::SimpleAtoi(mode[1], &o.stack_size)))) {
    return absl::InvalidArgumentError(
        absl::StrCat("--call-graph takes MODE or dwarf,BYTES, not '", f.call_graph, "'"));
  }
  if (f.stack_size != 0) o.stack_size = f.stack_size;
  o.off_cpu = f.off_cpu;
  o.wall = f.wall;
  o.collector_nice = f.collector_nice;
  o.command_args = !f.no_cmdline_args;
  absl::StatusOr<mode_t> file_mode = ParseMode(f.mode);
  if (!file_mode.ok()) return file_mode.status();
  o.output_mode = *file_mode;
  o.buffer_pages = f.mmap_pages;
  o.unwind_queue = f.unwind_queue;
  o.output = f.output;
  // The flame graph is drawn from the recording kept in memory; without one, memory stays low.
  o.keep_profile = !f.flamegraph.empty();
  o.sampler = Sampler::kPerfEvent;  // another process: perf_event or nothing
  return o;
}

void PrintSummary(const RecordFlags& f, const event::TracerStats& stats, uint64_t bytes,
                  double seconds) {
  const unwind::EngineStats& e = stats.engine;
  Say("dprof: recorded %llu events in %.2f s; %llu user stacks unwound of %llu "
      "requested; lost %llu, dropped %llu\n",
      static_cast<unsigned long long>(stats.events()), seconds,
      static_cast<unsigned long long>(e.done()),
      static_cast<unsigned long long>(e[unwind::EngineStat::kJobs]),
      static_cast<unsigned long long>(stats.lost()),
      static_cast<unsigned long long>(stats[event::TracerStat::kDroppedSnapshots]));
  Say("dprof: wrote %s (%s, %llu events)\n", f.output.c_str(), FormatBytes(bytes).c_str(),
      static_cast<unsigned long long>(stats.events()));
}

// One line for each kind of sample that had to be given up, saying why and which flag helps.
void ExplainLosses(const Profiler& profiler, const event::TracerStats& stats) {
  const uint64_t lost = stats.lost();
  const uint64_t dropped = stats[event::TracerStat::kDroppedSnapshots];
  if (lost == 0 && dropped == 0) return;
  auto meta = [&](const char* key) {
    auto it = profiler.metadata().find(key);
    return it == profiler.metadata().end() ? std::string("?") : it->second;
  };
  // Busy targets leave dprof's own threads a fair share of the CPU only, unless they outrank them.
  const std::string priority =
      profiler.collector_nice() < 0
          ? ""
          : (profiler.collector_nice_refused().empty()
                 ? "; or --collector-nice -10, so that dprof's threads outrank a busy target"
                 : "; or run as root (or give dprof CAP_SYS_NICE), so that dprof's threads "
                   "outrank a busy target");
  const double total = static_cast<double>(stats.events() + lost);
  if (lost > 0) {
    Say("dprof: lost %llu samples (%.1f%%): the ring buffers filled before dprof read "
        "them; raise -m (now %s pages per CPU), or lower -F or --stack-size%s\n",
        static_cast<unsigned long long>(lost), 100.0 * lost / total, meta("buffer_pages").c_str(),
        priority.c_str());
  }
  if (dropped > 0) {
    Say("dprof: dropped %llu user stacks (%.1f%%): the unwind queue was full; raise "
        "--unwind-queue (now %s), or lower -F%s\n",
        static_cast<unsigned long long>(dropped), 100.0 * dropped / total,
        meta("unwind_queue").c_str(), priority.c_str());
  }
}

// Reports how a launched command ended, when it did not end well; `stopped`: the recording was
// ended (Ctrl-C, -d) before the command, which was stopped with it.
void ReportCommandExit(const tracer::CommandExit& exit, const std::vector<std::string>& command,
                       bool stopped) {
  if (!exit.exited || command.empty()) return;
  if (exit.signal != 0 && stopped) {
    Say("dprof: %s was stopped with the recording (signal %d, %s)\n", command[0].c_str(),
        exit.signal, strsignal(exit.signal));
  } else if (exit.signal != 0) {
    Say("dprof: %s was killed by signal %d (%s)\n", command[0].c_str(), exit.signal,
        strsignal(exit.signal));
  } else if (exit.code != 0) {
    Say("dprof: %s exited with status %d\n", command[0].c_str(), exit.code);
  }
}

absl::Status WriteOneShotFlameGraph(const profile::Recording& recording, const std::string& path,
                                    mode_t mode) {
  absl::StatusOr<View> view = BuildView({}, recording, {.thread_root = true});
  if (!view.ok()) return view.status();
  return WriteFlameGraphFile(
      view->profile,
      {.title = profile::FlameGraphTitle(recording),
       .subtitle = profile::FlameGraphSubtitle(recording, view->profile, view->shown)},
      path, mode);
}

// The flame graph's path checked and a previous recording moved aside (PrepareRecordingPath):
// whether there was one; nullopt, with the exit code, when either cannot be.
std::optional<bool> PrepareOutputs(const RecordFlags& flags, int* exit_code) {
  if (!flags.flamegraph.empty()) {
    absl::Status s = CheckNotInput(flags.flamegraph, flags.output, "--flamegraph");
    if (!s.ok()) {
      *exit_code = UsageError(s.message());
      return std::nullopt;
    }
    if (s = CheckOutputDirectory(flags.flamegraph, "--flamegraph"); !s.ok()) {
      *exit_code = Fail(s);
      return std::nullopt;
    }
  }
  absl::StatusOr<bool> kept_previous = PrepareRecordingPath(flags.output);
  if (!kept_previous.ok()) {
    *exit_code = Fail(kept_previous.status());
    return std::nullopt;
  }
  return *kept_previous;
}

// Why perf_event cannot record here at all (not even user space), or Ok.
absl::Status PerfEventRefused() {
  absl::Status s = tracer::PerfEventAvailable(tracer::MakeSystemBackend().get());
  if (s.code() == absl::StatusCode::kPermissionDenied ||
      s.code() == absl::StatusCode::kUnimplemented) {
    return s;
  }
  return absl::OkStatus();
}

// What the timer sampler cannot do: anything but the CPU time of a launched command's own
// threads, with dwarf stacks.
absl::Status CheckTimerFlags(const RecordFlags& f, const ProfilerOptions& o) {
  std::string what;
  if (f.command.empty()) what = "records a launched command only (-p, -t and -a need perf_event)";
  for (const std::string& e : f.events) {
    if (e != "cpu-clock" && e != "task-clock") {
      what = absl::StrCat("samples CPU time only (cpu-clock), not ", e);
    }
  }
  if (f.off_cpu || f.wall) what = "samples CPU time only: no --off-cpu or --wall";
  if (o.call_graph != tracer::CallGraph::kDwarf) what = "unwinds dwarf stacks only: no -g";
  if (f.duration > 0) what = "records until the command exits: no -d";
  if (f.period != 0) what = "samples by frequency only: no -c";
  if (what.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("the timer sampler ", what));
}

// record with --sampler timer: the command samples itself (cli/timer_agent.h).
int RecordWithTimer(const RecordFlags& flags, const ProfilerOptions& options) {
  if (absl::Status s = CheckTimerFlags(flags, options); !s.ok()) return UsageError(s.message());
  int exit_code = kSuccess;
  const std::optional<bool> kept_previous = PrepareOutputs(flags, &exit_code);
  if (!kept_previous.has_value()) return exit_code;
  Say("dprof: recording %s with timer signals (its own threads' CPU time, user stacks)\n",
      flags.command[0].c_str());
  const uint64_t start_ns = event::MonotonicNs();
  absl::StatusOr<TimerAgentRun> run = RunWithTimerAgent(
      {.command = flags.command,
       .frequency = options.frequency,
       .stack_size = options.stack_size,
       .output = flags.output,
       .mode = options.output_mode,
       .command_metadata = flags.no_cmdline_args
                               ? std::filesystem::path(flags.command[0]).filename().string()
                               : absl::StrJoin(flags.command, " ")});
  if (!run.ok()) {
    RestorePrevious(flags.output, *kept_previous);
    return Fail(run.status());
  }
  const double seconds = (event::MonotonicNs() - start_ns) / 1e9;
  const tracer::CommandExit exit{
      .exited = true,
      .code = WIFEXITED(run->wait_status) ? WEXITSTATUS(run->wait_status) : 0,
      .signal = WIFSIGNALED(run->wait_status) ? WTERMSIG(run->wait_status) : 0};
  ReportCommandExit(exit, flags.command, /*stopped=*/false);
  std::error_code ec;
  if (!std::filesystem::exists(flags.output, ec)) {
    RestorePrevious(flags.output, *kept_previous);
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "nothing was recorded: ", flags.command[0],
        " did not load dprof's timer agent (static and set-user-ID programs ignore LD_PRELOAD), "
        "or the agent could not start (said above)")));
  }
  absl::StatusOr<profile::Recording> recording = LoadRecording(flags.output);
  if (!recording.ok()) return Fail(recording.status());
  auto counter = [&](const char* name) {
    auto it = recording->counters.find(name);
    return static_cast<unsigned long long>(it == recording->counters.end() ? 0 : it->second);
  };
  Say("dprof: recorded %zu events in %.2f s; %llu user stacks unwound of %llu requested; "
      "dropped %llu\n",
      recording->events.size(), seconds, counter("engine.unwinds") + counter("engine.content hits"),
      counter("engine.jobs"), counter("dropped snapshots"));
  Say("dprof: wrote %s (%s, %zu events)\n", flags.output.c_str(),
      FormatBytes(std::filesystem::file_size(flags.output, ec)).c_str(), recording->events.size());
  if (!flags.flamegraph.empty()) {
    if (absl::Status s = WriteOneShotFlameGraph(*recording, flags.flamegraph, options.output_mode);
        !s.ok()) {
      return Fail(s);
    }
    Say("dprof: wrote %s\n", flags.flamegraph.c_str());
  }
  return kSuccess;
}

int Record(const RecordFlags& flags) {
  absl::StatusOr<ProfilerOptions> options = ProfilerOptionsOf(flags);
  if (!options.ok()) return UsageError(options.status().message());
  say_nothing = flags.quiet;
  if (flags.sampler == "timer") return RecordWithTimer(flags, *options);
  if (flags.sampler == "auto" && !flags.command.empty()) {
    // Where perf_event is refused outright, the command can still sample itself: said once.
    if (absl::Status refused = PerfEventRefused(); !refused.ok()) {
      Say("dprof: %s; sampling with timer signals instead (--sampler perf refuses)\n",
          std::string(refused.message()).c_str());
      return RecordWithTimer(flags, *options);
    }
  }
  const mode_t mode = options->output_mode;  // of the flame graph too
  StatusLine status_line(!say_nothing && isatty(STDERR_FILENO) == 1, event::MonotonicNs());
  StatusSink status_sink(&status_line);
  options->sinks = {&status_sink};
  NamingLine naming_line(!say_nothing && isatty(STDERR_FILENO) == 1);
  options->naming_progress = Draws(&naming_line);
  absl::StatusOr<std::unique_ptr<Profiler>> created = Profiler::Create(*std::move(options));
  if (!created.ok()) {
    const absl::StatusCode code = created.status().code();
    // Unknown events, a frequency above the kernel's limit, impossible combinations: the command
    // line's fault.
    return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound
               ? UsageError(created.status().message())
               : Fail(created.status());
  }
  Profiler& profiler = **created;
  status_sink.set_profiler(&profiler, flags.command.empty() ? "" : flags.command[0]);

  int exit_code = kSuccess;
  const std::optional<bool> kept_previous = PrepareOutputs(flags, &exit_code);
  if (!kept_previous.has_value()) return exit_code;

  InstallStopSignals(&profiler);
  const uint64_t attach_ns = event::MonotonicNs();
  if (absl::Status s = profiler.Start(); !s.ok()) {
    UninstallStopSignals();
    // Nothing was recorded: the previous recording goes back where it was.
    RestorePrevious(flags.output, *kept_previous);
    return Fail(s);
  }
  // -d counts from here: however long attaching to many threads took.
  const uint64_t start_ns = event::MonotonicNs();
  // The command is forked: this thread, which finishes the recording, may outrank it now.
  if (profiler.collector_nice() != 0) setpriority(PRIO_PROCESS, 0, profiler.collector_nice());
  SetStopSignalCommand(profiler.command_pid());
  if (profiler.metadata().contains("user_only")) {
    Say("dprof: recording user space only: kernel.perf_event_paranoid lets this user "
        "sample no kernel; run as root or with CAP_PERFMON for kernel frames\n");
  }
  if (!flags.command.empty()) {
    Say("dprof: recording %s (pid %d); Ctrl-C stops\n", flags.command[0].c_str(),
        profiler.command_pid());
  } else {
    Say("dprof: recording %s (attached in %.2f s); Ctrl-C stops\n",
        profiler.metadata().at("command").c_str(), (start_ns - attach_ns) / 1e9);
  }
  profiler.Wait(std::chrono::nanoseconds(static_cast<int64_t>(flags.duration * 1e9)));
  SetStopSignalCommand(0);  // reaped: its pid may be reused
  const double seconds = (event::MonotonicNs() - start_ns) / 1e9;
  status_line.Clear();
  // From here a second Ctrl-C still aborts: the file is readable up to its last chunk.
  const absl::Status finished = profiler.Finish();
  const bool stopped = StopSignalReceived() || flags.duration > 0;
  UninstallStopSignals();
  ReportCommandExit(profiler.ExitStatus(), flags.command, stopped);
  if (!finished.ok()) return Fail(finished);
  if (!say_nothing) {
    for (const std::string& note : profiler.notes()) Warn(note);
  }
  PrintSummary(flags, profiler.Stats(), profiler.bytes_written(), seconds);
  ExplainLosses(profiler, profiler.Stats());
  if (!flags.flamegraph.empty()) {
    absl::StatusOr<Profile> profile = profiler.Stop();  // kept in memory: keep_profile
    if (!profile.ok()) return Fail(profile.status());
    if (absl::Status s = WriteOneShotFlameGraph(profile->recording(), flags.flamegraph, mode);
        !s.ok()) {
      return Fail(s);
    }
    Say("dprof: wrote %s\n", flags.flamegraph.c_str());
  }
  return kSuccess;
}

}  // namespace

Runner AddRecord(CLI::App& app, const std::vector<std::string>* after_dashes) {
  auto flags = std::make_shared<RecordFlags>();
  CLI::App* c = app.add_subcommand(
      "record", "Profile a command, processes, threads or the whole system into a recording");
  c->footer(
      "Examples:\n  dprof record -- ./app --fast\n  dprof record -p 1234 -d 10 -o app.data\n"
      "  dprof record -a -F 99 -d 5\n  dprof record --wall --flamegraph app.html -- ./app");
  SetUsage(c, {"[OPTIONS] [--] CMD [ARG]...", "[OPTIONS] -p PID[,PID]... [--children] [-d SECONDS]",
               "[OPTIONS] -t TID[,TID]... [-d SECONDS]",
               "[OPTIONS] -a [-G CGROUP] [-p PID]... [-d SECONDS] [-- CMD [ARG]...]"});
  // Everything after the first argument that is not an option is the command and its arguments.
  c->prefix_command();
  c->add_option("-p,--pid", flags->pids,
                "Processes to record, with every thread they have and make")
      ->type_name("PID[,PID]")
      ->allow_extra_args(false);
  c->add_flag("--children", flags->children,
              "With -p: also the processes they started before recording (a pre-fork server's "
              "workers); those they start while recorded are always followed");
  c->add_option("-t,--tid", flags->tids, "Threads to record")
      ->type_name("TID[,TID]")
      ->allow_extra_args(false);
  c->add_flag("-a,--all-cpus", flags->system_wide,
              "Record the whole system (every CPU); -p/-t then filter");
  c->add_option("-G,--cgroup", flags->cgroup, "With -a: only this cgroup")->type_name("PATH");
  CLI::Option* frequency =
      c->add_option("-F,--freq", flags->frequency, "Samples per second per thread")
          ->type_name("HZ")
          ->capture_default_str();
  c->add_option("-c,--count", flags->period,
                "One sample every PERIOD events (nanoseconds for the clocks), instead of -F")
      ->type_name("PERIOD")
      ->excludes(frequency);
  c->add_option("-e,--event", flags->events,
                "cpu-clock, task-clock, page-faults or a tracepoint SYSTEM:NAME")
      ->type_name("EVENT[,EVENT]")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  c->add_option("--call-graph", flags->call_graph,
                "User stacks: dwarf[,BYTES] (the default: unwound by dprof), fp (frame pointers), "
                "auto (the kernel's deferred callchains where it has them), none")
      ->type_name("MODE");
  c->add_flag("-g", flags->frame_pointers,
              "Same as --call-graph fp (which --call-graph overrides)");
  c->add_option("--stack-size", flags->stack_size,
                absl::StrCat("Bytes of user stack copied per sample for dwarf (8 to ",
                             unwind::kMaxStackCopy, "; default 32768)"))
      ->type_name("BYTES")
      ->check(CLI::Range(uint32_t{8}, unwind::kMaxStackCopy));
  c->add_option("-m,--mmap-pages", flags->mmap_pages,
                "Ring buffer pages per CPU, a power of two (default: an eighth of a second of "
                "samples: 1024 at 999 Hz with dwarf stacks)")
      ->type_name("PAGES");
  c->add_option("--unwind-queue", flags->unwind_queue,
                "User stacks that may wait for an unwind (default: a second of samples on every "
                "CPU, 2048 to 1048576)")
      ->type_name("JOBS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 22));
  c->add_option("--collector-nice", flags->collector_nice,
                "Nice value of dprof's own threads while recording, so that they keep up with "
                "busy targets (below 0 needs root or CAP_SYS_NICE; 0 leaves them as they are)")
      ->type_name("NICE")
      ->check(CLI::Range(-20, 19))
      ->capture_default_str();
  c->add_flag("--off-cpu", flags->off_cpu,
              "Also record off-CPU time: where threads blocked, and for how long");
  c->add_flag("--wall", flags->wall,
              "Wall-clock profile: on-CPU samples and off-CPU time in one view");
  c->add_option("-d,--duration", flags->duration, "Stop after this many seconds")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.001, 1e7));
  c->add_option("-o,--output", flags->output,
                "The recording to write; an existing one is kept as FILE.old")
      ->type_name("FILE")
      ->capture_default_str();
  AddModeFlag(c, &flags->mode);
  c->add_flag("--no-cmdline-args", flags->no_cmdline_args,
              "Keep only the command's name in the recording, not its path and arguments");
  c->add_option("--sampler", flags->sampler,
                "What takes the samples: perf (perf_event), timer (CPU-time timer signals inside "
                "a launched command, its own threads only: where perf_event_open is refused), or "
                "auto (perf, else timer for a command)")
      ->check(CLI::IsMember({"auto", "perf", "timer"}))
      ->capture_default_str();
  c->add_flag("-q,--quiet", flags->quiet,
              "Print errors only: no progress, summary, notices or warnings");
  c->add_option("--flamegraph", flags->flamegraph,
                "Also write the flame graph (.html or .svg) when recording ends")
      ->type_name("FILE");
  return [flags, c, after_dashes] {
    // The command starts at the first argument that is not an option; a "--" before it ends
    // dprof's options, and one after it is the command's own.
    flags->command = c->remaining();
    if (!flags->command.empty() && flags->command[0].starts_with('-')) {
      return UsageError(absl::StrCat("record has no option ", flags->command[0],
                                     "; run 'dprof record --help' for its options, and put the "
                                     "command after --"));
    }
    if (!after_dashes->empty()) {
      if (!flags->command.empty()) flags->command.push_back("--");
      flags->command.insert(flags->command.end(), after_dashes->begin(), after_dashes->end());
    }
    return Record(*flags);
  };
}

}  // namespace dprof::cli
