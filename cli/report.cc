// dprof report: the top functions of a recording as text on stdout, or its folded stacks. Its
// flags follow perf report's: --sort keys, --children, --percent-limit, -n, -g, -q.
#include "dprof/profile/report.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/output_file.h"
#include "cli/recording_input.h"
#include "cli/usage.h"
#include "cli/view_flags.h"
#include "dprof/profile/folded.h"
#include "dprof/profile/output_file.h"
#include "dprof/profile/view.h"

namespace dprof::cli {
namespace {

struct ReportFlags {
  std::string input;
  ViewFlags view;
  std::vector<std::string> sort = {"self"};
  bool children = false;
  bool no_children = false;
  double percent_limit = 0;
  bool samples = false;
  std::string call_graph;  // "", "caller" or "callee"
  int64_t width = -1;      // -1: COLUMNS, the terminal's, or 80
  bool quiet = false;
  size_t top = 20;
  bool folded = false;
  std::string weights;  // --weights, for --folded
  bool stats_only = false;
};

// Columns to fit: COLUMNS, else the terminal's width, else 80 (a pipe or a file).
size_t OutputWidth() {
  size_t columns = 0;
  if (const char* env = std::getenv("COLUMNS"); env != nullptr && absl::SimpleAtoi(env, &columns)) {
    if (columns > 0) return columns;
  }
  winsize size = {};
  if (isatty(STDOUT_FILENO) == 1 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 &&
      size.ws_col > 0) {
    return size.ws_col;
  }
  return 80;
}

// --sort's words: keys (comm, pid, tid, dso, sym) and the order (self or total).
absl::Status ParseSort(const ReportFlags& flags, profile::ReportOptions* o) {
  std::vector<profile::ReportKey> keys;
  for (const std::string& word : flags.sort) {
    if (word == "self" || word == "total") {
      o->sort = word == "total" ? profile::ReportOptions::Sort::kTotal
                                : profile::ReportOptions::Sort::kSelf;
    } else if (std::optional<profile::ReportKey> key = profile::ParseReportKey(word)) {
      keys.push_back(*key);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--sort: unknown key '", word,
          "'; use comm, pid, tid, dso (or module) and sym in any order, or self or total"));
    }
  }
  if (!keys.empty()) o->keys = keys;
  return absl::OkStatus();
}

int Report(const ReportFlags& flags) {
  profile::ReportOptions options{.top = flags.top,
                                 .header = !flags.quiet,
                                 .functions = !flags.stats_only,
                                 .stats = !flags.quiet};
  const char* debuginfod = std::getenv("DEBUGINFOD_URLS");
  options.debuginfod = debuginfod != nullptr && *debuginfod != '\0';
  if (absl::Status s = ParseSort(flags, &options); !s.ok()) return UsageError(s.message());
  if (flags.children) options.sort = profile::ReportOptions::Sort::kTotal;
  if (flags.no_children) {
    options.sort = profile::ReportOptions::Sort::kSelf;
    options.total_column = false;
  }
  options.percent_limit = flags.percent_limit;
  options.samples_column = flags.samples;
  if (!flags.call_graph.empty()) {
    options.call_graph = flags.call_graph == "callee" ? profile::ReportOptions::CallGraph::kCallee
                                                      : profile::ReportOptions::CallGraph::kCaller;
  }
  options.width = flags.width >= 0 ? static_cast<size_t>(flags.width) : OutputWidth();
  const bool by_thread = profile::NeedsThreads(options.keys);

  absl::StatusOr<profile::Recording> recording = LoadRecording(flags.input);
  if (!recording.ok()) return Fail(recording.status());
  // Folded stacks start with the thread's name, as `dprof export --format folded` writes them.
  absl::StatusOr<View> view =
      BuildView(flags.view, *recording, {.thread_root = flags.folded, .by_thread = by_thread});
  if (!view.ok()) return UsageError(view.status().message());
  const profile::View& profile = view->profile;
  absl::StatusOr<profile::FoldedValue> value = FoldedValueOf(flags.weights, *view);
  if (!value.ok()) return UsageError(value.status().message());
  if (!flags.weights.empty() && !flags.folded) return UsageError("--weights needs --folded");
  options.events = view->shown;
  if (!flags.stats_only) options.other_events = view->other;
  absl::Status written = WriteOutput(
      "-",
      [&](std::ostream& out) {
        if (flags.folded) {
          profile::WriteFolded(profile, {.kernel_suffix = true, .value = *value}, out);
          return absl::OkStatus();
        }
        profile::WriteReport(*recording, profile, options, out);
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
      "Examples:\n  dprof report\n  dprof report -i app.data --sort total --top 40 --no-kernel\n"
      "  dprof report --sort comm,dso -n\n  dprof report --children -g caller --percent-limit 5");
  SetUsage(c, {"[OPTIONS] [-i FILE] [-s KEY[,KEY]...] [-g [caller|callee]]",
               "[OPTIONS] [-i FILE] --folded", "[OPTIONS] [-i FILE] --stats"});
  AddInputFlag(c, &flags->input);
  c->add_option("-s,--sort", flags->sort,
                "What a row is: comm, pid, tid, dso (or module), sym in any combination (default: "
                "sym,dso); "
                "and self or total to order rows by their own weight (default) or with callees'")
      ->type_name("KEY[,KEY]")
      ->delimiter(',')
      ->allow_extra_args(false);
  CLI::Option* children = c->add_flag("--children", flags->children,
                                      "Order rows by their weight with callees' (--sort total)");
  c->add_flag("--no-children", flags->no_children,
              "Show only rows' own weight, without the Total column")
      ->excludes(children);
  c->add_option("--percent-limit", flags->percent_limit,
                "Leave out rows (and call-graph branches) under this percent")
      ->type_name("PERCENT")
      ->check(CLI::Range(0.0, 100.0));
  c->add_flag("-n,--show-nr-samples", flags->samples, "Show each row's number of samples");
  c->add_option("-g,--call-graph", flags->call_graph,
                "Print the call paths under each row: caller (from the root down; the default) "
                "or callee (from the function up to the root); branches under 0.5% left out")
      ->type_name("ORDER")
      ->expected(0, 1)
      ->default_str("caller")
      ->check(CLI::IsMember({"caller", "callee"}));
  c->add_option("--top", flags->top, "How many rows to list (0: all)")
      ->type_name("N")
      ->capture_default_str();
  c->add_option("-w,--width", flags->width,
                "Columns to fit, long names cut with an ellipsis (default: COLUMNS, the "
                "terminal's width, or 80; 0: no limit)")
      ->type_name("COLUMNS")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  c->add_flag("-q,--quiet", flags->quiet, "Print the table only: no header, stats or hints");
  c->add_flag("--folded", flags->folded,
              "Print folded stacks (one line per stack: frames;joined count) instead");
  AddWeightsFlag(c, &flags->weights);
  c->add_flag("--stats", flags->stats_only,
              "Print only the stats: samples, lost, unwinds, orphans");
  AddViewFlags(c, &flags->view);
  return [flags] { return Report(*flags); };
}

}  // namespace dprof::cli
