// perf.data files perf records here, read by dprof (dprof import; every view by the file's magic)
// and checked against perf itself on the very same file: the same samples, and for each sample
// the same frames — perf script's and dprof script's, matched by thread and time. With
// --call-graph dwarf the user stacks are dprof's own unwinds of perf's register and stack
// snapshots, so a wrong frame cannot hide in sampling noise.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof {
namespace {

using ::dprof::testing::CliResult;
using ::dprof::testing::RunDprof;
using ::dprof::testing::SampleFile;
using ::dprof::testing::SampleProgram;
using ::dprof::testing::ScratchDir;
using ::testing::HasSubstr;

CliResult Perf(const std::vector<std::string>& args) { return RunDprof(args, {.program = "perf"}); }

// `perf record -q ARGS -o DIR/NAME -- COMMAND...`: the file's path.
std::string PerfRecord(const std::string& name, const std::vector<std::string>& args,
                       const std::vector<std::string>& command) {
  const std::string path = ScratchDir("perf_import_" + name) + "/" + name;
  std::vector<std::string> all = {"record", "-q", "-o", path};
  all.insert(all.end(), args.begin(), args.end());
  all.push_back("--");
  all.insert(all.end(), command.begin(), command.end());
  const CliResult r = Perf(all);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

// The self share (percent) perf report gives `function` in `path`; -1 when it lists none.
double PerfSelfShare(const std::string& path, const std::string& function) {
  const CliResult r =
      Perf({"report", "-i", path, "--stdio", "-q", "--no-children", "--sort", "sym"});
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    // "    66.53%  [.] hot_a"
    std::istringstream words(line);
    std::string share, kind, name;
    if (words >> share >> kind >> name && name == function) return std::atof(share.c_str());
  }
  return -1;
}

struct ScriptFrame {
  uint64_t address = 0;
  std::string function;
  std::optional<uint64_t> offset;  // into the function, where printed ("function+0x1f")
  std::string module;              // "inlined" for a function inlined at the address
};
// One sample of perf script's text: its header, and its frames leaf first.
struct ScriptSample {
  std::string comm;
  std::string event;
  std::map<std::string, std::string> fields;  // a tracepoint's "name=value" words
  std::vector<ScriptFrame> frames;
};
// By (tid, time as printed).
using Script = std::map<std::pair<uint32_t, std::string>, ScriptSample>;

// Parses perf script's default text layout (perf's own, or dprof script's).
Script ParseScript(const std::string& text) {
  Script out;
  ScriptSample* current = nullptr;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) {
      current = nullptr;
      continue;
    }
    if (line[0] != '\t' && line[0] != ' ') {
      // "comm  tid [cpu] secs.micros: ..." (comm may hold spaces; the tid is the first number
      // followed by the time or a [cpu]).
      std::istringstream words(line);
      std::vector<std::string> w;
      for (std::string word; words >> word;) w.push_back(word);
      for (size_t i = 1; i + 1 < w.size(); ++i) {
        const std::string& next = w[i + 1][0] == '[' && i + 2 < w.size() ? w[i + 2] : w[i + 1];
        // (-1: a sample of a task already gone, as the kernel names it.)
        if (w[i].find_first_not_of("-0123456789/") != std::string::npos || next.empty() ||
            next.back() != ':' || next.find('.') == std::string::npos) {
          continue;
        }
        const uint32_t tid = static_cast<uint32_t>(
            std::atoi(w[i].find('/') != std::string::npos ? w[i].substr(w[i].find('/') + 1).c_str()
                                                          : w[i].c_str()));
        std::string comm;
        for (size_t j = 0; j < i; ++j) comm += (j ? " " : "") + w[j];
        current = &out[{tid, next.substr(0, next.size() - 1)}];
        current->comm = comm;
        // Then the period (perf leaves it out for tracepoints), the event and its fields.
        size_t e = (w[i + 1] == next ? i + 2 : i + 3);
        if (e < w.size() && w[e].find_first_not_of("0123456789") == std::string::npos) ++e;
        if (e < w.size()) current->event = w[e].substr(0, w[e].size() - 1);
        for (size_t f = e + 1; f < w.size(); ++f) {
          if (const size_t eq = w[f].find('='); eq != std::string::npos && eq > 0) {
            current->fields[w[f].substr(0, eq)] = w[f].substr(eq + 1);
          }
        }
        break;
      }
      continue;
    }
    if (current == nullptr) continue;
    // "\t    7f12345 function+0x12 (module)"
    std::istringstream words(line);
    ScriptFrame f;
    std::string address;
    words >> address;
    f.address = std::strtoull(address.c_str(), nullptr, 16);
    std::string rest;
    std::getline(words, rest);
    const size_t open = rest.rfind(" (");
    if (open == std::string::npos || rest.back() != ')') continue;
    f.module = rest.substr(open + 2, rest.size() - open - 3);
    f.function = rest.substr(rest.find_first_not_of(' '), open - rest.find_first_not_of(' '));
    if (const size_t plus = f.function.rfind("+0x"); plus != std::string::npos) {
      f.offset = std::strtoull(f.function.c_str() + plus + 3, nullptr, 16);
      f.function.resize(plus);
    }
    current->frames.push_back(std::move(f));
  }
  return out;
}

