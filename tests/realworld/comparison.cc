#include "tests/realworld/comparison.h"

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/view.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"

namespace dprof::testing {
namespace {

// Whether a stack whose outermost frames (outermost first) are `outer` is complete: it reaches a
// process's entry (_start, or libc's __libc_start_main above it: the _start of a stripped
// program has no name) or a thread's (clone3, start_thread).
bool Complete(const std::vector<std::string>& outer) {
  static const std::set<std::string> kRoots = {"_start",
                                               "__libc_start_main",
                                               "__libc_start_main_impl",
                                               "__libc_start_call_main",
                                               "start_thread",
                                               "clone3",
                                               "__clone3",
                                               "__GI___clone3",
                                               "clone",
                                               "__clone"};
  for (size_t i = 0; i < outer.size() && i < 3; ++i) {
    if (kRoots.contains(outer[i])) return true;
  }
  return false;
}

// Adds `samples` samples of one stack, of weight `w` together, to `f`: `leaf` its innermost
// frame's name ("" when unnamed) and module; `outer` its user frames, outermost first.
void AddStack(Figures& f, uint64_t samples, double w, const std::string& leaf,
              const std::string& module, const std::vector<std::string>& outer) {
  f.samples += samples;
  f.total += w;
  auto& [module_weight, module_named] =
      f.leaf_modules[std::filesystem::path(module).filename().string()];
  module_weight += w;
  if (!leaf.empty()) {
    f.named += w;
    module_named += w;
    f.self[leaf] += w;
  }
  if (Complete(outer)) f.complete += w;
}

// The processes started by `pid`, as /proc shows them now (children, their children, ...).
std::vector<pid_t> DescendantsOf(pid_t pid) {
  std::multimap<pid_t, pid_t> children;  // by parent
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    pid_t p;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &p)) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat) || stat.rfind(')') == std::string::npos) continue;
    std::istringstream rest(stat.substr(stat.rfind(')') + 1));
    std::string state;
    pid_t ppid = 0;
    if (rest >> state >> ppid) children.emplace(ppid, p);
  }
  std::vector<pid_t> out, next = {pid};
  while (!next.empty()) {
    const pid_t parent = next.back();
    next.pop_back();
    for (auto [it, end] = children.equal_range(parent); it != end; ++it) {
      out.push_back(it->second);
      next.push_back(it->second);
    }
  }
  return out;
}

}  // namespace

int RunProgram(const std::vector<std::string>& argv, std::string* out, std::string* err,
               const std::string& cwd) {
  CliProcess process(std::vector<std::string>(argv.begin() + 1, argv.end()),
                     {.cwd = cwd, .program = argv[0]});
  const CliResult r = process.Finish();
  if (out != nullptr) *out = r.out;
  if (err != nullptr) *err = r.err;
  return r.exit_code;
}

Figures DprofFigures(const std::string& path) {
  Figures f;
  profile::ReadReport report;
  absl::StatusOr<profile::Recording> r = profile::ReadRecording(path, &report);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return f;
  // Lost: what the kernel could not write (and, below, the snapshots dropped).
  for (const char* counter : {"lost records", "lost samples"}) {
    if (auto it = r->counters.find(counter); it != r->counters.end()) f.lost += it->second;
  }
  const profile::View p = profile::View::Build(*r, {.events = profile::DefaultEvents(*r)});
  for (const profile::View::Stack& s : p.stacks()) {
    // A snapshot dropped when the unwind queue was full is given up, as perf's lost samples are:
    // counted as lost, not in the shares.
    const bool dropped = std::any_of(s.frames.begin(), s.frames.end(), [&](uint32_t id) {
      return p.frame(id).kind == profile::View::FrameKind::kOrphan &&
             p.frame(id).name == profile::OrphanFrame(profile::Orphan::kDropped);
    });
    if (dropped) {
      f.lost += s.count;
      continue;
    }
    // The function the leaf address was compiled into (its location's outermost frame): perf
    // script --no-inline names that one.
    const profile::View::Frame& leaf = p.frame(p.locations()[s.locations.back()].frames.front());
    const bool is_named =
        leaf.kind != profile::View::FrameKind::kOrphan && !leaf.name.starts_with("[unknown]");
    std::vector<std::string> outer;  // user functions, outermost first (stacks are root first)
    for (uint32_t id : s.locations) {
      const profile::View::Frame& frame = p.frame(p.locations()[id].frames.front());
      if (frame.kind == profile::View::FrameKind::kUser) outer.push_back(frame.name);
    }
    AddStack(f, s.count, static_cast<double>(s.weight), is_named ? leaf.name : "",
             leaf.module.empty() ? "[no module]" : leaf.module, outer);
  }
  return f;
}

