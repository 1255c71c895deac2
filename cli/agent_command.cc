// dprof agent: profiles continuously, and every window hands one pprof profile per service to
// Grafana Pyroscope and/or a directory, until SIGTERM or SIGINT.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/ids.h"
#include "cli/stop_signals.h"
#include "cli/usage.h"
#include "dprof/continuous/delivery.h"
#include "dprof/continuous/otlp.h"
#include "dprof/continuous/output_dir.h"
#include "dprof/continuous/pyroscope.h"
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
  std::string otlp;
  std::string tenant;
  std::string spool;
  uint64_t spool_max = uint64_t{256} << 20;
  std::string output_dir;
  size_t output_max_files = 1000;
  size_t queue_max = 64;
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

// "Pyroscope: 5 sent (3000 bytes), 2 retries, ..." for one backend's counters.
std::string DeliveryPart(std::string_view name, const continuous::DeliveryCounters& c) {
  return absl::StrFormat(
      "; %s: %u sent (%u bytes), %u retries, %u refused, %u queue full, %u spooled, "
      "%u from spool, %u dropped from spool, %u unsent",
      name, c.sent, c.bytes_sent, c.retries, c.rejected, c.overflow, c.spooled, c.from_spool,
      c.spool_dropped, c.unsent);
}

// The default spool: systemd's StateDirectory=, else /var/lib/dprof/spool as root, else the
// user's state directory.
std::string DefaultSpool() {
  if (const char* state = std::getenv("STATE_DIRECTORY"); state != nullptr && *state != '\0') {
    return std::string(state).substr(0, std::string(state).find(':'));
  }
  if (geteuid() == 0) return "/var/lib/dprof/spool";
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/dprof";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/tmp") + "/.local/state/dprof";
}

