// dprof script: every event of a recording (or a perf.data file) in perf script's text layout,
// for the tools that read it (stackcollapse-perf.pl, the Firefox Profiler, speedscope).
#include "dprof/profile/script.h"

#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/output_file.h"
#include "cli/recording_input.h"
#include "cli/usage.h"
#include "cli/view_flags.h"
#include "dprof/profile/output_file.h"

namespace dprof::cli {
namespace {

struct ScriptFlags {
  std::string input;
  ViewFlags view = {.every_event = true};
};

int Script(const ScriptFlags& flags) {
  absl::StatusOr<profile::Recording> recording = LoadRecording(flags.input);
  if (!recording.ok()) return Fail(recording.status());
  absl::StatusOr<View> view =
      BuildView(flags.view, *recording, {.by_thread = true, .keep_events = true});
  if (!view.ok()) return UsageError(view.status().message());
  absl::Status s = WriteOutput(
      "-",
      [&](std::ostream& out) {
        profile::WriteScript(*recording, view->profile, out);
        return absl::OkStatus();
      },
      profile::kPrivateMode);
  return s.ok() ? kSuccess : Fail(s);
}

}  // namespace

Runner AddScript(CLI::App& app) {
  auto flags = std::make_shared<ScriptFlags>();
  CLI::App* c = app.add_subcommand("script", "Print every event and its stack as perf script does");
  c->footer(
      "Every event by default; --event, --pid, --tid and --comm choose.\n"
      "Examples:\n  dprof script | stackcollapse-perf.pl | flamegraph.pl > app.svg\n"
      "  dprof script -i perf.data --comm python3");
  SetUsage(c, {"[OPTIONS] [-i FILE]"});
  AddInputFlag(c, &flags->input);
  AddViewFlags(c, &flags->view);
  return [flags] { return Script(*flags); };
}

}  // namespace dprof::cli