Figures PerfFigures(const std::string& path) {
  Figures f;
  std::string text, err;
  // --no-inline: one line per address, the function the code was compiled into, by its symbol:
  // with inline frames perf names some by DWARF and marks the function itself inlined too.
  const int code = RunProgram({"perf", "script", "-i", path, "--show-lost-events", "--no-inline",
                               "-F", "comm,pid,tid,time,period,ip,sym,dso"},
                              &text, &err);
  EXPECT_EQ(code, 0) << err;
  static const std::regex kLost("PERF_RECORD_LOST(_SAMPLES)? lost ([0-9]+)");
  // One sample: a header "comm pid/tid time: period", then its frames innermost first, each
  // "\t<address> <symbol> (<dso>)", then an empty line.
  double period = 0;
  std::string leaf, leaf_module;
  bool in_sample = false, has_leaf = false;
  std::vector<std::string> user;  // user frames, innermost first
  auto finish = [&] {
    if (!in_sample) return;
    in_sample = false;
    AddStack(f, 1, period, has_leaf && leaf != "[unknown]" ? leaf : "",
             leaf_module.empty() ? "[no module]" : leaf_module,
             std::vector<std::string>(user.rbegin(), user.rend()));
  };
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) {
      finish();
      continue;
    }
    if (line[0] != '\t' && line[0] != ' ') {
      finish();
      std::cmatch m;
      const std::string header(line);
      if (std::regex_search(header.c_str(), m, kLost)) {
        f.lost += std::stoull(m[2].str());
        continue;
      }
      const std::vector<absl::string_view> words =
          absl::StrSplit(line, ' ', absl::SkipWhitespace());
      if (words.empty() || !absl::SimpleAtod(words.back(), &period)) continue;
      in_sample = true;
      has_leaf = false;
      leaf_module.clear();
      user.clear();
      continue;
    }
    if (!in_sample) continue;
    // "<address> <symbol> (<dso>)": the symbol may hold spaces; the last " (" starts the dso.
    line = absl::StripLeadingAsciiWhitespace(line);
    const size_t space = line.find(' ');
    const size_t paren = line.rfind(" (");
    if (space == absl::string_view::npos || paren == absl::string_view::npos || paren < space) {
      continue;
    }
    std::string symbol(line.substr(space + 1, paren - space - 1));
    // perf keeps symbol versions ("memcpy@@GLIBC_2.14"); dprof, like callers, leaves them out.
    if (const size_t at = symbol.find('@'); at != std::string::npos && !symbol.ends_with("@plt")) {
      symbol.resize(at);
    }
    std::string dso(absl::StripSuffix(line.substr(paren + 2), ")"));
    if (!has_leaf) {
      leaf = symbol;
      has_leaf = true;
    }
    if (leaf_module.empty()) leaf_module = dso;
    if (dso != "[kernel.kallsyms]") user.push_back(symbol);
  }
  finish();
  return f;
}

Figures ImportedFigures(const std::string& perf_data) {
  const std::string imported = perf_data + ".dprof";
  std::string err;
  const int code = RunProgram({DPROF_CLI, "import", perf_data, "-o", imported}, nullptr, &err);
  EXPECT_EQ(code, 0) << err;
  return code == 0 ? DprofFigures(imported) : Figures{};
}

double Figures::SelfShare(const std::string& function) const {
  auto it = self.find(function);
  return it == self.end() ? 0 : Share(it->second);
}

void Figures::Add(const Figures& o) {
  samples += o.samples;
  lost += o.lost;
  total += o.total;
  named += o.named;
  complete += o.complete;
  for (const auto& [name, w] : o.self) self[name] += w;
  for (const auto& [module, weights] : o.leaf_modules) {
    leaf_modules[module].first += weights.first;
    leaf_modules[module].second += weights.second;
  }
}

double NamedLeafAsIn(const Figures& f, const Figures& composition) {
  double total = 0, named = 0;
  for (const auto& [module, weights] : composition.leaf_modules) {
    const auto [weight, named_weight] = weights;
    total += weight;
    // How much of its samples in `module` `f` named; as `composition` did where `f` has none.
    auto it = f.leaf_modules.find(module);
    const double fraction = it != f.leaf_modules.end() && it->second.first > 0
                                ? it->second.second / it->second.first
                                : named_weight / weight;
    named += weight * fraction;
  }
  return total > 0 ? 100 * named / total : 0;
}

std::vector<std::string> Recorder::Prefix() const {
  std::vector<std::string> argv;
  if (tool_ == Tool::kDprof) {
    argv = {DPROF_CLI, "record", "-o", output_};
  } else {
    argv = {"perf", "record", "-q", "-F", "999", "--call-graph", "dwarf,65528", "-o", output_};
  }
  argv.insert(argv.end(), flags_.begin(), flags_.end());
  return argv;
}

