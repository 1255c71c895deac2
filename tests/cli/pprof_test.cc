// dprof's pprof files read by Go's own pprof (`go tool pprof`, from Debian's golang-go): the
// profiled program named first, the period and the time, -top, -traces and -raw with the hot
// functions at the counts dprof's folded stacks give, for on-CPU, off-CPU, wall-clock and
// tracepoint profiles; kernel frames under [kernel.kallsyms]; -diff_base of two profiles.
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
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

// go tool pprof ARGS, offline (the profile names its functions).
CliResult GoPprof(std::vector<std::string> args, const std::string& dir) {
  args.insert(args.begin(), {"tool", "pprof", "-symbolize=none"});
  return RunDprof(args, {.cwd = dir, .program = DPROF_GO, .env = {"HOME=" + dir}});
}

// The samples of folded stacks ending in `function` (dprof report --folded counts samples; a
// kernel frame carries "_[k]").
uint64_t FoldedLeafCount(const std::string& folded, const std::string& function) {
  uint64_t n = 0;
  for (absl::string_view line : absl::StrSplit(folded, '\n', absl::SkipEmpty())) {
    const size_t space = line.rfind(' ');
    absl::string_view stack = line.substr(0, space);
    absl::ConsumeSuffix(&stack, "_[k]");
    uint64_t v = 0;
    if ((stack == function || absl::EndsWith(stack, ";" + function)) &&
        absl::SimpleAtoi(line.substr(space + 1), &v)) {
      n += v;
    }
  }
  return n;
}

// pprof -top's flat value of `function` (its first column), with -sample_index=samples: a count.
uint64_t TopFlat(const std::string& top, const std::string& function) {
  for (absl::string_view line : absl::StrSplit(top, '\n')) {
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t v = 0;
    if (words.size() == 6 && words[5] == function && absl::SimpleAtoi(words[0], &v)) return v;
  }
  return 0;
}

class PprofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DPROF_REQUIRE_PERF_OR_SKIP();
    ASSERT_EQ(access(DPROF_GO, X_OK), 0)
        << "Go's pprof is needed (" << DPROF_GO << "): run scripts/deps.sh";
    dir_ = ScratchDir("pprof");
  }

  // Records `args` into NAME.dprof and exports `view` of it to NAME.pb.gz.
  void Record(const std::string& name, std::vector<std::string> record,
              std::vector<std::string> view = {}) {
    record.insert(record.begin(), {"record", "-q", "-o", name + ".dprof"});
    CliResult r = RunDprof(record, {.cwd = dir_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> out = {"export", "-i", name + ".dprof", "--format", "pprof", "-o",
                                    name + ".pb.gz"};
    out.insert(out.end(), view.begin(), view.end());
    r = RunDprof(out, {.cwd = dir_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Each hot function's samples in pprof -top equal those of dprof's folded stacks.
  void ExpectSameCounts(const std::string& name, const std::vector<std::string>& view,
                        const std::vector<std::string>& functions) {
    std::vector<std::string> args = {"report", "-i", name + ".dprof", "--folded", "--weights",
                                     "count"};
    args.insert(args.end(), view.begin(), view.end());
    const CliResult folded = RunDprof(args, {.cwd = dir_});
    ASSERT_EQ(folded.exit_code, 0) << folded.err;
    const CliResult top =
        GoPprof({"-top", "-nodecount=100", "-sample_index=samples", name + ".pb.gz"}, dir_);
    ASSERT_EQ(top.exit_code, 0) << top.err;
    for (const std::string& f : functions) {
      const uint64_t ours = FoldedLeafCount(folded.out, f);
      EXPECT_GT(ours, 0u) << f << " in\n" << folded.out.substr(0, 2000);
      EXPECT_EQ(TopFlat(top.out, f), ours) << f << " in\n" << top.out;
    }
  }

  std::string dir_;
};

TEST_F(PprofTest, OnCpuAsGoPprofReadsIt) {
  const std::string program = SampleProgram("cpu_bound", "nofp");
  Record("cpu", {"-F", "999", "--", program, "0.5", "2"});
  CliResult r = GoPprof({"-top", "cpu.pb.gz"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("File: cpu_bound_nofp\n")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Type: cpu\n"));
  EXPECT_THAT(r.out, ContainsRegex("Duration: [45][0-9][0-9](\\.[0-9]+)?ms"));  // 504ms, 503.12ms
  EXPECT_THAT(r.out, ContainsRegex("hot_a\n"));
  ExpectSameCounts("cpu", {}, {"hot_a", "hot_b"});

  r = GoPprof({"-raw", "cpu.pb.gz"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("PeriodType: cpu nanoseconds\nPeriod: 1001001\n"));
  EXPECT_THAT(r.out, ContainsRegex("Time: 20[0-9][0-9]-"));
  EXPECT_THAT(r.out, ContainsRegex("\n1: [^\n]*/cpu_bound_nofp "));
  EXPECT_THAT(r.out, ContainsRegex("\n[0-9]+: 0x0/0x0/0x0 \\[kernel.kallsyms\\] "));

  r = GoPprof({"-traces", "cpu.pb.gz"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ContainsRegex("ms +hot_a\n +one_round\n +run\n +main\n"));

  // Another recording as the base: the difference reads.
  Record("cpu2", {"-F", "999", "--", program, "0.3", "2"});
  r = GoPprof({"-top", "-diff_base=cpu2.pb.gz", "cpu.pb.gz"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("hot_a"));
}

// System-wide, pprof's File: is the program most samples ran in.
TEST_F(PprofTest, SystemWideNamedByTheHeaviestProgram) {
  CliProcess busy({"2", "2"}, {.program = SampleProgram("cpu_bound", "nofp")});
  Record("all", {"-a", "-F", "499", "-d", "1"});
  const CliResult r = GoPprof({"-top", "all.pb.gz"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("File: cpu_bound_nofp\n")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("hot_a"));
  kill(busy.pid(), SIGKILL);
  busy.Finish();
}

TEST_F(PprofTest, OffCpuWallAndTracepointsAsGoPprofReadsThem) {
  const std::string blocking = SampleProgram("blocking", "fp");
  Record("off", {"-g", "--off-cpu", "--", blocking, "sleep", "4", "20"}, {"--off-cpu"});
  CliResult r = GoPprof({"-top", "off.pb.gz"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("File: blocking_fp\n"));
  EXPECT_THAT(r.out, HasSubstr("Type: off-cpu\n"));
  ExpectSameCounts("off", {"--off-cpu"}, {"__schedule"});

  Record("wall", {"-g", "--wall", "--", blocking, "sleep", "4", "20"});
  r = GoPprof({"-top", "wall.pb.gz"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("File: blocking_fp\n"));
  EXPECT_THAT(r.out, HasSubstr("schedule"));

  Record("tp", {"-g", "-e", "syscalls:sys_enter_clock_nanosleep", "--", blocking, "sleep", "4",
                "20"});
  r = GoPprof({"-top", "tp.pb.gz"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Type: events\n"));
  ExpectSameCounts("tp", {}, {"clock_nanosleep"});
}

}  // namespace
}  // namespace dprof::testing
