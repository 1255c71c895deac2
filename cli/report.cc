// dprof report: the top functions of a recording as text on stdout, or its folded stacks.
#include "dprof/profile/report.h"

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/output_file.h"
#include "cli/recording_input.h"
#include "cli/view_flags.h"
#include "dprof/profile/folded.h"
#include "dprof/profile/output_file.h"
#include "dprof/profile/profile.h"

namespace dprof::cli {
namespace {

struct ReportFlags {
  std::string input;
  ViewFlags view;
  std::string sort = "self";
  size_t top = 20;
  bool folded = false;
  bool stats_only = false;
};

int Report(const ReportFlags& flags) {
  absl::StatusOr<profile::Recording> recording = LoadRecording(flags.input);
  if (!recording.ok()) return Fail(recording.status());
  // Folded stacks start with the thread's name, as `dprof export --format folded` writes them.
  absl::StatusOr<View> view = BuildView(flags.view, *recording, /*thread_root=*/flags.folded);
  if (!view.ok()) return UsageError(view.status().message());
  const profile::Profile& profile = view->profile;
  absl::Status written = WriteOutput(
      "-",
      [&](std::ostream& out) {
        if (flags.folded) {
          profile::WriteFolded(profile, {.kernel_suffix = true}, out);
          return absl::OkStatus();
        }
        profile::WriteReport(*recording, profile,
                             {.sort = flags.sort == "total" ? profile::ReportOptions::Sort::kTotal
                                                            : profile::ReportOptions::Sort::kSelf,
                              .top = flags.top,
                              .functions = !flags.stats_only,
                              .events = view->shown},
                             out);
        if (!flags.stats_only && !view->other.empty()) {
          out << "# also recorded: " << absl::StrJoin(view->other, ", ")
              << " (show them with --event NAME, --on-cpu or --off-cpu)\n";
        }
        return absl::OkStatus();
      },
      profile::kPrivateMode);
  return written.ok() ? kSuccess : Fail(written);
}

}  // namespace

Runner AddReport(CLI::App& app) {
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* c = app.add_subcommand("report", "Print the top functions of a recording");
  c->footer(
      "Examples:\n  dprof report\n  dprof report -i app.data --sort total --top 40 --no-kernel");
  AddInputFlag(c, &flags->input);
  c->add_option("--sort", flags->sort, "Order functions by their self or total weight")
      ->check(CLI::IsMember({"self", "total"}))
      ->capture_default_str();
  c->add_option("--top", flags->top, "How many functions to list (0: all)")
      ->type_name("N")
      ->capture_default_str();
  c->add_flag("--folded", flags->folded,
              "Print folded stacks (one line per stack: frames;joined weight) instead");
  c->add_flag("--stats", flags->stats_only,
              "Print only the stats: samples, lost, unwinds, orphans");
  AddViewFlags(c, &flags->view);
  return [flags] { return Report(*flags); };
}

}  // namespace dprof::cli
