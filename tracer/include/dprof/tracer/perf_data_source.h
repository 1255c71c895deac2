// dprof::tracer::PerfDataSource — a perf.data file replayed as if dprof had recorded it.
//
// Every record `perf record` wrote goes through what live records go through (the record
// dispatch, the address-space model, the stack depot, context cookies, the deferred unwind engine
// with dprof's own DWARF unwinder over the file's register and stack snapshots) into a TraceSink:
// mappings, thread names, forks and exits, and events with their stacks. Records are delivered in
// time order as perf orders them: a FINISHED_ROUND record lets out what is older than the round
// before it, the end lets out the rest.
//
// Binaries are matched by build-id first (the file's BUILD_ID feature gives mappings theirs; a
// file replaced since the recording is looked for in perf's build-id cache), then by path. A
// binary missing or changed gets one warning naming it and what changed; its frames stay unnamed
// ("[unknown] (module+offset)"). The pids of the file name other processes now, or none: /proc is
// never read for them.
//
// Example:
//   absl::StatusOr<std::unique_ptr<PerfDataSource>> source = PerfDataSource::Open("perf.data");
//   auto recorder = profile::Recorder::Create("out.dprof", (*source)->depot(),
//                                             (*source)->metadata(), (*source)->event_names());
//   absl::Status s = (*source)->Run(recorder.get());
//   for (const std::string& w : (*source)->warnings()) std::cerr << w << "\n";
//
// Context: one thread; the sink's OnUserStack() is called from unwind workers (dwarf files), and
// not after Run() returns.
#ifndef DPROF_TRACER_PERF_DATA_SOURCE_H_
#define DPROF_TRACER_PERF_DATA_SOURCE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/event/event.h"
#include "dprof/event/tracepoint_format.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/tracer/tracer.h"
#include "dprof/unwind/binary.h"

namespace dprof::tracer {

struct PerfDataSourceOptions {
  stackdepot::Depot* depot = nullptr;  // where stacks are saved; null: a depot of its own
  int unwind_workers = 0;              // dwarf files: the unwind engine's threads (0: one per CPU)
  // perf's build-id cache (`perf buildid-cache`, `perf archive`), where a binary replaced since the
  // recording is looked for: DIR/.build-id/XX/REST/elf. Empty: $HOME/.debug.
  std::string build_id_cache = "";
  // Where tracepoints the file has no formats for are looked up (empty: the mounted tracefs).
  std::string tracefs_root = "";
  // The running kernel's ELF notes (its build-id).
  std::string kernel_notes = "/sys/kernel/notes";
};

class PerfDataSource {
 public:
  // Opens `path` and reads its header: the events, the features, perf's tracing data. Errors name
  // the file and the problem (PerfDataFile::Open); a missing file is NotFound.
  static absl::StatusOr<std::unique_ptr<PerfDataSource>> Open(const std::string& path,
                                                              PerfDataSourceOptions options = {});
  ~PerfDataSource();
  PerfDataSource(const PerfDataSource&) = delete;
  PerfDataSource& operator=(const PerfDataSource&) = delete;

  // The file's events by event number (TraceEvent::event): their names as perf gave them.
  const std::vector<std::string>& event_names() const;
  // The formats of the file's tracepoint events whose fields can be read (from the file's
  // tracing data, else this machine's tracefs), by event number.
  std::map<uint32_t, event::Tracepoint> tracepoints() const;
  // What the file says of its recording: "command", "perf_command", "hostname", "kernel",
  // "machine", "perf_version", "call_graph", "frequency" or "period", "stack_size", "source".
  const std::map<std::string, std::string>& metadata() const;
  // How the file's user stacks were recorded: kFramePointer (frames the kernel walked), kDwarf
  // (register and stack snapshots, unwound here), kAuto (the kernel's deferred callchains), kNone.
  CallGraph call_graph() const;

  // Replays every record into `sink`; every user stack has been delivered when it returns. Once.
  // A record that cannot be read ends the replay, with a warning, after everything before it was
  // delivered. Errors: the unwind engine could not start.
  absl::Status Run(event::TraceSink* sink);

  // Counted while replaying: samples, records skipped (unknown types, malformed), losses the
  // file recorded, the unwind engine's and the depot's counters.
  event::TracerStats Stats() const;
  // What did not import as recorded, each once: binaries missing or changed since the recording,
  // a kernel other than the recording's, a file cut short.
  const std::vector<std::string>& warnings() const;

  // Where the recorded kernel's symbols are: /proc/kallsyms when the running kernel is the
  // recorded one (by build-id, else by release), else perf's build-id cache's copy of its
  // kallsyms; empty when neither (kernel frames stay unnamed; warnings() says so).
  const std::string& kallsyms() const;

  stackdepot::Depot* depot() const;
  // The binaries opened for unwinding: a symbolizer of the replay should name frames from them.
  unwind::BinaryCache* binaries();

  class Impl;

 private:
  explicit PerfDataSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether `head`, a file's first bytes, is perf.data's magic (PERFILE2 in either byte order, or
// the first format's PERFFILE).
bool IsPerfData(std::span<const uint8_t> head);

}  // namespace dprof::tracer

#endif  // DPROF_TRACER_PERF_DATA_SOURCE_H_