// Whether two samples have the same frames: the same addresses, leaf first. An address's inline
// levels count once (perf and dprof mark which function is inlined differently), perf names a
// return address by the byte before it in dwarf unwinds, and perf's libdw unwinds may end in a
// frame at address -1 that is no frame.
bool SameFrames(const ScriptSample& perf, const ScriptSample& ours) {
  auto addresses = [](const ScriptSample& s) {
    std::vector<uint64_t> out;
    for (const ScriptFrame& f : s.frames) {
      if (out.empty() || out.back() != f.address) out.push_back(f.address);
    }
    if (!out.empty() && out.back() == ~uint64_t{0}) out.pop_back();
    return out;
  };
  const std::vector<uint64_t> a = addresses(perf), b = addresses(ours);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && a[i] + 1 != b[i]) return false;
  }
  return true;
}

// How many frames of perf's sample print an offset into their function ("hot_a+0x2a") that
// dprof's same frame (the same address, or one past it, with the same name) prints as well, and
// how many of those offsets differ.
std::pair<size_t, size_t> OffsetsCompared(const ScriptSample& perf, const ScriptSample& ours) {
  size_t compared = 0, differ = 0;
  for (const ScriptFrame& f : perf.frames) {
    if (!f.offset.has_value()) continue;
    for (const ScriptFrame& g : ours.frames) {
      if (!g.offset.has_value() || g.function != f.function) continue;
      if (g.address == f.address || g.address == f.address + 1) {
        ++compared;
        differ += *g.offset != *f.offset + (g.address - f.address);
        break;
      }
    }
  }
  return {compared, differ};
}

std::string Describe(const ScriptSample& s) {
  std::string out;
  for (const ScriptFrame& f : s.frames) out += "\n    " + f.function + " (" + f.module + ")";
  return out;
}

// Folds a script's samples as FlameGraph's stackcollapse-perf.pl does: the thread's name, then
// the functions root first (an unnamed one as "[module]"), and how many samples have that stack.
// Inlined frames are left out (perf prints them only for some call graphs, and names them by
// DWARF's plain names, where dprof qualifies them), and symbol versions (perf's
// clock_gettime@@GLIBC_2.17) are dropped.
std::map<std::string, uint64_t> Collapse(const Script& script) {
  std::map<std::string, uint64_t> out;
  for (const auto& [key, sample] : script) {
    std::string stack = sample.comm;
    for (auto f = sample.frames.rbegin(); f != sample.frames.rend(); ++f) {
      if (f->module == "inlined") continue;
      std::string name = f->function.substr(0, f->function.find('@'));
      if (name == "[unknown]") {
        // Appended, not "[" + ...: GCC 12's -O3 warns (-Wrestrict) falsely on that.
        name = "[";
        name += f->module.substr(f->module.rfind('/') + 1);
        name += "]";
      }
      stack += ";" + name;
    }
    ++out[stack];
  }
  return out;
}

// perf names a caller by the function its return address is in; dprof by the function of the
// call (the address before it). They differ only where a call ends a function (ld.so's _start
// calls _dl_start and returns into _dl_start_user, which perf prints as "_dl_start_user+0x0"):
// there perf's frame takes dprof's name at the same address of the same sample.
void NameCallersByTheCall(Script& perf, const Script& ours) {
  for (auto& [key, sample] : perf) {
    auto it = ours.find(key);
    if (it == ours.end()) continue;
    for (size_t i = 1; i < sample.frames.size(); ++i) {
      ScriptFrame& f = sample.frames[i];
      if (f.offset != 0) continue;
      for (const ScriptFrame& g : it->second.frames) {
        if (g.module != "inlined" && (g.address == f.address || g.address == f.address + 1)) {
          f.function = g.function;
        }
      }
    }
  }
}

