// dprof's speedscope files opened by speedscope's own app (the npm package pinned by
// tests/cli/speedscope/package-lock.json, served on 127.0.0.1 and driven in headless Chromium
// by tests/cli/speedscope/show.mjs): no import error; the hot function in the left-heavy and
// sandwich views at the share dprof's report gives it; one profile per thread; the time-order
// view showing when each thread ran. Screenshots are left in the build tree
// (tests/artifacts/speedscope-*.png).
#include <unistd.h>

#include <filesystem>
#include <ostream>
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

using ::testing::HasSubstr;

// A tooltip's first line, "219.22ms (23%) main_spin": the share and the frame's name.
struct Tip {
  double percent = -1;
  std::string name;
};

Tip ParseTip(absl::string_view tip) {
  Tip t;
  const size_t open = tip.find(" (");
  const size_t close = tip.find("%) ", open);
  if (open == absl::string_view::npos || close == absl::string_view::npos) return t;
  absl::string_view number = tip.substr(open + 2, close - open - 2);
  const bool more = absl::ConsumePrefix(&number, ">");
  const bool less = absl::ConsumePrefix(&number, "<");
  if (!absl::SimpleAtod(number, &t.percent)) t.percent = -1;
  if (more) t.percent += 0.5;  // ">99%"
  if (less) t.percent = 0;     // "<0.01%"
  t.name = std::string(tip.substr(close + 3));
  return t;
}

// What show.mjs printed.
struct Shown {
  std::vector<std::string> lines;

  // The tooltips of the `column F` command, top down.
  std::vector<Tip> Column(const std::string& fraction) const {
    std::vector<Tip> tips;
    for (const std::string& line : lines) {
      absl::string_view rest = line;
      if (!absl::ConsumePrefix(&rest, "column " + fraction + ":")) continue;
      for (absl::string_view tip : absl::StrSplit(rest, " | ", absl::SkipWhitespace())) {
        tips.push_back(ParseTip(absl::StripAsciiWhitespace(tip)));
      }
    }
    return tips;
  }
  // Whether a tooltip of the `column F` command names `function`.
  bool ColumnHas(const std::string& fraction, const std::string& function) const {
    for (const Tip& t : Column(fraction)) {
      if (t.name == function) return true;
    }
    return false;
  }
  // The sandwich table's total share of `function`; -1 when it has no row.
  double TableTotal(const std::string& function) const {
    for (const std::string& line : lines) {
      std::vector<absl::string_view> cells = absl::StrSplit(line, " | ");
      if (cells.size() == 3 && absl::StartsWith(cells[0], "row ") && cells[2] == function) {
        return ParseTip(absl::StrCat(cells[0].substr(4), " ", function)).percent;
      }
    }
    return -1;
  }
  friend std::ostream& operator<<(std::ostream& out, const Shown& shown) {
    for (const std::string& line : shown.lines) out << line << "\n";
    return out;
  }
  // The last "profile" line: the toolbar's "name pid/tid (index/count)".
  std::string Profile() const {
    std::string last;
    for (const std::string& line : lines) {
      if (absl::StartsWith(line, "profile ")) last = line.substr(8);
    }
    return last;
  }
};

class SpeedscopeAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DPROF_REQUIRE_PERF_OR_SKIP();
    ASSERT_EQ(access(DPROF_NODE, X_OK), 0)
        << "Node.js is needed (" << DPROF_NODE << "): run scripts/deps.sh";
    ASSERT_EQ(access(DPROF_CHROMIUM, X_OK), 0)
        << "headless Chromium is needed (" << DPROF_CHROMIUM << "): run scripts/deps.sh";
    ASSERT_EQ(access(DPROF_SPEEDSCOPE_DIR "/node_modules/speedscope/dist/release/index.html",
                     R_OK),
              0)
        << "speedscope's app is installed by the test cli_speedscope_app (npm ci in "
        << DPROF_SPEEDSCOPE_DIR << "): run this test through ctest";
    dir_ = ScratchDir("speedscope");
  }

  // Records `record` into NAME.dprof and exports it to NAME.json; what the program printed.
  std::string Record(const std::string& name, std::vector<std::string> record) {
    record.insert(record.begin(), {"record", "-q", "-o", name + ".dprof"});
    CliResult r = RunDprof(record, {.cwd = dir_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const CliResult out = RunDprof(
        {"export", "-i", name + ".dprof", "--format", "speedscope", "-o", name + ".json"},
        {.cwd = dir_});
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return r.out;
  }

  // NAME.json opened in speedscope's app, after `commands`; the page reported no error.
  Shown Show(const std::string& name, const std::vector<std::string>& commands) {
    const std::filesystem::path shot =
        std::filesystem::path(DPROF_ARTIFACTS_DIR) / ("speedscope-" + name + ".png");
    std::filesystem::create_directories(shot.parent_path());
    std::vector<std::string> args = {DPROF_SPEEDSCOPE_DIR "/show.mjs", DPROF_CHROMIUM,
                                     dir_ + "/" + name + ".json", shot.string()};
    args.insert(args.end(), commands.begin(), commands.end());
    const CliResult r = RunDprof(args, {.cwd = dir_, .program = DPROF_NODE});
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    Shown shown{.lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty())};
    for (const std::string& line : shown.lines) {
      EXPECT_FALSE(absl::StartsWith(line, "error")) << line;
    }
    EXPECT_TRUE(std::filesystem::exists(shot)) << shot;
    return shown;
  }

  std::string dir_;
};

