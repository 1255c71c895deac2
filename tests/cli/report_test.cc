// dprof report with the flags perf users type first, on a real recording of a process tree
// (samples/forker nested: a worker that burns in worker_burn() and forks a grandchild that burns
// in grandchild_burn(), both in Burn()): --sort keys, --children, --percent-limit, -n, -g, -q, the
// width it fits, a filter that matches nothing; record -q; every command's forms in its help.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// One recording for every test: the roles forker printed, by name ("worker" → its pid).
class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string why;
    if (!PerfEventAvailable(&why)) return;
    dir_ = new std::string(ScratchDir("report"));
    const CliResult r =
        RunDprof({"record", "-q", "--", SampleFile("forker"), "nested", "0.6"}, {.cwd = *dir_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // record -q: errors only.
    EXPECT_EQ(r.err, "");
    roles_ = new std::vector<std::string>(absl::StrSplit(r.out, '\n', absl::SkipEmpty()));
  }
  void SetUp() override { DPROF_REQUIRE_PERF_OR_SKIP(); }

  static CliResult Report(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), "report");
    return RunDprof(args, {.cwd = *dir_, .env = std::move(env)});
  }
  // The pid forker announced for `role`.
  static std::string PidOf(const std::string& role) {
    for (const std::string& line : *roles_) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      if (parts.size() == 2 && parts[1] == role) return parts[0];
    }
    return "?";
  }

  static std::string* dir_;
  static std::vector<std::string>* roles_;
};
std::string* ReportTest::dir_ = nullptr;
std::vector<std::string>* ReportTest::roles_ = nullptr;

// Lines of `text` that are rows: they start with a percentage.
std::vector<std::string> Rows(const std::string& text) {
  std::vector<std::string> rows;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line.substr(0, 9), "%") && !absl::StartsWith(line, "#")) {
      rows.emplace_back(line);
    }
  }
  return rows;
}

