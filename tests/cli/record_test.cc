// End to end: the dprof binary records samples/cpu_bound by command, by PID and system-wide, and
// every view command reads the result; Ctrl-C and a second Ctrl-C; the status line on a terminal.
#include <pty.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The events a report's header counts: "(cpu-clock; 1948 samples, 1.950 s)".
double Events(const std::string& report) {
  const size_t at = report.find("; ");
  return at == std::string::npos ? 0 : std::atof(report.c_str() + at + 2);
}

// hot_a runs twice as long as hot_b (samples/cpu_bound): the report must say so, within what
// sampling allows (RatioTolerance), and the two must hold nearly all the time of the stacks that
// reached user code.
void ExpectCpuBoundShares(const std::string& report) {
  const double a = SelfShare(report, "hot_a");
  const double b = SelfShare(report, "hot_b");
  ASSERT_GT(a, 0) << report;
  ASSERT_GT(b, 0) << report;
  const double events = Events(report) / 100;
  EXPECT_NEAR(a / b, 2.0, RatioTolerance(a * events, b * events)) << report;
  EXPECT_GT(a + b, 85.0) << report;
}

TEST(RecordTest, CommandThenEveryView) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("command");
  const CliOptions in_dir{.cwd = dir};
  CliResult r = RunDprof({"record", "-F", "999", "--flamegraph", "oneshot.html", "--",
                          SampleProgram("cpu_bound", "nofp"), "2"},
                         in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("wrote dprof.data"));
  EXPECT_THAT(r.err, HasSubstr("wrote oneshot.html"));
  EXPECT_THAT(r.err, Not(HasSubstr("events/s"))) << "no status line when stderr is no terminal";
  EXPECT_THAT(ReadFile(dir + "/oneshot.html"), HasSubstr("hot_a"));

  r = RunDprof({"report", "--top", "10"}, in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(cpu-clock;"));
  ExpectCpuBoundShares(r.out);
  // A single thread at 999 Hz: every stack unwound. Only a sample taken inside the exec that
  // starts the program (no user registers yet) may have no user stack, as it has none for perf.
  EXPECT_THAT(r.out, HasSubstr(", dropped snapshots 0,")) << r.out;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("orphans ([0-2])\n(#     [0-2] \\[user stack "
                                              "missing: no registers or stack copy\\]\n)?#   "
                                              "unnamed"))
      << r.out;

  r = RunDprof({"report", "--sort", "total", "--top", "0", "--no-kernel"}, in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("% +(99|100)\\.[0-9]+% +[0-9.]+ [a-z]+ +main "));

  r = RunDprof({"report", "--folded"}, in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("main;.*run;.*one_round;.*hot_a [0-9]+\n"));

  r = RunDprof({"flamegraph"}, in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = ReadFile(dir + "/flamegraph.html");
  EXPECT_THAT(html, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(html, HasSubstr("hot_a"));
  r = RunDprof({"flamegraph", "-o", "graph.svg", "--title", "cpu bound", "--reverse"}, in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string svg = ReadFile(dir + "/graph.svg");
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("cpu bound"));
  EXPECT_THAT(svg, HasSubstr("hot_b"));

  r = RunDprof({"export", "--format", "folded", "-o", "out.folded"}, in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ReadFile(dir + "/out.folded"),
              ::testing::ContainsRegex("cpu_bound_nofp;.*hot_b [0-9]+"));
  r = RunDprof({"export", "--format", "pprof"}, in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string pprof = ReadFile(dir + "/dprof.pb.gz");
  ASSERT_GT(pprof.size(), 2u);
  EXPECT_EQ(pprof.substr(0, 2), "\x1f\x8b") << "gzip";
  r = RunDprof({"export", "--format", "speedscope", "-o", "-"}, in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("speedscope.app/file-format-schema.json"));
  EXPECT_THAT(r.out, HasSubstr("hot_a"));

  r = RunDprof({"stat"}, in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("dprof.data: complete"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("event cpu-clock +[0-9]{3,}"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("call_graph +dwarf"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("engine.unwinds +[0-9]{3,}"));

  // A second recording keeps the first as dprof.data.old.
  r = RunDprof({"record", "-c", "2000000", "--", SampleProgram("cpu_bound", "fp"), "0.5"}, in_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/dprof.data.old"));
  r = RunDprof({"stat", "-i", "dprof.data.old"}, in_dir);
  EXPECT_THAT(r.out, HasSubstr("frequency              999"));
}

// A "--" after the command is the command's own, as is every option after it.
TEST(RecordTest, TheCommandKeepsItsOwnDashes) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const CliResult r = RunDprof({"record", "-F", "99", "/bin/echo", "-n", "--", "-x"},
                               {.cwd = ScratchDir("dashes")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "-- -x");
}

// --wall: the time blocked and the time running in one view; --off-cpu and --on-cpu take them
// apart. samples/blocking sleeps 20 x 50 ms in sleep_once().
TEST(RecordTest, WallClockProfile) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("wall");
  CliResult r =
      RunDprof({"record", "--wall", "--", SampleProgram("blocking", "nofp"), "sleep", "20", "50"},
               {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunDprof({"report", "--sort", "total", "--no-kernel"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(cpu-clock,off-cpu;"));
  // sleep_once is extern "C": named as its symbol, as perf names it.
  EXPECT_THAT(r.out, ::testing::ContainsRegex("% +(9[0-9]|100)\\.[0-9]+% +[0-9.]+ [a-z]+ +"
                                              "sleep_once "));
  r = RunDprof({"report", "--off-cpu", "--no-kernel"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              ::testing::ContainsRegex("\\(off-cpu; 2[0-9] samples, (0\\.9|1\\.[01])[0-9]* s\\)"));
  r = RunDprof({"report", "--on-cpu"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(cpu-clock;"));
  EXPECT_THAT(r.out, HasSubstr("# also recorded: off-cpu"));
}

// The recording and its flame graph are private by default, --mode chooses; --no-cmdline-args
// keeps the program's name and not its arguments.
TEST(RecordTest, PrivateFilesAndArguments) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("private");
  CliResult r = RunDprof({"record", "--flamegraph", "fg.html", "--no-cmdline-args", "--",
                          SampleProgram("cpu_bound", "nofp"), "0.3"},
                         {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st = {};
  for (const char* name : {"dprof.data", "fg.html"}) {
    ASSERT_EQ(stat((dir + "/" + name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << name;
  }
  r = RunDprof({"stat"}, {.cwd = dir});
  EXPECT_THAT(r.out, ::testing::ContainsRegex("command +cpu_bound_nofp\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("cpu_bound_nofp 0.3")));
  r = RunDprof({"record", "-o", "shared.data", "--mode", "0640", "--",
                SampleProgram("cpu_bound", "nofp"), "0.2"},
               {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(stat((dir + "/shared.data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

// ":u" counts user space only: no kernel frames, and the hot functions as usual. ":ppp" is
// accepted and means nothing more for a software event.
TEST(RecordTest, UserSpaceModifier) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("modifier");
  CliResult r =
      RunDprof({"record", "-e", "cpu-clock:uppp", "--", SampleProgram("cpu_bound", "nofp"), "1"},
               {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunDprof({"report", "--top", "0"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(cpu-clock:uppp;"));
  EXPECT_THAT(r.out, Not(HasSubstr("[kernel.kallsyms]")));
  ExpectCpuBoundShares(r.out);
}

// An ordinary user at kernel.perf_event_paranoid 2 records user space, as perf does, and is told
// so once (at 1 or lower, the kernel too, and nothing is said).
TEST(RecordTest, OrdinaryUserRecordsUserSpace) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("ordinary");
  ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
  int paranoid = 2;
  std::ifstream("/proc/sys/kernel/perf_event_paranoid") >> paranoid;
  CliResult r =
      RunDprof({"record", "--", ReachableByEveryone(SampleProgram("cpu_bound", "nofp")), "1"},
               {.cwd = dir, .as_nobody = true});
  if (paranoid > 2) {
    // Nothing at all for ordinary users: said, with the fix.
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("kernel.perf_event_paranoid"));
    return;
  }
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const bool user_only = paranoid == 2;
  EXPECT_EQ(r.err.find("recording user space only") != std::string::npos, user_only) << r.err;
  r = RunDprof({"report", "--top", "0"}, {.cwd = dir, .as_nobody = true});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectCpuBoundShares(r.out);
  if (user_only) {
    EXPECT_THAT(r.out, HasSubstr("# user space only"));
    EXPECT_THAT(r.out, Not(HasSubstr("[kernel.kallsyms]")));
  }
}

// And -p of the user's own process, as perf record -p: user space only at paranoid 2.
TEST(RecordTest, OrdinaryUserAttachesToItsOwnProcess) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run as nobody";
  int paranoid = 2;
  std::ifstream("/proc/sys/kernel/perf_event_paranoid") >> paranoid;
  if (paranoid > 2)
    GTEST_SKIP() << "kernel.perf_event_paranoid " << paranoid << ": nothing allowed";
  const std::string dir = ScratchDir("ordinary_pid");
  ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
  const std::string program = ReachableByEveryone(SampleProgram("cpu_bound", "nofp"));
  const pid_t target = fork();
  if (target == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(126);
    execl(program.c_str(), program.c_str(), "4", nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CliResult r = RunDprof({"record", "-p", std::to_string(target), "-d", "1.5"},
                         {.cwd = dir, .as_nobody = true});
  kill(target, SIGKILL);
  waitpid(target, nullptr, 0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("recording user space only") != std::string::npos, paranoid == 2) << r.err;
  r = RunDprof({"report", "--top", "0"}, {.cwd = dir, .as_nobody = true});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectCpuBoundShares(r.out);
  if (paranoid == 2) {
    EXPECT_THAT(r.out, Not(HasSubstr("[kernel.kallsyms]")));
  }
}

// Where perf_event_open is refused outright (a seccomp filter here, as in a container), a launched
// command samples itself with timer signals: said once, and the same shares.
TEST(RecordTest, TimerSignalsWherePerfEventIsRefused) {
  const std::string dir = ScratchDir("timer");
  CliResult r = RunDprof({"record", "--", SampleProgram("cpu_bound", "nofp"), "1.5"},
                         {.cwd = dir, .perf_errno = EACCES});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("sampling with timer signals instead (--sampler perf refuses)"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 4) << r.err;  // that, then as usual
  EXPECT_THAT(r.err, HasSubstr("wrote dprof.data"));
  r = RunDprof({"report", "--top", "0"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectCpuBoundShares(r.out);
  r = RunDprof({"stat"}, {.cwd = dir});
  EXPECT_THAT(r.out, ::testing::ContainsRegex("sampler +timer signal\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("command +[^\n]*cpu_bound_nofp 1.5\n"));

  // Asked for, it needs no refusal; what it cannot do is said.
  r = RunDprof({"record", "--sampler", "timer", "-o", "asked.data", "--",
                SampleProgram("cpu_bound", "nofp"), "1"},
               {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunDprof({"report", "-i", "asked.data", "--top", "0"}, {.cwd = dir});
  ExpectCpuBoundShares(r.out);
  // Through a wrapper that execs the program (env): the program is what is recorded.
  r = RunDprof({"record", "--sampler", "timer", "-o", "wrapped.data", "--", "/usr/bin/env",
                SampleProgram("cpu_bound", "nofp"), "1"},
               {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunDprof({"report", "-i", "wrapped.data", "--top", "0"}, {.cwd = dir});
  ExpectCpuBoundShares(r.out);
  r = RunDprof({"record", "--sampler", "timer", "-p", "1"}, {.cwd = dir});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("the timer sampler records a launched command only"));
  r = RunDprof({"record", "--sampler", "timer", "-e", "page-faults", "--", "/bin/true"},
               {.cwd = dir});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("samples CPU time only (cpu-clock), not page-faults"));
  // A static program (Debian's ldconfig is one) ignores LD_PRELOAD: nothing recorded, said.
  if (std::filesystem::exists("/sbin/ldconfig")) {
    r = RunDprof(
        {"record", "--sampler", "timer", "-o", "static.data", "--", "/sbin/ldconfig", "-p"},
        {.cwd = dir});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("nothing was recorded: /sbin/ldconfig did not load dprof's "
                                 "timer agent (static and set-user-ID programs ignore"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/static.data"));
  }
}

TEST(RecordTest, ByPid) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("pid");
  BusySample target(10);
  CliResult r = RunDprof({"record", "-p", std::to_string(target.pid()), "-d", "1.5"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunDprof({"report", "--comm", "cpu_bound_nofp"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pid " + std::to_string(target.pid())));
  ExpectCpuBoundShares(r.out);
}

TEST(RecordTest, SystemWideFilteredToPid) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("system");
  BusySample target(10);
  CliResult r = RunDprof({"record", "-a", "-d", "1.5"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunDprof({"report", "--pid", std::to_string(target.pid()), "--no-kernel"}, {.cwd = dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("system-wide"));
  // System-wide, the unwind queue may drop some snapshots at the start: the ratio still holds.
  const double a = SelfShare(r.out, "hot_a"), b = SelfShare(r.out, "hot_b");
  ASSERT_GT(b, 0) << r.out;
  const double events = Events(r.out) / 100;
  EXPECT_NEAR(a / b, 2.0, RatioTolerance(a * events, b * events)) << r.out;
}

TEST(RecordTest, CtrlCStopsCleanly) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("ctrl_c");
  CliProcess record({"record", "--", SampleProgram("cpu_bound", "nofp"), "60"}, {.cwd = dir});
  ASSERT_TRUE(record.WaitForStderr("Ctrl-C stops", 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(record.pid(), SIGINT);
  const CliResult r = record.Finish();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("stopping"));
  EXPECT_THAT(r.err, HasSubstr("was stopped with the recording (signal 15"));
  EXPECT_THAT(r.err, ::testing::ContainsRegex("recorded [0-9]{3,} events"));
  const CliResult stat = RunDprof({"stat"}, {.cwd = dir});
  EXPECT_THAT(stat.out, HasSubstr("dprof.data: complete"));
  EXPECT_THAT(stat.out, ::testing::ContainsRegex("symbols +[1-9]"));
  const CliResult report = RunDprof({"report"}, {.cwd = dir});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_THAT(report.err, Not(HasSubstr("warning")));
  ExpectCpuBoundShares(report.out);
}

TEST(RecordTest, SecondCtrlCAbortsAndKeepsWhatWasComplete) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("ctrl_c_twice");
  // The command ignores SIGTERM, so stopping it takes the tracer's 2 s grace: the second Ctrl-C
  // lands while the first is still being handled.
  CliProcess record({"record", "--", "/bin/sh", "-c",
                     "trap '' TERM; exec " + SampleProgram("cpu_bound", "nofp") + " 60"},
                    {.cwd = dir});
  ASSERT_TRUE(record.WaitForStderr("Ctrl-C stops", 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(record.pid(), SIGINT);
  ASSERT_TRUE(record.WaitForStderr("stopping", 10));
  kill(record.pid(), SIGINT);
  const CliResult r = record.Finish();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_THAT(r.err, HasSubstr("aborted; the recording stays readable"));
  const CliResult report = RunDprof({"report"}, {.cwd = dir});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_THAT(report.err, HasSubstr("is incomplete: recovered"));
  EXPECT_GT(SelfShare(report.out, "hot_a"), 0) << report.out;
}

TEST(RecordTest, StatusLineOnATerminal) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("tty");
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    const std::string program = SampleProgram("cpu_bound", "nofp");
    execl(DPROF_CLI, DPROF_CLI, "record", "--", program.c_str(), "1.5", nullptr);
    _exit(127);
  }
  std::string screen;
  char buffer[4096];
  for (ssize_t n; (n = read(master, buffer, sizeof(buffer))) > 0;) screen.append(buffer, n);
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << screen;
  EXPECT_THAT(screen, HasSubstr("\rdprof record: "));
  EXPECT_THAT(screen, ::testing::ContainsRegex(
                          "dprof record: [0-9.]+ s, [0-9]+ events, [0-9]+ events/s, 0 lost, "
                          "[0-9]+ unwinds pending, [0-9.]+ (B|KiB)"));
  EXPECT_THAT(screen, HasSubstr("\r\033[K")) << "the line is erased before the summary";
}

TEST(RecordTest, FullDiskKeepsTheRecordingSoFar) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("full_disk");
  // A 32 KiB file system: room for about a second of events.
  if (mount("dprof_test", dir.c_str(), "tmpfs", 0, "size=32k") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs to fill (needs root): " << strerror(errno);
  }
  const CliResult r = RunDprof(
      {"record", "-F", "4000", "--", SampleProgram("cpu_bound", "nofp"), "20"}, {.cwd = dir});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, ::testing::ContainsRegex(
                         "dprof: writing dprof.data failed: the disk is full; the recording up "
                         "to byte [0-9]+ stays readable"));
  const CliResult report = RunDprof({"report"}, {.cwd = dir});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_THAT(report.err, HasSubstr("is incomplete"));
  EXPECT_GT(SelfShare(report.out, "hot_a"), 0) << report.out;
  umount2(dir.c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace dprof::testing