// perf script and dprof script on the same file: every sample of perf's is dprof's (at least
// `min_samples` of them), and the share whose frames agree is at least `min_share`. Folded as
// stackcollapse-perf.pl folds them (perf's printed with --no-inline), every stack of perf's that
// holds 2% of the samples or more holds as many in dprof's.
void ExpectSameStacksAsPerf(const std::string& path, double min_share, size_t min_samples = 500) {
  const CliResult perf = Perf({"script", "-i", path});
  ASSERT_EQ(perf.exit_code, 0) << perf.err;
  const CliResult ours = RunDprof({"script", "-i", path});
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  const CliResult outer = Perf({"script", "--no-inline", "-i", path});
  ASSERT_EQ(outer.exit_code, 0) << outer.err;
  const Script a = ParseScript(perf.out), b = ParseScript(ours.out);
  ASSERT_GE(a.size(), min_samples) << perf.out.substr(0, 2000);
  Script perf_outer = ParseScript(outer.out);
  NameCallersByTheCall(perf_outer, b);
  const std::map<std::string, uint64_t> folded_perf = Collapse(perf_outer),
                                        folded_ours = Collapse(b);
  for (const auto& [stack, n] : folded_perf) {
    if (n * 50 < a.size()) continue;
    auto it = folded_ours.find(stack);
    EXPECT_EQ(it == folded_ours.end() ? 0 : it->second, n) << "perf folds " << stack;
  }
  EXPECT_EQ(a.size(), b.size());
  size_t same = 0, shown = 0, offsets = 0, offsets_differ = 0;
  for (const auto& [key, sample] : a) {
    auto it = b.find(key);
    if (it == b.end()) {
      ADD_FAILURE() << "perf's sample of tid " << key.first << " at " << key.second
                    << " is not dprof's";
      continue;
    }
    if (SameFrames(sample, it->second)) {
      ++same;
      const auto [compared, differ] = OffsetsCompared(sample, it->second);
      offsets += compared;
      offsets_differ += differ;
    } else if (shown++ < 3) {
      std::cerr << "frames differ at tid " << key.first << " " << key.second << ": perf"
                << Describe(sample) << "\n  dprof" << Describe(it->second) << "\n";
    }
  }
  const double share = static_cast<double>(same) / a.size();
  std::cerr << path << ": " << same << " of " << a.size() << " samples have perf's frames ("
            << share * 100 << "%)\n";
  EXPECT_GE(share, min_share);
  // The functions' offsets, perf's "hot_a+0x2a", for frames both name alike.
  EXPECT_GE(offsets, same);
  EXPECT_EQ(offsets_differ, 0u) << "of " << offsets << " offsets into functions";
}

TEST(PerfImportTest, FramePointerStacksAreFramesPerfWalked) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string path =
      PerfRecord("fp.data", {"-F", "999", "-g"}, {SampleProgram("cpu_bound", "fp"), "1", "2"});
  ExpectSameStacksAsPerf(path, 0.995);
}

TEST(PerfImportTest, DwarfSnapshotsUnwoundByDprofGivePerfsFrames) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  for (const std::string& program : {SampleProgram("cpu_bound", "nofp"), SampleFile("inlined")}) {
    const std::string path =
        PerfRecord("dwarf.data", {"-F", "999", "--call-graph", "dwarf"}, {program, "1"});
    ExpectSameStacksAsPerf(path, 0.99);
  }
}

// Programs nobody here built, from Debian's packages: python3.11 (no frame pointers, a non-PIE
// executable) and sqlite3, unwound from perf's snapshots.
TEST(PerfImportTest, DebianProgramsUnwoundAsPerfUnwindsThem) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string python =
      PerfRecord("python.data", {"-F", "999", "--call-graph", "dwarf"},
                 {"/usr/bin/python3.11", "-c",
                  "import time\ndef fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
                  "end = time.time() + 1\nwhile time.time() < end: fib(18)"});
  ExpectSameStacksAsPerf(python, 0.99);
  const std::string sqlite = PerfRecord(
      "sqlite.data", {"-F", "999", "--call-graph", "dwarf"},
      {"sqlite3", ":memory:",
       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
       "SELECT sum(x) FROM c;"});
  ExpectSameStacksAsPerf(sqlite, 0.99, /*min_samples=*/200);
}

