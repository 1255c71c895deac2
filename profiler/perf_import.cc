#include "dprof/perf_import.h"

#include <memory>
#include <utility>

#include "dprof/profile/recorder.h"

namespace dprof {

absl::StatusOr<PerfImport> ImportPerfData(const std::string& path, PerfImportOptions options) {
  absl::StatusOr<std::unique_ptr<tracer::PerfDataSource>> source =
      tracer::PerfDataSource::Open(path, options.source);
  if (!source.ok()) return source.status();
  tracer::PerfDataSource& s = **source;
  std::unique_ptr<profile::Recorder> recorder;
  if (options.output.empty()) {
    recorder = profile::Recorder::CreateInMemory(s.depot(), s.metadata(), s.event_names(),
                                                 {.tracepoints = s.tracepoints()});
  } else {
    absl::StatusOr<std::unique_ptr<profile::Recorder>> created = profile::Recorder::Create(
        options.output, s.depot(), s.metadata(), s.event_names(),
        {.keep_recording = true, .tracepoints = s.tracepoints()});
    if (!created.ok()) return created.status();
    recorder = *std::move(created);
  }
  if (absl::Status st = s.Run(recorder.get()); !st.ok()) return st;
  options.symbols.live_processes = false;
  // The recorded kernel's symbols; without them, none (this kernel's would name wrong functions).
  options.symbols.kallsyms = s.kallsyms();
  if (s.kallsyms() != "/proc/kallsyms") options.symbols.modules = "";
  profile::Symbolizer symbolizer(options.symbols, s.binaries());
  if (absl::Status st = recorder->Finish(profile::CountersOf(s.Stats()), &symbolizer); !st.ok()) {
    return st;
  }
  absl::StatusOr<profile::Recording> recording = recorder->TakeRecording();
  if (!recording.ok()) return recording.status();
  PerfImport out{.recording = *std::move(recording), .warnings = s.warnings()};
  out.warnings.insert(out.warnings.end(), symbolizer.notes().begin(), symbolizer.notes().end());
  return out;
}

}  // namespace dprof
