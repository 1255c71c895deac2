// dprof::ImportPerfData — a perf.data file as a dprof recording.
//
// The file's records are replayed through dprof's own pipeline (tracer::PerfDataSource: the
// depot, context cookies, the deferred unwind engine over perf's register and stack snapshots),
// recorded by profile::Recorder (to a file, or in memory) and named by profile::Symbolizer from
// the binaries the file's mappings and build-ids name. `dprof import` and every view that is
// given a perf.data file call this.
//
// Example:
//   absl::StatusOr<dprof::PerfImport> imported =
//       dprof::ImportPerfData("perf.data", {.output = "perf.dprof"});
//   for (const std::string& w : imported->warnings) std::cerr << w << "\n";
//   dprof::Profile profile(std::move(imported->recording));
//
// Context: any thread; blocking (it reads the whole file and waits for every unwind).
#ifndef DPROF_PERF_IMPORT_H_
#define DPROF_PERF_IMPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dprof/profile/recording.h"
#include "dprof/profile/symbolizer.h"
#include "dprof/tracer/perf_data_source.h"

namespace dprof {

struct PerfImportOptions {
  // A dprof recording written while importing (private to the user: its mode is 0600); empty:
  // memory only.
  std::string output = "";
  tracer::PerfDataSourceOptions source = {};
  // Where names come from (live_processes is ignored: the file's pids name no process here).
  profile::Symbolizer::Options symbols = {};
};

struct PerfImport {
  profile::Recording recording;
  // What did not import as recorded (tracer::PerfDataSource::warnings()) and what could not be
  // named (profile::Symbolizer::notes()), each once.
  std::vector<std::string> warnings;
};

// Imports the perf.data file at `path`. Errors name the file and the problem; a file whose
// records stop being readable part-way imports up to there, with a warning.
absl::StatusOr<PerfImport> ImportPerfData(const std::string& path, PerfImportOptions options = {});

}  // namespace dprof

#endif  // DPROF_PERF_IMPORT_H_
