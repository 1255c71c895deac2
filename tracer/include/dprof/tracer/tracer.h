// dprof::tracer::Tracer — perf_event sampling of a process, a command, or the whole system.
//
// The tracer opens the requested events (cpu-clock by default, task-clock, page-faults, any
// tracepoint) on its targets, reads their ring buffers, and turns every record into what the rest
// of dprof consumes:
//  - each event's kernel call chain goes into the stack depot;
//  - its user stack is asked of the deferred unwind engine with the task's registers and a copy
//    of its stack (--call-graph dwarf): the engine names the kernel entry with a cookie and
//    unwinds once per cookie on its own threads, never on the reader thread; with native
//    deferred callchains (Linux 6.19+) the kernel hands out the cookie and later the frames; with
//    frame pointers the kernel walks the user stack itself;
//  - sched_switch pairs (--off-cpu) become weighted off-CPU events: the stacks at the moment a
//    thread blocked, weighted by how long it stayed off the CPU;
//  - mappings, names, forks and exits keep one address space per process current.
// Lost records, throttling, dropped and truncated snapshots and malformed records are counted,
// per reason and per thread (Stats()).
//
// Example:
//   CollectingSink sink;  // an event::TraceSink of the caller's
//   auto tracer = Tracer::Create({.target = {.command = {"./app", "--fast"}}}, &sink).value();
//   absl::Status s = tracer->Start();   // opens, maps, launches; counters start at exec
//   s = tracer->Run();                  // returns when ./app exits or RequestStop() is called
//   tracer->ExitStatus();               // ./app's
//
// Context: Create on any thread; Start and Run on one thread (the reader), one after the other;
// RequestStop() from any thread or a signal handler.
#ifndef DPROF_TRACER_TRACER_H_
#define DPROF_TRACER_TRACER_H_

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/cookie/cookie.h"
#include "dprof/event/event.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/tracer/backend.h"
#include "dprof/tracer/records.h"
#include "dprof/tracer/tracepoint.h"
#include "dprof/unwind/address_space.h"
#include "dprof/unwind/deferred_unwinder.h"

namespace dprof::tracer {

// What to record.
struct Target {
  std::vector<pid_t> pids = {};           // processes: every thread, and every thread or child they
                                          // create while recorded (perf -p)
  bool children = false;                  // with pids: also the processes they started before
                                          // (their descendants): a pre-fork server's workers
  std::vector<pid_t> tids = {};           // single threads (perf -t)
  std::vector<std::string> command = {};  // a command to launch (perf record -- CMD)
  bool system_wide = false;               // every CPU (perf -a); pids and tids then filter
  std::string cgroup = {};                // system-wide, one cgroup (perf -G): a full path, or
                                          // one relative to the perf_event cgroup mount
  std::vector<pid_t> exclude_tids = {};   // threads never recorded (a profiler of its own
                                          // process leaves out its own threads)
};

enum class CallGraph {
  kNone,          // no call chains
  kFramePointer,  // the kernel walks user frame pointers
  kDwarf,         // user registers + stack copy, unwound deferred by dprof
  kAuto,          // native deferred callchains where the kernel has them, else kDwarf
};
std::string_view CallGraphName(CallGraph mode);
absl::StatusOr<CallGraph> ParseCallGraph(std::string_view name);

struct TracerOptions {
  Target target = {};
  // "cpu-clock", "task-clock", "page-faults", or a tracepoint "system:name".
  std::vector<std::string> events = {"cpu-clock"};
  uint64_t frequency = 999;  // samples per second per thread (-F); ignored when period is set
  uint64_t period = 0;       // events per sample (-c): nanoseconds for the clocks
  CallGraph call_graph = CallGraph::kDwarf;
  uint32_t stack_size =
      32768;  // bytes of user stack per snapshot (dwarf); 8..unwind::kMaxStackCopy (65528)
  bool off_cpu = false;  // record off-CPU intervals (sched_switch in both directions)
  // Data pages per ring buffer (a power of two); 0: room for an eighth of a second of samples
  // at `frequency` (1024 at 999 Hz with 32 KiB stacks; 128 to 4096).
  size_t buffer_pages = 0;
  // Not owned; nullptr: the system backend.
  PerfBackend* backend = nullptr;
  // Not owned; nullptr: the tracer makes its own. Holds kernel and user stacks.
  stackdepot::Depot* depot = nullptr;
  // Not owned; nullptr: the tracer makes one with the DWARF unwinder. Another engine lets other
  // consumers share the tracer's unwinds (one unwind per cookie for all of them).
  unwind::DeferredUnwinder* engine = nullptr;
  // Other consumers registered on `engine`: every user stack the tracer asks for (dwarf) is asked
  // for them in the same request, so they get the same trace and cookie from the same unwind.
  std::vector<unwind::UnwindWork> shared_works = {};
  int unwind_workers = 0;         // for the tracer's own engine; 0: one per CPU
  std::string tracefs_root = {};  // "": found (Tracefs::Find)
};

// How a launched command ended.
struct CommandExit {
  bool exited = false;  // false: still running, or not launched
  int code = 0;         // exit code, when it exited normally
  int signal = 0;       // the signal that killed it, else 0
};

class Tracer : public event::EventSource {
 public:
  // Checks the options (events exist, frequency within the kernel's limit, stack size, target
  // shape). `sink` must outlive the tracer.
  static absl::StatusOr<std::unique_ptr<Tracer>> Create(TracerOptions options,
                                                        event::TraceSink* sink);
  ~Tracer() override;
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Opens the events on the targets, maps the ring buffers, and starts counting: at once for
  // processes, threads and the system; at exec for a command. Errors name the fix.
  // Context: Start() and then Run() on one thread (the reader), once each.
  absl::Status Start() override;