int RunAgent(const AgentFlags& flags) {
  if (flags.pyroscope.empty() && flags.otlp.empty() && flags.output_dir.empty()) {
    return UsageError(
        "the agent needs somewhere to send its profiles: --pyroscope URL, --otlp URL or "
        "--output-dir DIR");
  }
  for (const std::string* url : {&flags.pyroscope, &flags.otlp}) {
    if (!url->empty() && !absl::StartsWith(*url, "http://") &&
        !absl::StartsWith(*url, "https://")) {
      return UsageError(absl::StrCat("the URL '", *url, "' is not http:// or https://"));
    }
  }
  if (flags.window_s < 1 || flags.window_s > 3600) {
    return UsageError("--window takes 1 to 3600 seconds");
  }
  if (!(flags.timeout_s > 0 && flags.timeout_s <= 3600) ||
      !(flags.flush_s >= 0 && flags.flush_s <= 3600)) {
    return UsageError(
        "--timeout takes more than 0 and --flush-timeout 0 or more, up to 3600 seconds");
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

  std::unique_ptr<continuous::OutputDir> output_dir;
  if (!flags.output_dir.empty()) {
    absl::StatusOr<std::unique_ptr<continuous::OutputDir>> dir =
        continuous::OutputDir::Open(flags.output_dir, {.max_files = flags.output_max_files});
    if (!dir.ok()) return Fail(dir.status());
    output_dir = *std::move(dir);
  }
  const std::string spool = flags.spool.empty() ? DefaultSpool() : flags.spool;
  // One delivery per backend, each with its own spool.
  auto make_delivery =
      [&](const std::string& name, const std::string& base,
          const std::string& subdir) -> absl::StatusOr<std::unique_ptr<continuous::Delivery>> {
    continuous::Delivery::Options d{
        .name = name,
        .base_url = base,
        .tenant = flags.tenant,
        .queue_max = flags.queue_max,
        .spool_dir = spool + "/" + subdir,
        .spool_max_bytes = flags.spool_max,
        .timeout = std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_s * 1000)),
        .notice = [&flags](std::string_view text) { Log(flags, std::string(text)); }};
    // Credentials from the environment, never from the command line (ps shows it to everyone).
    if (const char* token = std::getenv("DPROF_PUSH_TOKEN"); token != nullptr) {
      d.bearer_token = token;
    }
    if (const char* basic = std::getenv("DPROF_PUSH_BASIC_AUTH"); basic != nullptr) {
      d.user_password = basic;
    }
    return continuous::Delivery::Create(std::move(d));
  };
  std::unique_ptr<continuous::Delivery> pyroscope, otlp;
  for (auto [url, name, subdir, out] :
       {std::tuple(&flags.pyroscope, "Pyroscope", "pyroscope", &pyroscope),
        std::tuple(&flags.otlp, "OTLP", "otlp", &otlp)}) {
    if (url->empty()) continue;
    absl::StatusOr<std::unique_ptr<continuous::Delivery>> made = make_delivery(name, *url, subdir);
    if (!made.ok()) return Fail(made.status());
    *out = *std::move(made);
  }
  uint64_t profiles = 0, written = 0, write_errors = 0;
  auto counters_line = [&](uint64_t windows, const event::TracerStats& stats) {
    std::string line = absl::StrFormat("%u windows, %u profiles", windows, profiles);
    if (pyroscope) line += DeliveryPart("Pyroscope", pyroscope->counters());
    if (otlp) line += DeliveryPart("OTLP", otlp->counters());
    if (output_dir)
      absl::StrAppendFormat(&line, "; files: %u written, %u failed", written, write_errors);
    absl::StrAppendFormat(&line, "; events %u, lost %u", stats.events(), stats.lost());
    return line;
  };

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
    const uint64_t start =
        static_cast<uint64_t>(static_cast<int64_t>(w.start_ns) + unix_minus_monotonic);
    const uint64_t end =
        static_cast<uint64_t>(static_cast<int64_t>(w.end_ns) + unix_minus_monotonic);
    if (pyroscope || output_dir) {
      absl::StatusOr<std::vector<continuous::ServiceProfile>> made =
          continuous::ServiceProfiles(w.recording, {.service = flags.service});
      if (!made.ok()) Log(flags, absl::StrCat("window ", w.index, ": ", made.status().message()));
      std::vector<continuous::ServiceProfile> none;
      for (continuous::ServiceProfile& p : made.ok() ? *made : none) {
        ++profiles;
        if (output_dir) {
          // The first event's profile under the service's name; others (off-CPU time) beside it.
          const std::string series =
              p.event == 0 || p.event >= w.recording.event_names.size()
                  ? p.service
                  : absl::StrCat(p.service, ".", w.recording.event_names[p.event]);
          const absl::Status s = output_dir->Write(series, start, p.pprof);
          ++(s.ok() ? written : write_errors);
          if (!s.ok() && write_errors == 1) Log(flags, std::string(s.message()));
        }
        if (pyroscope) {
          pyroscope->Push(continuous::PyroscopeRequest(flags.pyroscope,
                                                       {.service = p.service,
                                                        .labels = labels,
                                                        .from_unix_s = start / 1'000'000'000,
                                                        .until_unix_s = end / 1'000'000'000,
                                                        .sample_rate = flags.frequency},
                                                       std::move(p.pprof)));
        }
      }
    }
    if (otlp) {
      std::map<std::string, std::string> attributes = {{"host.name", labels.at("host_name")}};
      for (const auto& [key, value] : labels) {
        if (key != "host_name") attributes[key] = value;
      }
      absl::StatusOr<std::string> request = continuous::OtlpProfilesRequest(
          w.recording, {.start_unix_ns = start,
                        .end_unix_ns = end,
                        .unix_minus_monotonic_ns = unix_minus_monotonic,
                        .attributes = std::move(attributes),
                        .services = {.service = flags.service}});
      absl::StatusOr<continuous::Outgoing> http =
          request.ok()
              ? continuous::OtlpHttpRequest(flags.otlp, *request, absl::StrCat("window ", w.index))
              : absl::StatusOr<continuous::Outgoing>(request.status());
      if (request.ok() && request->empty()) {
        // Nothing sampled in the window: nothing to send.
      } else if (http.ok()) {
        otlp->Push(*std::move(http));
      } else {
        Log(flags, absl::StrCat("window ", w.index, ": ", http.status().message()));
      }
    }
    if (flags.log_every != 0 && windows % flags.log_every == 0) {
      Log(flags, counters_line(windows, profiler->Stats()));
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
  // Both backends flush together, within the one bound.
  const auto flush = std::chrono::milliseconds(static_cast<int64_t>(flags.flush_s * 1000));
  std::thread otlp_closer([&] {
    if (otlp) otlp->Close(flush);
  });
  if (pyroscope) pyroscope->Close(flush);
  otlp_closer.join();
  Log(flags, counters_line(windows, profiler->Stats()));
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
      "  dprof agent --otlp http://collector:4318 --label env=prod\n"
      "Credentials: DPROF_PUSH_TOKEN (Bearer) or DPROF_PUSH_BASIC_AUTH (user:password).");
  SetUsage(c, {"[-a | -p PID[,PID]... [--children] | -G CGROUP] [OPTIONS] "
               "(--pyroscope URL | --otlp URL | --output-dir DIR)"});
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
  c->add_option("--otlp", flags->otlp,
                "An OpenTelemetry Collector's OTLP/HTTP base URL (POST /v1development/profiles)")
      ->type_name("URL");
  c->add_option("--tenant", flags->tenant, "Tenant (X-Scope-OrgID)")->type_name("ID");
  c->add_option("--spool", flags->spool,
                "Where profiles that could not be sent wait, across restarts (default: "
                "$STATE_DIRECTORY, /var/lib/dprof/spool as root, else $XDG_STATE_HOME/dprof)")
      ->type_name("DIR");
  c->add_option("--spool-max", flags->spool_max,
                "Bytes the spool keeps per backend, oldest dropped")
      ->capture_default_str();
  c->add_option("--output-dir", flags->output_dir, "Also write each profile as a pprof file here")
      ->type_name("DIR");
  c->add_option("--output-max-files", flags->output_max_files,
                "Files kept in --output-dir, oldest removed first")
      ->capture_default_str();
  c->add_option("--queue-max", flags->queue_max,
                "Profiles waiting in memory per backend, the oldest spooled")
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
