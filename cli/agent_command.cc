// dprof agent: profiles continuously, and every window hands one pprof profile per service to
// Grafana Pyroscope and/or a directory, until SIGTERM or SIGINT.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/ids.h"
#include "cli/stop_signals.h"
#include "cli/usage.h"
#include "dprof/continuous/delivery.h"
#include "dprof/continuous/service_profiles.h"
#include "dprof/event/event.h"
#include "dprof/profiler.h"

namespace dprof::cli {
namespace {

struct AgentFlags {
  bool system_wide = false;
  std::vector<std::string> pids;
  bool children = false;
  std::string cgroup;
  uint64_t frequency = 99;
  double window_s = 10;
  bool off_cpu = false;
  std::string service;
  std::vector<std::string> labels;
  std::string pyroscope;
  std::string tenant;
  std::string output_dir;
  size_t output_max_files = 1000;
  size_t queue_max = 256;
  double timeout_s = 10;
  double flush_s = 10;
  uint64_t log_every = 60;
  bool quiet = false;
};

// Pyroscope's label names, as Prometheus's: a letter or _, then letters, digits and _.
bool LabelName(std::string_view name) {
  if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::string Hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

void Log(const AgentFlags& flags, const std::string& line) {
  if (!flags.quiet) std::fprintf(stderr, "dprof agent: %s\n", line.c_str());
}

std::string CountersLine(uint64_t windows, const continuous::DeliveryCounters& c,
                         const event::TracerStats& stats) {
  return absl::StrFormat(
      "%u windows, %u profiles: %u sent (%u bytes), %u written, %u retries; dropped %u refused, "
      "%u queue full, %u unsent at exit; events %u, lost %u",
      windows, c.pushed, c.sent, c.bytes_sent, c.written, c.retries, c.rejected, c.overflow,
      c.unsent, stats.events(), stats.lost());
}

int RunAgent(const AgentFlags& flags) {
  if (flags.pyroscope.empty() && flags.output_dir.empty()) {
    return UsageError(
        "the agent needs somewhere to send its profiles: --pyroscope URL or --output-dir DIR");
  }
  if (flags.window_s < 1 || flags.window_s > 3600) {
    return UsageError("--window takes 1 to 3600 seconds");
  }
  absl::StatusOr<std::vector<pid_t>> pids = ParseIds(flags.pids, "-p");
  if (!pids.ok()) return UsageError(pids.status().message());
  if (flags.children && pids->empty()) {
    return UsageError("--children follows the processes that -p names: give -p PID");
  }
  std::map<std::string, std::string> labels = {{"host_name", Hostname()}};
  for (const std::string& l : flags.labels) {
    const size_t eq = l.find('=');
    if (eq == std::string::npos || !LabelName(l.substr(0, eq))) {
      return UsageError(
          absl::StrCat("--label takes KEY=VALUE with KEY of letters, digits and _, "
                       "not '",
                       l, "'"));
    }
    labels[l.substr(0, eq)] = l.substr(eq + 1);
  }

  continuous::Delivery::Options d{
      .pyroscope_url = flags.pyroscope,
      .tenant = flags.tenant,
      .labels = labels,
      .sample_rate = flags.frequency,
      .output_dir = flags.output_dir,
      .output_limits = {.max_files = flags.output_max_files},
      .queue_max = flags.queue_max,
      .timeout = std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_s * 1000)),
      .notice = [&flags](std::string_view text) { Log(flags, std::string(text)); }};
  // Credentials from the environment, never from the command line (ps shows it to everyone).
  if (const char* token = std::getenv("DPROF_PYROSCOPE_TOKEN"); token != nullptr) {
    d.bearer_token = token;
  }
  if (const char* basic = std::getenv("DPROF_PYROSCOPE_BASIC_AUTH"); basic != nullptr) {
    d.user_password = basic;
  }
  absl::StatusOr<std::unique_ptr<continuous::Delivery>> delivery =
      continuous::Delivery::Create(std::move(d));
  if (!delivery.ok()) {
    return delivery.status().code() == absl::StatusCode::kInvalidArgument
               ? UsageError(delivery.status().message())
               : Fail(delivery.status());
  }

