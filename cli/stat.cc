// dprof stat: what a recording holds: how it was made, how complete it is, and its counters.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/output_file.h"
#include "cli/recording_input.h"
#include "cli/usage.h"
#include "dprof/profile/output_file.h"
#include "dprof/profile/recording.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/view.h"

namespace dprof::cli {
namespace {

struct StatFlags {
  std::string input;
  size_t threads = 10;
};

void WriteStat(const std::string& path, const std::string& summary, const profile::Recording& r,
               size_t top_threads, std::ostream& out) {
  out << absl::StrFormat("# %s: %s\n", path, summary);
  for (const auto& [key, value] : r.metadata) out << absl::StrFormat("%-22s %s\n", key, value);

  std::vector<uint64_t> per_event(r.event_names.size());
  std::set<uint32_t> pids;
  std::map<uint32_t, uint64_t> per_thread;
  uint64_t first = UINT64_MAX, last = 0;
  for (const profile::Event& e : r.events) {
    if (e.event < per_event.size()) ++per_event[e.event];
    pids.insert(e.pid);
    ++per_thread[e.tid];
    first = std::min(first, e.time_ns);
    last = std::max(last, e.time_ns);
  }
  out << "# contents\n";
  for (size_t i = 0; i < r.event_names.size(); ++i) {
    out << absl::StrFormat("%-22s %u\n", "event " + r.event_names[i], per_event[i]);
  }
  if (!r.events.empty()) {
    out << absl::StrFormat("%-22s %.3f s\n", "events span", (last - first) / 1e9);
  }
  out << absl::StrFormat("%-22s %u\n", "processes", pids.size());
  out << absl::StrFormat("%-22s %u\n", "threads", per_thread.size());
  out << absl::StrFormat("%-22s %u\n", "distinct stacks", r.stacks.size());
  out << absl::StrFormat("%-22s %u\n", "user stacks (cookies)", r.user_stacks.size());
  out << absl::StrFormat("%-22s %u\n", "mappings", r.mappings.size());
  out << absl::StrFormat("%-22s %u\n", "symbols", r.symbols.size());
  out << "# counters\n";
  if (r.counters.empty()) out << "(none: the recording ended before writing them)\n";
  for (const auto& [name, value] : r.counters) {
    out << absl::StrFormat("%-30s %u\n", name, value);
  }

  // The busiest threads, by events, with their names and counters.
  const absl::flat_hash_map<uint32_t, std::string> comms = profile::ThreadNames(r);
  std::vector<std::pair<uint64_t, uint32_t>> busiest;
  for (const auto& [tid, n] : per_thread) busiest.emplace_back(n, tid);
  std::sort(busiest.rbegin(), busiest.rend());
  if (top_threads != 0 && busiest.size() > top_threads) busiest.resize(top_threads);
  if (!busiest.empty()) out << "# threads by events\n";
  for (const auto& [n, tid] : busiest) {
    std::string counters;
    if (auto it = r.thread_counters.find(tid); it != r.thread_counters.end()) {
      for (const auto& [name, value] : it->second) {
        if (value != 0) counters += absl::StrFormat(", %s %u", name, value);
      }
    }
    auto comm = comms.find(tid);
    out << absl::StrFormat("%8u %-16s %u events%s\n", tid, comm == comms.end() ? "?" : comm->second,
                           n, counters);
  }
}

int Stat(const StatFlags& flags) {
  profile::ReadReport report;
  const bool perf = IsPerfDataFile(flags.input);
  absl::StatusOr<profile::Recording> recording =
      perf ? LoadRecording(flags.input) : profile::ReadRecording(flags.input, &report);
  if (!recording.ok()) return Fail(recording.status());
  if (!report.complete && !perf) {
    Warn(absl::StrCat(flags.input, " is incomplete: ", report.Summary()));
  }
  absl::Status s = WriteOutput(
      "-",
      [&](std::ostream& out) {
        WriteStat(flags.input, perf ? "a perf.data file, imported" : report.Summary(), *recording,
                  flags.threads, out);
        return absl::OkStatus();
      },
      profile::kPrivateMode);
  return s.ok() ? kSuccess : Fail(s);
}

}  // namespace

Runner AddStat(CLI::App& app) {
  auto flags = std::make_shared<StatFlags>();
  CLI::App* c = app.add_subcommand("stat", "Print a recording's metadata, contents and counters");
  c->footer("Examples:\n  dprof stat\n  dprof stat -i app.data --threads 0");
  SetUsage(c, {"[-i FILE] [--threads N]"});
  AddInputFlag(c, &flags->input);
  c->add_option("--threads", flags->threads, "How many of the busiest threads to list (0: all)")
      ->type_name("N")
      ->capture_default_str();
  return [flags] { return Stat(*flags); };
}

}  // namespace dprof::cli
