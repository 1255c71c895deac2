// dprof import: a perf.data file (perf record's, any of its layouts) converted into a dprof
// recording, unwound and named by dprof; every view then reads it as it reads dprof's own.
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/output_file.h"
#include "cli/status_line.h"
#include "cli/usage.h"
#include "dprof/perf_import.h"

namespace dprof::cli {
namespace {

struct ImportFlags {
  std::string input;
  std::string output = "dprof.data";
};

int Import(const ImportFlags& flags) {
  if (absl::Status s = CheckNotInput(flags.output, flags.input, "-o"); !s.ok()) {
    return UsageError(s.message());
  }
  absl::StatusOr<bool> kept_previous = PrepareRecordingPath(flags.output);
  if (!kept_previous.ok()) return Fail(kept_previous.status());
  NamingLine naming_line(isatty(STDERR_FILENO) == 1);
  absl::StatusOr<PerfImport> imported = ImportPerfData(
      flags.input, {.output = flags.output, .symbols = {.progress = Draws(&naming_line)}});
  if (!imported.ok()) {
    RestorePrevious(flags.output, *kept_previous);
    return Fail(imported.status());
  }
  for (const std::string& warning : imported->warnings) Warn(warning);
  const profile::Recording& r = imported->recording;
  uint64_t unwound = 0;
  for (const profile::Event& e : r.events) unwound += e.user == event::UserStack::kDeferred;
  const std::string graph = r.metadata.contains("call_graph")
                                ? r.metadata.at("call_graph") + " call graph"
                                : std::string("no call graph");
  const std::string unwinds =
      unwound != 0 ? absl::StrFormat("; %u user stacks unwound by dprof", unwound) : "";
  std::fprintf(stderr, "dprof: imported %zu events (%s) from %s into %s%s\n", r.events.size(),
               graph.c_str(), flags.input.c_str(), flags.output.c_str(), unwinds.c_str());
  return kSuccess;
}

}  // namespace

Runner AddImport(CLI::App& app) {
  auto flags = std::make_shared<ImportFlags>();
  CLI::App* c = app.add_subcommand("import", "Convert a perf.data file into a dprof recording");
  c->footer(
      "Every view also reads perf.data directly (dprof report -i perf.data); import once to\n"
      "read it many times, or on another machine.\n"
      "Examples:\n  dprof import perf.data && dprof report\n"
      "  dprof import perf.data -o app.dprof");
  SetUsage(c, {"FILE [-o OUT]"});
  c->add_option("file", flags->input, "The perf.data file")->required()->type_name("FILE");
  c->add_option("-o,--output", flags->output, "The recording to write")
      ->type_name("OUT")
      ->capture_default_str();
  return [flags] { return Import(*flags); };
}

}  // namespace dprof::cli
