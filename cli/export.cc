// dprof export: a recording in another tool's format: folded stacks (flamegraph.pl, inferno),
// pprof (go tool pprof, Pyroscope), speedscope.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/output_file.h"
#include "cli/recording_input.h"
#include "cli/usage.h"
#include "cli/view_flags.h"
#include "dprof/profile/flamegraph.h"
#include "dprof/profile/folded.h"
#include "dprof/profile/pprof.h"
#include "dprof/profile/speedscope.h"
#include "dprof/profile/view.h"

namespace dprof::cli {
namespace {

struct ExportFlags {
  std::string input;
  ViewFlags view;
  std::string format;
  std::string output;  // "": by format
  std::string mode;
  std::string weights;  // --weights, for folded
};

std::string DefaultOutput(const std::string& format) {
  if (format == "pprof") return "dprof.pb.gz";
  if (format == "speedscope") return "dprof.speedscope.json";
  return "-";
}

int Export(const ExportFlags& flags) {
  absl::StatusOr<mode_t> mode = ParseMode(flags.mode);
  if (!mode.ok()) return UsageError(mode.status().message());
  const std::string output = flags.output.empty() ? DefaultOutput(flags.format) : flags.output;
  if (absl::Status s = CheckNotInput(output, flags.input, "-o"); !s.ok()) {
    return UsageError(s.message());
  }
  absl::StatusOr<profile::Recording> recording = LoadRecording(flags.input);
  if (!recording.ok()) return Fail(recording.status());
  absl::StatusOr<View> view =
      BuildView(flags.view, *recording,
                {.thread_root = flags.format == "folded",
                 .keep_events = flags.format == "speedscope"});
  if (!view.ok()) return UsageError(view.status().message());
  const profile::View& profile = view->profile;
  absl::StatusOr<profile::FoldedValue> value = FoldedValueOf(flags.weights, *view);
  if (!value.ok()) return UsageError(value.status().message());
  if (!flags.weights.empty() && flags.format != "folded") {
    return UsageError("--weights is for --format folded");
  }
  absl::Status s = WriteOutput(
      output,
      [&](std::ostream& out) {
        if (flags.format == "pprof") return profile::WritePprof(*recording, profile, out);
        if (flags.format == "speedscope") {
          profile::WriteSpeedscope(*recording, profile, profile::FlameGraphTitle(*recording), out);
        } else {
          profile::WriteFolded(profile, {.kernel_suffix = true, .value = *value}, out);
        }
        return absl::OkStatus();
      },
      *mode);
  if (!s.ok()) return Fail(s);
  if (output != "-") std::fprintf(stderr, "dprof: wrote %s\n", output.c_str());
  return kSuccess;
}

}  // namespace

Runner AddExport(CLI::App& app) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* c = app.add_subcommand("export", "Convert a recording for other tools");
  c->footer(
      "Examples:\n  dprof export --format folded > app.folded\n  dprof export --format pprof -o "
      "app.pb.gz && go tool pprof -top app.pb.gz\n  dprof export --format speedscope -o "
      "app.json");
  SetUsage(c, {"[OPTIONS] [-i FILE] --format folded|pprof|speedscope [-o FILE|-]"});
  AddInputFlag(c, &flags->input);
  c->add_option("--format", flags->format,
                "folded (stdout), pprof (dprof.pb.gz) or speedscope (dprof.speedscope.json)")
      ->required()
      ->check(CLI::IsMember({"folded", "pprof", "speedscope"}));
  c->add_option("-o,--output", flags->output, "The file to write (-: standard output)")
      ->type_name("FILE");
  AddModeFlag(c, &flags->mode);
  AddWeightsFlag(c, &flags->weights);
  AddViewFlags(c, &flags->view);
  return [flags] { return Export(*flags); };
}

}  // namespace dprof::cli