// The other layouts: pipe mode, compressed chunks; imported once, then read by every view.
TEST(PerfImportTest, PipeAndCompressedFilesImportAndReport) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("perf_import_layouts");
  const std::string program = SampleProgram("cpu_bound", "nofp");
  const std::string pipe = dir + "/pipe.data";
  ASSERT_EQ(system(("perf record -q -F 999 --call-graph dwarf -o - -- " + program + " 1 > " + pipe +
                    " 2>/dev/null")
                       .c_str()),
            0);
  const std::string z =
      PerfRecord("z.data", {"-z", "-F", "999", "--call-graph", "dwarf,16384"}, {program, "1"});
  for (const std::string& path : {pipe, z}) {
    const std::string out = dir + "/imported.dprof";
    const CliResult import = RunDprof({"import", path, "-o", out});
    ASSERT_EQ(import.exit_code, 0) << import.err;
    EXPECT_THAT(import.err, HasSubstr("imported"));
    EXPECT_THAT(import.err, HasSubstr("user stacks unwound by dprof"));
    const CliResult report = RunDprof({"report", "-i", out});
    ASSERT_EQ(report.exit_code, 0) << report.err;
    // The same shares as perf's report of the same file.
    const double a = testing::SelfShare(report.out, "hot_a"),
                 b = testing::SelfShare(report.out, "hot_b");
    EXPECT_NEAR(a, PerfSelfShare(path, "hot_a"), 0.1) << report.out;
    EXPECT_NEAR(b, PerfSelfShare(path, "hot_b"), 0.1) << report.out;
    EXPECT_GT(testing::TotalShare(report.out, "hot_a") + testing::TotalShare(report.out, "hot_b"),
              95)
        << report.out;
    // The views read the perf.data file itself just as well.
    const CliResult direct = RunDprof({"report", "-i", path});
    ASSERT_EQ(direct.exit_code, 0) << direct.err;
    EXPECT_NEAR(testing::SelfShare(direct.out, "hot_a"), a, 0.01);
    ExpectSameStacksAsPerf(path, 0.99);
  }
}

// Several events in one file (a tracepoint with its fields, a software event), a process tree:
// every event of each kind is dprof's, named as perf names it.
TEST(PerfImportTest, TracepointAndSoftwareEventsInOneFile) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string path =
      PerfRecord("multi.data", {"-e", "sched:sched_switch", "-e", "page-faults", "-g"},
                 {SampleFile("forker"), "fork"});
  const CliResult stat = RunDprof({"stat", "-i", path});
  ASSERT_EQ(stat.exit_code, 0) << stat.err;
  const CliResult perf = Perf({"script", "-i", path, "-F", "event"});
  ASSERT_EQ(perf.exit_code, 0) << perf.err;
  std::map<std::string, int> perf_counts;
  std::istringstream in(perf.out);
  for (std::string event; in >> event;) ++perf_counts[event.substr(0, event.size() - 1)];
  ASSERT_EQ(perf_counts.size(), 2u) << perf.out;
  for (const auto& [event, n] : perf_counts) {
    EXPECT_THAT(stat.out, HasSubstr("event " + event));
    std::ostringstream line;
    line << "event " << event;
    const size_t at = stat.out.find(line.str());
    ASSERT_NE(at, std::string::npos) << stat.out;
    EXPECT_EQ(std::atoi(stat.out.substr(at + line.str().size()).c_str()), n) << stat.out;
  }
  ExpectSameStacksAsPerf(path, 0.995, /*min_samples=*/20);

  // sched_switch's fields, as perf prints them (prev_state aside: perf spells it as a letter).
  const CliResult perf_text = Perf({"script", "-i", path});
  const CliResult ours_text = RunDprof({"script", "-i", path});
  ASSERT_EQ(ours_text.exit_code, 0) << ours_text.err;
  const Script a = ParseScript(perf_text.out), b = ParseScript(ours_text.out);
  size_t compared = 0;
  for (const auto& [key, sample] : a) {
    if (sample.event != "sched:sched_switch") continue;
    auto it = b.find(key);
    ASSERT_NE(it, b.end());
    EXPECT_EQ(it->second.event, sample.event);
    for (const char* field :
         {"prev_comm", "prev_pid", "prev_prio", "next_comm", "next_pid", "next_prio"}) {
      ASSERT_TRUE(sample.fields.contains(field)) << perf_text.out.substr(0, 1000);
      const auto ours_field = it->second.fields.find(field);
      ASSERT_NE(ours_field, it->second.fields.end()) << field << " at " << key.second;
      EXPECT_EQ(ours_field->second, sample.fields.at(field)) << field << " at " << key.second;
      ++compared;
    }
  }
  EXPECT_GE(compared, 6u * 5) << "sched_switch samples compared";
}

// The whole system (-a): processes that ran before perf started (their mappings synthesized by
// perf, with id 0), kernel threads, the idle task.
TEST(PerfImportTest, SystemWideFilesAsPerfShowsThem) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string path =
      PerfRecord("all.data", {"-a", "-g", "-F", "999"}, {SampleProgram("cpu_bound", "fp"), "1"});
  ExpectSameStacksAsPerf(path, 0.995);
}

TEST(PerfImportTest, WhatIsNoPerfDataIsOneClearError) {
  const std::string dir = ScratchDir("perf_import_errors");
  const CliResult missing = RunDprof({"import", dir + "/none.data"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("none.data"));
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  const std::string text = dir + "/text.data";
  ASSERT_EQ(system(("echo 'PERFILE2 is not enough' > " + text).c_str()), 0);
  const CliResult bad = RunDprof({"import", text, "-o", dir + "/out.dprof"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("text.data"));
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
}

}  // namespace
}  // namespace dprof
