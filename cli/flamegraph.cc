// dprof flamegraph: a recording as an interactive HTML flame graph (or an SVG picture).
#include "cli/flamegraph.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/output_file.h"
#include "cli/recording_input.h"
#include "cli/usage.h"
#include "cli/view_flags.h"

namespace dprof::cli {
namespace {

struct FlameGraphFlags {
  std::string input;
  ViewFlags view;
  std::string output = "flamegraph.html";
  std::string title;
  bool reverse = false;
  std::string diff;
  std::string mode;
};

int FlameGraph(const FlameGraphFlags& flags) {
  absl::StatusOr<mode_t> mode = ParseMode(flags.mode);
  if (!mode.ok()) return UsageError(mode.status().message());
  for (const std::string* input : {&flags.input, &flags.diff}) {
    if (absl::Status s = CheckNotInput(flags.output, *input, "-o"); !s.ok()) {
      return UsageError(s.message());
    }
  }
  absl::StatusOr<profile::Recording> recording = LoadRecording(flags.input);
  if (!recording.ok()) return Fail(recording.status());
  absl::StatusOr<View> view = BuildView(flags.view, *recording, {.thread_root = true});
  if (!view.ok()) return UsageError(view.status().message());

  std::optional<View> base;
  if (!flags.diff.empty()) {
    absl::StatusOr<profile::Recording> base_recording = LoadRecording(flags.diff);
    if (!base_recording.ok()) return Fail(base_recording.status());
    absl::StatusOr<View> base_view = BuildView(flags.view, *base_recording, {.thread_root = true});
    if (!base_view.ok()) return UsageError(base_view.status().message());
    base = *std::move(base_view);
  }
  const profile::FlameGraphOptions options{
      .title = flags.title.empty() ? profile::FlameGraphTitle(*recording) : flags.title,
      .subtitle = profile::FlameGraphSubtitle(*recording, view->profile, view->shown),
      .reverse = flags.reverse,
      .base = base ? &base->profile : nullptr};
  if (absl::Status s = WriteFlameGraphFile(view->profile, options, flags.output, *mode); !s.ok()) {
    return Fail(s);
  }
  if (flags.output != "-") {
    std::fprintf(stderr, "dprof: wrote %s (%llu events)\n", flags.output.c_str(),
                 static_cast<unsigned long long>(view->profile.total_count()));
  }
  return kSuccess;
}

}  // namespace

absl::Status WriteFlameGraphFile(const profile::View& profile,
                                 const profile::FlameGraphOptions& options, const std::string& path,
                                 mode_t mode) {
  return WriteOutput(
      path,
      [&](std::ostream& out) {
        profile::WriteFlameGraphFor(path, profile, options, out);
        return absl::OkStatus();
      },
      mode);
}

Runner AddFlameGraph(CLI::App& app) {
  auto flags = std::make_shared<FlameGraphFlags>();
  CLI::App* c = app.add_subcommand("flamegraph", "Write a recording's flame graph (HTML or SVG)");
  c->footer(
      "Examples:\n  dprof flamegraph\n  dprof flamegraph -i after.data --diff before.data -o "
      "diff.html\n  dprof flamegraph --off-cpu --reverse -o blocked.svg");
  SetUsage(c, {"[OPTIONS] [-i FILE] [-o FILE.html|FILE.svg]",
               "[OPTIONS] [-i FILE] --diff BASE_FILE [-o FILE]"});
  AddInputFlag(c, &flags->input);
  c->add_option("-o,--output", flags->output, "The file to write: .html (interactive) or .svg")
      ->type_name("FILE")
      ->capture_default_str();
  c->add_option("--title", flags->title, "The graph's title (default: the recorded command)");
  c->add_flag("--reverse", flags->reverse,
              "Merge stacks from their leaves: each hot function with its callers");
  c->add_option("--diff", flags->diff,
                "Color by how each frame's share changed since this earlier recording")
      ->type_name("BASE_FILE");
  AddModeFlag(c, &flags->mode);
  AddViewFlags(c, &flags->view);
  return [flags] { return FlameGraph(*flags); };
}

}  // namespace dprof::cli
