// The errors a user of the dprof binary sees: one line each, naming the problem and the fix, and
// the exit code (1: runtime failure, 2: usage error).
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "dprof/profile/recording_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"
#include "tests/profile/recording_testing.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// One line on stderr, ending in a newline.
void ExpectOneLine(const CliResult& r) {
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(ErrorsTest, UnknownPid) {
  const CliResult r = RunDprof({"record", "-p", "2147483646", "-d", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no process with PID 2147483646; check the PID"));
  ExpectOneLine(r);
}

TEST(ErrorsTest, ChildrenNeedAPid) {
  const CliResult r = RunDprof({"record", "--children", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--children follows the processes that -p names: give -p PID"));
  ExpectOneLine(r);
}

TEST(ErrorsTest, ProcessExitedBeforeRecordingStarted) {
  const pid_t zombie = fork();  // exits at once and stays unreaped: no thread left to record
  if (zombie == 0) _exit(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const CliResult r =
      RunDprof({"record", "-p", std::to_string(zombie), "-d", "1"}, {.cwd = ScratchDir("zombie")});
  waitpid(zombie, nullptr, 0);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("exited before recording started; record a short-lived program by "
                               "launching it instead (dprof record -- CMD)"));
  ExpectOneLine(r);
}

TEST(ErrorsTest, PermissionDenied) {
  const std::string dir = ScratchDir("denied");
  // --sampler perf: no timer-signal fallback.
  const CliResult r = RunDprof({"record", "--sampler", "perf", "--", "/bin/true"},
                               {.cwd = dir, .perf_errno = EACCES});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err,
              ContainsRegex("permission denied \\(kernel.perf_event_paranoid is -?[0-9]+; "
                            "this needs 1 or lower\\); run as root, give dprof CAP_PERFMON"));
  ExpectOneLine(r);
  EXPECT_FALSE(std::filesystem::exists(dir + "/dprof.data")) << "nothing recorded, nothing left";
}

TEST(ErrorsTest, NoPerfEventSupport) {
  const CliResult r =
      RunDprof({"record", "-a", "-d", "1"}, {.cwd = ScratchDir("enosys"), .perf_errno = ENOSYS});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("perf_event_open is not available (the kernel lacks "
                               "CONFIG_PERF_EVENTS, or a seccomp profile forbids it)"));
  ExpectOneLine(r);
}

TEST(ErrorsTest, UnknownEventWithCloseMatches) {
  CliResult r = RunDprof({"record", "-e", "cpu-clok", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown event 'cpu-clok'; did you mean cpu-clock?"));
  ExpectOneLine(r);
  r = RunDprof({"record", "-e", "sched:sched_swich", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown tracepoint 'sched:sched_swich'; did you mean "
                               "sched:sched_switch?"));
  ExpectOneLine(r);
}

// perf's event modifiers: an unknown event with them is an unknown event, not a tracepoint; an
// unknown modifier keeps the name whole (and so names no event).
TEST(ErrorsTest, EventModifiers) {
  CliResult r = RunDprof({"record", "-e", "cpu-clok:u", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown event 'cpu-clok'; did you mean cpu-clock?"));
  ExpectOneLine(r);
  r = RunDprof({"record", "-e", "cpu-clock:zz", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("cpu-clock:zz"));
  ExpectOneLine(r);
}

TEST(ErrorsTest, FrequencyAboveTheKernelLimit) {
  const CliResult r = RunDprof({"record", "-F", "100000000", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, ContainsRegex("frequency 100000000 Hz is above the kernel's maximum of "
                                   "[0-9]+ Hz.*use -F [0-9]+ or lower"));
  ExpectOneLine(r);
}

TEST(ErrorsTest, UsageErrors) {
  CliResult r = RunDprof({"record"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("nothing to record: give a command"));
  r = RunDprof({"record", "-F", "99", "-c", "1000", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("excludes"));
  r = RunDprof({"record", "--call-graph", "lbr", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown call-graph mode 'lbr'; use fp, dwarf, auto or none"));
  r = RunDprof({"report", "--sort", "sideways"});
  EXPECT_EQ(r.exit_code, 2);
  // Arguments nothing takes, in the order typed.
  r = RunDprof({"report", "--bogus", "5", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("dprof: unexpected arguments: --bogus 5 x; run 'dprof report "
                               "--help' for usage\n"));
  r = RunDprof({"export"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--format is required"));
}

TEST(ErrorsTest, CommandNotFound) {
  const CliResult r =
      RunDprof({"record", "--", "/nonexistent/program"}, {.cwd = ScratchDir("cmd")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot run '/nonexistent/program'"));
  ExpectOneLine(r);
}

class InputErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ScratchDir("input");
    ASSERT_TRUE(profile::WriteRecording(dir_ + "/good.data", SymbolizedRecording()).ok());
    std::ifstream in(dir_ + "/good.data", std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), {});
  }
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << bytes;
  }
  CliResult Report(const std::string& name) {
    return RunDprof({"report", "-i", name}, {.cwd = dir_});
  }
  std::string dir_;
  std::string bytes_;
};

TEST_F(InputErrorsTest, Missing) {
  const CliResult r = Report("missing.data");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot open missing.data: No such file or directory; record one "
                               "first (dprof record)"));
  ExpectOneLine(r);
}

TEST_F(InputErrorsTest, NotARecording) {
  Write("app", std::string("\x7f") + "ELF" + std::string(200, '\0'));
  const CliResult r = Report("app");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("app is not a dprof recording: it is an ELF binary"));
  ExpectOneLine(r);
}

// A perf.data file is imported (dprof import); a broken one says what is wrong with it.
TEST_F(InputErrorsTest, ABrokenPerfData) {
  Write("perf.data", std::string("PERFILE2") + std::string(200, '\0'));
  const CliResult r = Report("perf.data");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("perf.data: perf.data header of 0 bytes in a file of 208 bytes: the "
                               "file is cut or corrupt; record it again"));
  ExpectOneLine(r);
}

TEST_F(InputErrorsTest, TruncatedShowsWhatWasRecovered) {
  ASSERT_GT(bytes_.size(), 200u);
  Write("cut.data", bytes_.substr(0, bytes_.size() - 40));
  const CliResult r = Report("cut.data");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err,
              ContainsRegex("warning: cut.data is incomplete: recovered [0-9]+ chunks \\([0-9]+ "
                            "of [0-9]+ bytes\\).*; showing the 5 events recovered"));
  EXPECT_THAT(r.out, HasSubstr("hot_a"));
}

TEST_F(InputErrorsTest, CorruptChunk) {
  // The events come late in the file: damage a byte in the middle of the last third.
  std::string damaged = bytes_;
  damaged[damaged.size() * 2 / 3] ^= 0x5a;
  Write("damaged.data", damaged);
  const CliResult r = Report("damaged.data");
  if (r.exit_code == 0) {
    EXPECT_THAT(r.err, HasSubstr("damaged.data is incomplete: recovered"));
  } else {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, ContainsRegex("damaged.data holds no events: recovered [0-9]+ chunks"));
    ExpectOneLine(r);
  }
}

TEST_F(InputErrorsTest, ViewsRefuseToAddTimeToCounts) {
  profile::Recording r = SymbolizedRecording();
  r.event_names.push_back("page-faults");
  r.events.back().event = static_cast<uint32_t>(r.event_names.size() - 1);
  ASSERT_TRUE(profile::WriteRecording(dir_ + "/mixed.data", r).ok());
  CliResult result = RunDprof({"report", "-i", "mixed.data", "--on-cpu"}, {.cwd = dir_});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("weigh different things (time and counts); show them apart "
                                    "with --event"));
  result = RunDprof({"report", "-i", "mixed.data", "--event", "page-faults"}, {.cwd = dir_});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("(page-faults; 1 samples"));
  EXPECT_THAT(result.out, Not(HasSubstr("also recorded: page-faults")));
  result = RunDprof({"report", "-i", "mixed.data", "--event", "nope"}, {.cwd = dir_});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("the recording holds no event 'nope'; it holds: cpu-clock"));
}

TEST_F(InputErrorsTest, NothingRecoverable) {
  Write("header.data", bytes_.substr(0, 40));
  const CliResult r = Report("header.data");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, ContainsRegex("header.data holds no events: recovered 0 chunks.*; record "
                                   "again"));
  ExpectOneLine(r);
}

TEST(OutputErrorsTest, DirectoryMissing) {
  const CliResult r = RunDprof({"record", "-o", "/nonexistent/dir/x.data", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot write /nonexistent/dir/x.data: the directory "
                               "/nonexistent/dir does not exist"));
  ExpectOneLine(r);
}

TEST(OutputErrorsTest, DirectoryNotWritable) {
  const std::string dir = ScratchDir("read_only");
  ASSERT_EQ(chmod(dir.c_str(), 0555), 0);
  // Root writes anywhere: the command runs as nobody then.
  const CliResult r =
      RunDprof({"record", "-o", dir + "/x.data", "--", "/bin/true"}, {.as_nobody = true});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the directory " + dir + " is not writable"));
  ExpectOneLine(r);
}

// Tracepoints need tracefs, closed to ordinary users: said as that, not as tracefs missing.
TEST(ErrorsTest, TracefsClosedToThisUser) {
  const std::string dir = ScratchDir("tracefs");
  ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
  struct stat st = {};
  if (stat("/sys/kernel/tracing/events", &st) != 0) GTEST_SKIP() << "tracefs is not mounted";
  const CliResult r =
      RunDprof({"record", "--off-cpu", "--", "/bin/true"}, {.cwd = dir, .as_nobody = true});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("which this user may not read"));
  ExpectOneLine(r);
}

TEST(OutputErrorsTest, SymlinkRefused) {
  const std::string dir = ScratchDir("symlink");
  std::filesystem::create_symlink(dir + "/elsewhere", dir + "/dprof.data");
  const CliResult r = RunDprof({"record", "--", "/bin/true"}, {.cwd = dir});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("refusing to write dprof.data: it is a symbolic link"));
  ExpectOneLine(r);
  EXPECT_FALSE(std::filesystem::exists(dir + "/elsewhere"));
}

}  // namespace
}  // namespace dprof::testing