// The hot function, at the left of the left-heavy view and in the sandwich table, with the
// share of the samples dprof's report gives it.
TEST_F(SpeedscopeAppTest, HotFunctionAtItsShare) {
  Record("cpu", {"-F", "999", "--", SampleProgram("cpu_bound", "nofp"), "1", "1"});
  const CliResult report = RunDprof({"report", "-i", "cpu.dprof"}, {.cwd = dir_});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const double share = TotalShare(report.out, "hot_a");
  ASSERT_GT(share, 30) << report.out;

  const Shown shown = Show("cpu", {"view", "2", "column", "0.01", "view", "3", "table"});
  EXPECT_THAT(shown.Profile(), HasSubstr("cpu_bound_nofp "));
  bool found = false;
  for (const Tip& t : shown.Column("0.01")) {
    if (t.name != "hot_a") continue;
    found = true;
    EXPECT_NEAR(t.percent, share, 1.0) << "left heavy; the report:\n" << report.out;
  }
  EXPECT_TRUE(found) << "hot_a not at the left of the left-heavy view:\n" << shown;
  EXPECT_NEAR(shown.TableTotal("hot_a"), share, 1.0) << "sandwich; the report:\n" << report.out;
}

// One profile per thread, and each thread's time in the time-order view: threads 2 300 spins in
// main_spin for 300 ms, then starts worker-0 and worker-1 (50 ms apart) that spin 300 ms each
// in thread_spin, then forks a child that spins 300 ms: about 950 ms in all.
TEST_F(SpeedscopeAppTest, ThreadsInTimeOrder) {
  const std::string printed =
      Record("threads", {"-F", "999", "--", SampleProgram("threads", "nofp"), "2", "300"});
  std::string worker0, child;
  for (absl::string_view line : absl::StrSplit(printed, '\n')) {
    if (absl::ConsumePrefix(&line, "thread ") && worker0.empty()) worker0 = std::string(line);
    if (absl::ConsumePrefix(&line, "child ")) child = std::string(line);
  }
  ASSERT_FALSE(worker0.empty()) << printed;
  ASSERT_FALSE(child.empty()) << printed;

  // The main thread: the program's name, pid equal to tid, not the child's.
  const std::string main_thread = "^threads_nofp (?!" + child + "/)([0-9]+)/\\1 ";
  const Shown shown = Show(
      "threads", {"select", main_thread, "column", "0.05", "column", "0.15", "column", "0.25",
                  "column", "0.6", "column", "0.75", "column", "0.9",
                  "select", "^worker-0 [0-9]+/" + worker0 + " ", "column", "0.04", "column",
                  "0.14", "column", "0.4", "column", "0.5", "column", "0.59"});
  EXPECT_THAT(shown.lines[0], HasSubstr("/4)")) << "one profile per thread: main, 2 workers, child";

  // main_spin early, never late.
  EXPECT_TRUE(shown.ColumnHas("0.05", "main_spin") || shown.ColumnHas("0.15", "main_spin") ||
              shown.ColumnHas("0.25", "main_spin"))
      << shown;
  for (const char* late : {"0.6", "0.75", "0.9"}) {
    EXPECT_FALSE(shown.ColumnHas(late, "main_spin")) << late << "\n" << shown;
  }
  // worker-0: nothing before it started, then thread_spin.
  EXPECT_THAT(shown.Profile(), HasSubstr("worker-0 "));
  EXPECT_TRUE(shown.Column("0.04").empty()) << shown;
  EXPECT_TRUE(shown.Column("0.14").empty()) << shown;
  EXPECT_TRUE(shown.ColumnHas("0.4", "thread_spin") || shown.ColumnHas("0.5", "thread_spin") ||
              shown.ColumnHas("0.59", "thread_spin"))
      << shown;
}

}  // namespace
}  // namespace dprof::testing