std::vector<std::string> Recorder::Launching(const std::vector<std::string>& command) const {
  std::vector<std::string> argv = Prefix();
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::vector<std::string> Recorder::Attaching(pid_t pid, double seconds) const {
  std::vector<std::string> argv = Prefix();
  const std::string duration = absl::StrFormat("%g", seconds);
  if (tool_ == Tool::kDprof) {
    argv.insert(argv.end(), {"-p", std::to_string(pid), "--children", "-d", duration});
  } else {
    std::vector<pid_t> pids = {pid};
    for (pid_t child : DescendantsOf(pid)) pids.push_back(child);
    argv.insert(argv.end(), {"-p", absl::StrJoin(pids, ","), "--", "sleep", duration});
  }
  return argv;
}

namespace {

// How the figures of dprof (`d`) and perf (`p`) compare: a table of both, and what is beyond the
// tier's thresholds.
struct Verdict {
  std::string table;
  std::vector<std::string> failures;
  size_t functions = 0;  // compared
  double worst = 0;      // the largest self-share difference
  double named = 0;      // dprof's named leaves, as perf's modules weigh
};

// How far `function`'s self share moved between perf's runs (0 after one run): what the workload
// itself varies by, which dprof cannot be asked to agree with perf below. (dprof's own runs are
// not asked: a dprof that erred in one run would widen its own tolerance.)
double SelfShareSpread(const std::vector<Figures>& runs, const std::string& function) {
  if (runs.size() < 2) return 0;
  double low = 100, high = 0;
  for (const Figures& f : runs) {
    low = std::min(low, f.SelfShare(function));
    high = std::max(high, f.SelfShare(function));
  }
  return high - low;
}

// How far apart two shares (percent) of `a` and `b` samples may fall by sampling alone, had the
// workload run the same both times: three standard errors of their difference, with `share` the
// proportion both estimate. (Samples come in bursts of a phase, so this is a floor.)
double SamplingSpread(double share, uint64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  const double p = std::clamp(share / 100, 0.0, 1.0);
  return 300 *
         std::sqrt(p * (1 - p) * (1.0 / static_cast<double>(a) + 1.0 / static_cast<double>(b)));
}

// `d` and `p`: every run of dprof and of perf together; `perf_runs`: each of perf's alone; `s`:
// dprof's reading of perf's own recordings (dprof import), every run together.
Verdict Compare(const Workload& w, const Figures& d, const Figures& p,
                const std::vector<Figures>& perf_runs, const Figures& s) {
  Verdict v;
  // Side by side: every function either tool gives a share of at least min_share.
  std::set<std::string> functions;
  for (const Figures* f : {&d, &p}) {
    for (const auto& [name, weight] : f->self) {
      if (f->Share(weight) >= w.min_share) functions.insert(name);
    }
  }
  v.functions = functions.size();
  std::ostringstream table;
  table << absl::StrFormat("%s: %-44s %8s %8s %8s\n", w.name, "function (self %)", "dprof", "perf",
                           "allowed");
  // A perf that lost many of its samples (its reader fell behind) kept a biased few: its shares
  // say little then, and only what was lost is compared.
  const bool perf_kept_up = p.lost * 10 <= p.samples + p.lost;
  for (const std::string& name : functions) {
    const double a = d.SelfShare(name), b = p.SelfShare(name);
    // The tolerance, or more where perf's own runs differed by more (a VM's neighbours moved
    // sqlite3's interpreter loop from 42% to 35% between two runs under perf).
    const double allowed = std::max(w.share_tolerance, SelfShareSpread(perf_runs, name));
    v.worst = std::max(v.worst, std::abs(a - b));
    table << absl::StrFormat("  %-52s %8.2f %8.2f %8.2f\n", name.substr(0, 52), a, b, allowed);
    if (perf_kept_up && !w.host_timed.contains(name) && std::abs(a - b) > allowed) {
      v.failures.push_back(absl::StrFormat(
          "%s: self share %.2f%% against perf's %.2f%% (%.2f allowed)", name, a, b, allowed));
    }
  }
  v.named = NamedLeafAsIn(d, p);
  const double named = d.Share(d.named), perf_named = p.Share(p.named);
  const double complete = d.Share(d.complete), perf_complete = p.Share(p.complete);
  // Different recordings name as much as their samples fell in named code: the shares may differ
  // by sampling (2 points at least). On perf's own snapshots there is no such excuse: dprof must
  // name and complete at least what perf does there, up to a few samples.
  const double named_allowed = std::max(2.0, SamplingSpread(perf_named, d.samples, p.samples));
  const double complete_allowed =
      std::max(2.0, SamplingSpread(perf_complete, d.samples, p.samples));
  const double same_allowed = 0.5;
  const auto row = [&](const char* what, double a, double b, double allowed) {
    table << absl::StrFormat("  %-52s %8.2f %8.2f %8.2f\n", what, a, b, allowed);
    return a < b - allowed;
  };
  table << absl::StrFormat("  %-52s %8.2f %8.2f\n", "named leaf %", named, perf_named);
  if (row("named leaf %, as perf's modules weigh", v.named, perf_named, named_allowed)) {
    v.failures.push_back(absl::StrFormat("named leaves %.2f%% against perf's %.2f%% (%.2f allowed)",
                                         v.named, perf_named, named_allowed));
  }
  if (row("named leaf %, dprof on perf's own snapshots", s.Share(s.named), perf_named,
          same_allowed)) {
    v.failures.push_back(
        absl::StrFormat("on perf's own snapshots, named leaves %.2f%% against perf's %.2f%%",
                        s.Share(s.named), perf_named));
  }
  if (row("complete stacks %", complete, perf_complete, complete_allowed)) {
    v.failures.push_back(
        absl::StrFormat("complete stacks %.2f%% against perf's %.2f%% (%.2f allowed)", complete,
                        perf_complete, complete_allowed));
  }
  if (row("complete stacks %, dprof on perf's own snapshots", s.Share(s.complete), perf_complete,
          same_allowed)) {
    v.failures.push_back(
        absl::StrFormat("on perf's own snapshots, complete stacks %.2f%% against perf's %.2f%%",
                        s.Share(s.complete), perf_complete));
  }
  table << absl::StrFormat("  %-52s %8u %8u\n", "samples", d.samples, p.samples);
  table << absl::StrFormat("  %-52s %8u %8u\n", "lost", d.lost, p.lost);
  if (!perf_kept_up) table << "  (perf lost over 10% of its samples: shares not compared)\n";
  if (d.lost > p.lost + d.samples / 100) {
    v.failures.push_back(absl::StrFormat("lost %u samples, perf %u", d.lost, p.lost));
  }
  v.table = table.str();
  return v;
}

}  // namespace

void RecordAndCompare(const Workload& w, const std::string& dir,
                      const std::vector<std::string>& dprof_flags,
                      const std::vector<std::string>& perf_flags) {
  Figures d, p, s;
  std::vector<Figures> perf_runs;
  Verdict v;
  int runs = 0;
  while (runs < 2) {
    ++runs;
    const std::string dprof_file = absl::StrCat(dir, "/dprof-", runs, ".data");
    const std::string perf_file = absl::StrCat(dir, "/perf-", runs, ".data");
    ASSERT_EQ(w.run(Recorder(Recorder::Tool::kDprof, dprof_file, dprof_flags)), 0) << "dprof";
    ASSERT_EQ(w.run(Recorder(Recorder::Tool::kPerf, perf_file, perf_flags)), 0) << "perf";
    const Figures dr = DprofFigures(dprof_file), pr = PerfFigures(perf_file);
    ASSERT_GT(dr.samples, 100u) << w.name;
    ASSERT_GT(pr.samples, 100u) << w.name;
    d.Add(dr);
    p.Add(pr);
    perf_runs.push_back(pr);
    s.Add(ImportedFigures(perf_file));
    v = Compare(w, d, p, perf_runs, s);
    std::printf("%s", v.table.c_str());
    if (v.failures.empty()) break;
    if (runs == 1) {
      std::printf("%s: beyond a threshold after one run each; both record it once more\n",
                  w.name.c_str());
    }
  }
  for (const std::string& failure : v.failures) {
    ADD_FAILURE() << w.name << " (" << runs << " runs each): " << failure << "\n" << v.table;
  }

  const std::filesystem::path summary = std::filesystem::path(DPROF_ARTIFACTS_DIR) / "realworld.md";
  std::filesystem::create_directories(summary.parent_path());
  const bool fresh = !std::filesystem::exists(summary);
  std::ofstream out(summary, std::ios::app);
  if (fresh) {
    out << "| workload | runs | samples dprof / perf | lost dprof / perf | named leaf % dprof / "
           "perf | as perf's modules weigh | complete stacks % dprof / perf | functions ≥ 3% "
           "| largest share difference |\n"
        << "|---|---|---|---|---|---|---|---|---|\n";
  }
  out << absl::StrFormat(
      "| %s | %d | %u / %u | %u / %u | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f | %u | %.1f pt |\n",
      w.name, runs, d.samples, p.samples, d.lost, p.lost, d.Share(d.named), p.Share(p.named),
      v.named, p.Share(p.named), d.Share(d.complete), p.Share(p.complete), v.functions, v.worst);
}

}  // namespace dprof::testing
