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
#include "dprof/profile/profile.h"
#include "dprof/profile/recording_reader.h"
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

// Turns weights into percent shares.
void ToShares(Figures& f, double total, double named, double complete) {
  if (total <= 0) return;
  for (auto& [name, w] : f.self) w = 100 * w / total;
  f.named_leaf = 100 * named / total;
  f.complete = 100 * complete / total;
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
  for (const char* counter : {"lost records", "lost samples"}) {
    if (auto it = r->counters.find(counter); it != r->counters.end()) f.lost += it->second;
  }
  const profile::Profile p = profile::Profile::Build(*r, {.events = profile::DefaultEvents(*r)});
  double total = 0, named = 0, complete = 0;
  for (const profile::Profile::Stack& s : p.stacks()) {
    const auto w = static_cast<double>(s.weight);
    total += w;
    f.samples += s.count;
    const profile::Profile::Frame& leaf = p.frame(s.frames.back());
    const bool is_named =
        leaf.kind != profile::Profile::FrameKind::kOrphan && !leaf.name.starts_with("[unknown]");
    if (is_named) {
      named += w;
      f.self[leaf.name] += w;
    }
    std::vector<std::string> outer;  // user frames, outermost first (stacks are root first)
    for (uint32_t id : s.frames) {
      const profile::Profile::Frame& frame = p.frame(id);
      if (frame.kind == profile::Profile::FrameKind::kUser) outer.push_back(frame.name);
    }
    if (Complete(outer)) complete += w;
  }
  ToShares(f, total, named, complete);
  return f;
}

Figures PerfFigures(const std::string& path) {
  Figures f;
  std::string text, err;
  const int code = RunProgram({"perf", "script", "-i", path, "--show-lost-events", "-F",
                               "comm,pid,tid,time,period,ip,sym,dso"},
                              &text, &err);
  EXPECT_EQ(code, 0) << err;
  static const std::regex kLost("PERF_RECORD_LOST(_SAMPLES)? lost ([0-9]+)");
  double total = 0, named = 0, complete = 0;
  // One sample: a header "comm pid/tid time: period", then its frames innermost first, each
  // "\t<address> <symbol> (<dso>)", then an empty line.
  double period = 0;
  std::string leaf;
  std::vector<std::string> user;  // user frames, innermost first
  bool in_sample = false, has_leaf = false;
  auto finish = [&] {
    if (!in_sample) return;
    in_sample = false;
    total += period;
    ++f.samples;
    if (has_leaf && leaf != "[unknown]") {
      named += period;
      f.self[leaf] += period;
    }
    if (Complete(std::vector<std::string>(user.rbegin(), user.rend()))) complete += period;
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
    if (dso != "[kernel.kallsyms]") user.push_back(symbol);
  }
  finish();
  ToShares(f, total, named, complete);
  return f;
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

void RecordAndCompare(const Workload& w, const std::string& dir,
                      const std::vector<std::string>& dprof_flags,
                      const std::vector<std::string>& perf_flags) {
  const std::string dprof_file = dir + "/dprof.data", perf_file = dir + "/perf.data";
  ASSERT_EQ(w.run(Recorder(Recorder::Tool::kDprof, dprof_file, dprof_flags)), 0) << "dprof";
  ASSERT_EQ(w.run(Recorder(Recorder::Tool::kPerf, perf_file, perf_flags)), 0) << "perf";
  const Figures d = DprofFigures(dprof_file);
  const Figures p = PerfFigures(perf_file);
  ASSERT_GT(d.samples, 100u) << w.name;
  ASSERT_GT(p.samples, 100u) << w.name;

  // Side by side: every function either tool gives a share of at least min_share.
  std::set<std::string> functions;
  for (const Figures* f : {&d, &p}) {
    for (const auto& [name, share] : f->self) {
      if (share >= w.min_share) functions.insert(name);
    }
  }
  auto share = [](const Figures& f, const std::string& name) {
    auto it = f.self.find(name);
    return it == f.self.end() ? 0.0 : it->second;
  };
  std::ostringstream table;
  table << absl::StrFormat("%s: %-44s %8s %8s\n", w.name, "function (self %)", "dprof", "perf");
  double worst = 0;
  // A perf that lost many of its samples (its reader fell behind) kept a biased few: its shares
  // say little then, and only what was lost is compared.
  const bool perf_kept_up = p.lost * 10 <= p.samples + p.lost;
  for (const std::string& name : functions) {
    const double a = share(d, name), b = share(p, name);
    worst = std::max(worst, std::abs(a - b));
    table << absl::StrFormat("  %-52s %8.2f %8.2f\n", name.substr(0, 52), a, b);
    if (perf_kept_up) {
      EXPECT_LE(std::abs(a - b), w.share_tolerance) << w.name << ": " << name;
    }
  }
  table << absl::StrFormat("  %-52s %8.2f %8.2f\n", "named leaf %", d.named_leaf, p.named_leaf);
  table << absl::StrFormat("  %-52s %8.2f %8.2f\n", "complete stacks %", d.complete, p.complete);
  table << absl::StrFormat("  %-52s %8u %8u\n", "samples", d.samples, p.samples);
  table << absl::StrFormat("  %-52s %8u %8u\n", "lost", d.lost, p.lost);
  if (!perf_kept_up) table << "  (perf lost over 10% of its samples: shares not compared)\n";
  std::printf("%s", table.str().c_str());
  EXPECT_GE(d.named_leaf, p.named_leaf - 2) << table.str();
  EXPECT_GE(d.complete, p.complete - 2) << table.str();
  EXPECT_LE(d.lost, p.lost + d.samples / 100) << table.str();

  const std::filesystem::path summary = std::filesystem::path(DPROF_ARTIFACTS_DIR) / "realworld.md";
  std::filesystem::create_directories(summary.parent_path());
  const bool fresh = !std::filesystem::exists(summary);
  std::ofstream out(summary, std::ios::app);
  if (fresh) {
    out << "| workload | samples dprof / perf | lost dprof / perf | named leaf % dprof / perf "
           "| complete stacks % dprof / perf | functions ≥ 3% | largest share difference |\n"
        << "|---|---|---|---|---|---|---|\n";
  }
  out << absl::StrFormat("| %s | %u / %u | %u / %u | %.1f / %.1f | %.1f / %.1f | %u | %.1f pt |\n",
                         w.name, d.samples, p.samples, d.lost, p.lost, d.named_leaf, p.named_leaf,
                         d.complete, p.complete, functions.size(), worst);
}

}  // namespace dprof::testing