  // Reads events until the targets have exited, RequestStop() was called, or `duration` passed
  // (0: no limit); then reads what is left and waits for every user stack to be delivered.
  absl::Status Run(std::chrono::nanoseconds duration = std::chrono::nanoseconds(0)) override;

  // Makes Run() finish. A launched command still running is sent SIGTERM (SIGKILL if it has not
  // exited 2 s later) and reaped, and ExitStatus() says how it ended.
  // Context: any thread; async-signal-safe.
  void RequestStop() override;

  // Context: any thread, also while Run() runs (a status line). The accessors below read state
  // the reader thread changes: call them after Run() returned, or from the sink's OnEvent().
  event::TracerStats Stats() const override;
  CommandExit ExitStatus() const;
  // Processes and threads still followed: the targets and what they forked while recorded, as
  // far as the records read so far tell (a recording ends when none is left).
  size_t followed() const;
  // The launched command's pid (0 when none).
  pid_t command_pid() const;
  // Whether user stacks come from native deferred callchains (kAuto on Linux 6.19+).
  bool native_deferred() const;
  // Whether this user may not sample the kernel (kernel.perf_event_paranoid 2 without
  // CAP_PERFMON), so that every event counts user space only (exclude_kernel, as perf's ":u"):
  // events have no kernel frames.
  bool user_only() const;
  // Data pages of each ring buffer (TracerOptions::buffer_pages, or the default for the mode).
  size_t buffer_pages() const;
  // The last address space seen for `pid` (kept after it exits), or nullptr.
  std::shared_ptr<const unwind::AddressSpace> AddressSpaceOf(pid_t pid) const;
  // The format of options.events[i] when it is a tracepoint, else nullptr.
  const Tracepoint* TracepointOf(size_t event) const;
  stackdepot::Depot* depot() const override;
  // Every file the tracer opened, kept open for its life: a symbolizer given these still names
  // the code of files deleted since they were mapped, and opens no file a second time.
  unwind::BinaryCache* binaries() const override;

 private:
  class Impl;
  explicit Tracer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether this process may open perf events at all: Ok, or why not (PermissionDenied under
// kernel.perf_event_paranoid or a seccomp filter, Unimplemented without perf_event_open), with
// the fix. Opens and closes one disabled software event on the calling thread.
absl::Status PerfEventAvailable(PerfBackend* backend);

// Whether the running kernel offers native deferred user callchains (perf_event_attr's
// defer_callchain, Linux 6.19). Opens and closes one software event on the calling thread.
bool NativeDeferredSupported(PerfBackend* backend);

// Whether this process may sample the kernel too (kernel.perf_event_paranoid 1 or lower, or
// CAP_PERFMON): false when only user space may be. Opens and closes one software event on the
// calling thread.
bool KernelSamplingAllowed(PerfBackend* backend);

}  // namespace dprof::tracer

#endif  // DPROF_TRACER_TRACER_H_