// perf's --sort keys in any combination: each process's hot function in its own row.
TEST_F(ReportTest, SortKeys) {
  CliResult r = Report({"--sort", "pid,sym", "--no-kernel", "-w", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Pid  Function"));
  const std::string burn = "  \\(anonymous namespace\\)::Burn\n";
  EXPECT_THAT(r.out, ContainsRegex(" m?s +" + PidOf("worker") + burn));
  EXPECT_THAT(r.out, ContainsRegex(" m?s +" + PidOf("grandchild") + burn));

  // By name: one process name holds everything.
  r = Report({"--sort", "comm", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Rows(r.out).size(), 1u) << r.out;
  EXPECT_THAT(Rows(r.out)[0], ContainsRegex("^ 100.00% +100.00% +[0-9.]+ m?s  forker$"));

  // By thread and module: the workers' threads, each of them in forker and the kernel.
  r = Report({"--sort", "tid,dso", "--top", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Tid  Module"));
  EXPECT_THAT(r.out, ContainsRegex(PidOf("worker") + "  forker\n"));
  EXPECT_THAT(r.out, ContainsRegex(PidOf("grandchild") + "  forker\n"));

  r = Report({"--sort", "sym,bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(
      r.err, HasSubstr("--sort: unknown key 'bogus'; use comm, pid, tid, dso (or module) and sym"));
}

// -n: each row's samples, which add up to the header's; --no-children: the Total column gone.
TEST_F(ReportTest, SamplesAndChildren) {
  CliResult r = Report({"--sort", "pid", "-n", "--no-children"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ContainsRegex("\n    Self  Samples    Self time +Pid\n"));
  uint64_t sum = 0;
  for (const std::string& row : Rows(r.out)) {
    std::vector<std::string> cells = absl::StrSplit(row, ' ', absl::SkipEmpty());
    uint64_t n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(cells[1], &n)) << row;
    sum += n;
  }
  const size_t at = r.out.find("; ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_EQ(sum, std::strtoull(r.out.c_str() + at + 2, nullptr, 10)) << r.out;

  // --children: ordered by total, main and its callers first with nearly every sample (ties
  // by name), Burn and the burns after them.
  r = Report({"--children", "--no-kernel", "--percent-limit", "20", "-w", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(Rows(r.out).empty()) << r.out;
  EXPECT_THAT(r.out, ContainsRegex("\n   0.00% +(9[5-9]|100)\\.[0-9]+% +[0-9.]+ m?s  main "));
  EXPECT_THAT(Rows(r.out)[0], ContainsRegex("% +(9[5-9]|100)\\.[0-9]+% ")) << r.out;
  EXPECT_THAT(r.out, ContainsRegex("% +[0-9.]+ m?s  worker_burn "));
  for (const std::string& row : Rows(r.out)) {
    double total = 0;
    std::vector<std::string> cells = absl::StrSplit(row, ' ', absl::SkipEmpty());
    ASSERT_TRUE(absl::SimpleAtod(absl::StripSuffix(cells[1], "%"), &total)) << row;
    EXPECT_GE(total, 20.0) << "--percent-limit 20 leaves it out: " << row;
  }
  EXPECT_EQ(Report({"--children", "--no-children"}).exit_code, 2);
}

// -g: the call paths under each row, each branch with its share.
TEST_F(ReportTest, CallGraph) {
  // Callee order: from Burn up to the root: a branch for each burn, each through main.
  CliResult r = Report({"-g", "callee", "--no-kernel", "--top", "1", "-w", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ContainsRegex("\n +[0-9.]+%  \\(anonymous namespace\\)::Burn\n"));
  EXPECT_THAT(r.out, ContainsRegex("\n +[0-9.]+%  worker_burn\n"));
  EXPECT_THAT(r.out, ContainsRegex("\n +[0-9.]+%  grandchild_burn\n"));
  EXPECT_THAT(r.out, ContainsRegex("\n +main\n"));
  // Caller order (-g alone), rows by total: from main down, branching into the two burns.
  r = Report({"--children", "-g", "--no-kernel", "--top", "0", "-w", "0", "--sort", "sym"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ContainsRegex("\n +[0-9.]+%  worker_burn\n"));
  EXPECT_THAT(r.out, ContainsRegex("\n +[0-9.]+%  grandchild_burn\n"));
  EXPECT_EQ(Report({"-g", "sideways"}).exit_code, 2);
}

// The width: COLUMNS, else 80 in a pipe; -w 0 no limit. Long names are cut with an ellipsis and
// every row keeps its columns.
TEST_F(ReportTest, FitsTheWidth) {
  for (const auto& [args, env, width] :
       std::vector<std::tuple<std::vector<std::string>, std::vector<std::string>, size_t>>{
           {{"--top", "0", "-n"}, {}, 80},
           {{"--top", "0", "--sort", "comm,pid,dso,sym"}, {"COLUMNS=64"}, 64},
           {{"--top", "0", "-g", "-w", "50"}, {}, 50}}) {
    const CliResult r = Report(args, env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
      size_t columns = 0;
      for (char c : line) columns += (c & 0xC0) != 0x80;
      EXPECT_LE(columns, width) << line;
    }
  }
  // Cut names end in an ellipsis; with no limit they are whole.
  CliResult r = Report({"--top", "0", "-w", "40"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\u2026"));
  r = Report({"--top", "0", "-w", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("\u2026")));
}

// -q: the table alone.
TEST_F(ReportTest, Quiet) {
  const CliResult r = Report({"-q", "--event", "cpu-clock"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("#")));
  EXPECT_THAT(r.out, HasSubstr("::Burn"));
  EXPECT_EQ(r.err, "");
}

// A filter that matches nothing says so, naming the processes there are.
TEST_F(ReportTest, AFilterMatchingNothingSaysSo) {
  for (const std::string command : {"report", "flamegraph", "export"}) {
    std::vector<std::string> args = {command, "--comm", "nosuchthing"};
    if (command == "export") args.insert(args.end(), {"--format", "folded"});
    const CliResult r = RunDprof(args, {.cwd = *dir_});
    EXPECT_EQ(r.exit_code, 2) << command;
    EXPECT_THAT(r.err, HasSubstr("no recorded event matches --comm nosuchthing; the recording's "
                                 "processes: "))
        << command;
    EXPECT_THAT(r.err, HasSubstr(PidOf("worker") + " (forker)")) << command;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

// The sum of a folded output's numbers.
uint64_t FoldedSum(const std::string& folded) {
  uint64_t sum = 0;
  for (absl::string_view line : absl::StrSplit(folded, '\n', absl::SkipEmpty())) {
    uint64_t v = 0;
    EXPECT_TRUE(absl::SimpleAtoi(line.substr(line.rfind(' ') + 1), &v)) << line;
    sum += v;
  }
  return sum;
}

// Folded stacks count samples, as flamegraph.pl, inferno and speedscope read them; --weights ns
// gives the clock's nanoseconds; time asked of counted events is one error.
TEST_F(ReportTest, FoldedNumbersCountSamples) {
  CliResult r = Report({"--folded"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const uint64_t samples = FoldedSum(r.out);
  CliResult stat = RunDprof({"stat"}, {.cwd = *dir_});
  ASSERT_EQ(stat.exit_code, 0) << stat.err;
  const size_t at = stat.out.find("event cpu-clock ");
  ASSERT_NE(at, std::string::npos) << stat.out;
  EXPECT_EQ(samples, std::strtoull(stat.out.c_str() + at + 16, nullptr, 10)) << stat.out;
  r = Report({"--folded", "--weights", "ns"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // About a millisecond a sample at 999 Hz.
  EXPECT_GT(FoldedSum(r.out), samples * 500'000);
  EXPECT_LT(FoldedSum(r.out), samples * 2'000'000);
  r = RunDprof({"export", "--format", "folded", "--weights", "us"}, {.cwd = *dir_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(FoldedSum(r.out), samples * 500);

  r = Report({"--weights", "us"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--weights needs --folded"));
  r = RunDprof({"record", "-q", "-e", "page-faults", "-c", "1", "-o", "faults.dprof", "--",
                SampleFile("forker"), "nested", "0.1"},
               {.cwd = *dir_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Report({"-i", "faults.dprof", "--folded", "--weights", "us"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--weights us: page-faults counts events, not time; use --weights "
                               "count"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// Every command's help shows each form it takes.
TEST(HelpTest, EveryForm) {
  CliResult r = RunDprof({"help", "record"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Usage: dprof record [OPTIONS] [--] CMD [ARG]...\n"));
  EXPECT_THAT(r.out, HasSubstr("dprof record [OPTIONS] -p PID[,PID]..."));
  EXPECT_THAT(r.out, HasSubstr("dprof record [OPTIONS] -a"));
  r = RunDprof({"report", "--help"});
  EXPECT_THAT(r.out, HasSubstr("Usage: dprof report [OPTIONS] [-i FILE] [-s KEY[,KEY]...]"));
  EXPECT_THAT(r.out, HasSubstr("--percent-limit"));
  for (const std::string command : {"flamegraph", "export", "stat", "help"}) {
    r = RunDprof({"help", command});
    EXPECT_THAT(r.out, ContainsRegex("Usage: dprof " + command + " [^\n]*[A-Z]")) << r.out;
  }
}

}  // namespace
}  // namespace dprof::testing
