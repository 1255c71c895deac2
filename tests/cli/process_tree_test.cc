// The dprof binary on process trees (samples/forker): processes a command leaves running are
// recorded until they exit; -p PID --children records the workers a pre-fork server started
// before the recording; and what had to be given up is said, naming the flag that helps.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Report(const std::string& dir) {
  const CliResult r =
      RunDprof({"report", "--top", "0", "--sort", "total", "--no-kernel"}, {.cwd = dir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// The parent forks two workers and exits at once: the recording goes on until the workers end.
TEST(ProcessTreeTest, OrphansAreRecordedUntilTheyExit) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("orphans");
  const CliResult r =
      RunDprof({"record", "--", SampleFile("forker"), "orphan", "0.6"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("exited; recording the processes it started until they exit"));
  const std::string report = Report(dir);
  EXPECT_GT(TotalShare(report, "worker_burn"), 90.0) << report;
  // Two workers of 0.6 s each: well over the handful of samples before the parent exited.
  EXPECT_THAT(report, ::testing::ContainsRegex("cpu-clock; [0-9]{3,} samples")) << report;
}

// A command whose children end before it: nothing is said about processes left running.
TEST(ProcessTreeTest, NothingLeftRunningNothingSaid) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("no-orphans");
  const CliResult r = RunDprof({"record", "--", SampleFile("forker"), "fork", "0.2"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("processes it started")));
  EXPECT_GT(TotalShare(Report(dir), "worker_burn"), 90.0);
}

// A pre-fork server running before the recording: its workers are recorded with --children,
// not without.
TEST(ProcessTreeTest, ChildrenOfAPidStartedBeforeRecording) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const pid_t server = fork();
  if (server == 0) {
    const std::string forker = SampleFile("forker");
    execl(forker.c_str(), forker.c_str(), "fork", "4", nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the workers are running
  const std::string with = ScratchDir("children");
  CliResult r =
      RunDprof({"record", "-p", std::to_string(server), "--children", "-d", "1"}, {.cwd = with});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("with children (attached in"));
  const std::string without = ScratchDir("no-children");
  CliResult alone =
      RunDprof({"record", "-p", std::to_string(server), "-d", "0.5"}, {.cwd = without});
  kill(server, SIGKILL);
  waitpid(server, nullptr, 0);
  const std::string report = Report(with);
  EXPECT_GT(TotalShare(report, "worker_burn"), 90.0) << report;
  EXPECT_THAT(report, ::testing::ContainsRegex("cpu-clock; [0-9]{3,} samples")) << report;
  EXPECT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_LT(TotalShare(Report(without), "worker_burn"), 0) << "the parent only waits";
}

// Ring buffers too small for one dwarf sample: every sample is lost, and dprof says so, naming
// the flag that raises them.
TEST(ProcessTreeTest, LostSamplesNameTheFlag) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("lost");
  const CliResult r = RunDprof(
      {"record", "-m", "1", "--", SampleProgram("cpu_bound", "nofp"), "0.3"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("the ring buffers filled before dprof read them; raise -m (now 1 "
                               "pages per CPU), or lower -F or --stack-size"));
}

}  // namespace
}  // namespace dprof::testing