  // Windows are cut on the monotonic clock; backends want Unix time.
  const int64_t unix_minus_monotonic =
      absl::GetCurrentTimeNanos() - static_cast<int64_t>(event::MonotonicNs());
  uint64_t windows = 0;
  std::unique_ptr<Profiler> profiler;
  ProfilerOptions o{.target = {.pids = *pids,
                               .children = flags.children,
                               .system_wide = pids->empty() || !flags.cgroup.empty(),
                               .cgroup = flags.cgroup},
                    .frequency = flags.frequency,
                    .off_cpu = flags.off_cpu,
                    .keep_profile = false,
                    .window = std::chrono::nanoseconds(static_cast<int64_t>(flags.window_s * 1e9))};
  o.on_window = [&](ProfileWindow w) {
    ++windows;
    absl::StatusOr<std::vector<continuous::ServiceProfile>> profiles =
        continuous::ServiceProfiles(w.recording, {.service = flags.service});
    if (!profiles.ok()) {
      Log(flags, absl::StrCat("window ", w.index, ": ", profiles.status().message()));
      return;
    }
    for (continuous::ServiceProfile& p : *profiles) {
      (*delivery)->Push({.service = std::move(p.service),
                         .start_unix_ns = static_cast<uint64_t>(static_cast<int64_t>(w.start_ns) +
                                                                unix_minus_monotonic),
                         .end_unix_ns = static_cast<uint64_t>(static_cast<int64_t>(w.end_ns) +
                                                              unix_minus_monotonic),
                         .pprof = std::move(p.pprof)});
    }
    if (flags.log_every != 0 && windows % flags.log_every == 0) {
      Log(flags, CountersLine(windows, (*delivery)->counters(), profiler->Stats()));
    }
  };
  absl::StatusOr<std::unique_ptr<Profiler>> created = Profiler::Create(std::move(o));
  if (!created.ok()) {
    const absl::StatusCode code = created.status().code();
    return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound
               ? UsageError(created.status().message())
               : Fail(created.status());
  }
  profiler = *std::move(created);
  InstallStopSignals(
      profiler.get(),
      {.stopping = "dprof agent: stopping: sending the last window (a second signal aborts)",
       .aborted = "dprof agent: aborted; the windows not sent are lost"});
  if (absl::Status s = profiler->Start(); !s.ok()) {
    UninstallStopSignals();
    return Fail(s);
  }
  Log(flags, absl::StrCat("profiling ", profiler->metadata().at("command"), " at ", flags.frequency,
                          " Hz in windows of ", flags.window_s, " s"));
  profiler->Wait();
  const absl::Status finished = profiler->Finish();  // the last window is handed over
  UninstallStopSignals();
  (*delivery)->Close(std::chrono::milliseconds(static_cast<int64_t>(flags.flush_s * 1000)));
  Log(flags, CountersLine(windows, (*delivery)->counters(), profiler->Stats()));
  if (!finished.ok()) return Fail(finished);
  return kSuccess;
}

}  // namespace

Runner AddAgent(CLI::App& app) {
  auto flags = std::make_shared<AgentFlags>();
  CLI::App* c = app.add_subcommand(
      "agent",
      "Profile continuously and push a profile per service every window (Pyroscope, "
      "a directory) until SIGTERM");
  c->footer(
      "Examples:\n  dprof agent --pyroscope http://pyroscope:4040\n"
      "  dprof agent -p 1234 --window 5 --output-dir /var/lib/dprof/profiles\n"
      "Credentials: DPROF_PYROSCOPE_TOKEN (Bearer) or DPROF_PYROSCOPE_BASIC_AUTH (user:password).");
  SetUsage(c, {"[-a | -p PID[,PID]... [--children] | -G CGROUP] [OPTIONS] "
               "(--pyroscope URL | --output-dir DIR)"});
  c->add_flag("-a,--all-cpus", flags->system_wide, "The whole system (the default)");
  c->add_option("-p,--pid", flags->pids, "Only these processes, with their threads")
      ->type_name("PID[,PID]")
      ->allow_extra_args(false);
  c->add_flag("--children", flags->children, "With -p: the processes they started too");
  c->add_option("-G,--cgroup", flags->cgroup, "Only this cgroup")->type_name("PATH");
  c->add_option("-F,--freq", flags->frequency, "Samples per second per thread")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  c->add_option("--window", flags->window_s, "Seconds of each profile")->capture_default_str();
  c->add_flag("--off-cpu", flags->off_cpu, "Also where threads blocked, and for how long");
  c->add_option("--service", flags->service,
                "One service name for everything (default: each process's program name)");
  c->add_option("--label", flags->labels, "A label of every profile (host_name is set)")
      ->type_name("KEY=VALUE");
  c->add_option("--pyroscope", flags->pyroscope, "Grafana Pyroscope's base URL")->type_name("URL");
  c->add_option("--tenant", flags->tenant, "Pyroscope tenant (X-Scope-OrgID)")->type_name("ID");
  c->add_option("--output-dir", flags->output_dir, "Also write each profile as a pprof file here")
      ->type_name("DIR");
  c->add_option("--output-max-files", flags->output_max_files,
                "Files kept in --output-dir, oldest removed first")
      ->capture_default_str();
  c->add_option("--queue-max", flags->queue_max, "Profiles waiting to be sent, oldest dropped")
      ->capture_default_str();
  c->add_option("--timeout", flags->timeout_s, "Seconds per request")->capture_default_str();
  c->add_option("--flush-timeout", flags->flush_s, "Seconds to send what is queued at exit")
      ->capture_default_str();
  c->add_option("--log-every", flags->log_every, "Print the counters every N windows (0: at exit)")
      ->capture_default_str();
  c->add_flag("-q,--quiet", flags->quiet, "Print nothing but errors");
  return [flags] { return RunAgent(*flags); };
}

}  // namespace dprof::cli
