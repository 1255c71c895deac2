// The tracer on real perf_event, recording the programs in samples/.
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dprof/tracer/tracer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/unwind_testing.h"
#include "tests/tracer/tracer_testing.h"
#include "tracer/internal/cgroup.h"

extern char** environ;

namespace dprof::tracer {
namespace {

using testing::CollectingSink;
using ::testing::Contains;
using ::testing::Ge;
using testing::SampleProgram;

struct Recording {
  CollectingSink sink;
  std::unique_ptr<Tracer> tracer;
};

// Records with `options` until the targets exit (or `limit` passes).
void Record(TracerOptions options, Recording* r,
            std::chrono::seconds limit = std::chrono::seconds(60)) {
  absl::StatusOr<std::unique_ptr<Tracer>> tracer = Tracer::Create(std::move(options), &r->sink);
  ASSERT_TRUE(tracer.ok()) << tracer.status();
  r->tracer = *std::move(tracer);
  absl::Status s = r->tracer->Start();
  ASSERT_TRUE(s.ok()) << s;
  s = r->tracer->Run(limit);
  ASSERT_TRUE(s.ok()) << s;
}

// The functions of an event's user stack, innermost first.
std::vector<std::string> UserFunctions(const Recording& r, const event::TraceEvent& e) {
  std::vector<uint64_t> pcs = r.sink.UserPcs(e, *r.tracer->depot());
  std::shared_ptr<const unwind::AddressSpace> space = r.tracer->AddressSpaceOf(e.pid);
  if (pcs.empty() || space == nullptr) return {};
  return testing::Symbolizer(*space).Functions(pcs);
}

bool Has(const std::vector<std::string>& functions, const std::string& name) {
  return std::find(functions.begin(), functions.end(), name) != functions.end();
}

// What samples/cpu_bound's counter samples show: how many, how many reach main (or a thread's
// start), and how many land in each hot function.
struct CpuBoundProfile {
  int samples = 0, reach_main = 0, a = 0, b = 0;
  uint64_t weight = 0;
  std::set<uint64_t> periods;
  double ratio() const { return b == 0 ? 0 : static_cast<double>(a) / b; }
};

CpuBoundProfile ProfileOf(const Recording& r, pid_t pid) {
  CpuBoundProfile p;
  testing::Symbolizer symbolize(*r.tracer->AddressSpaceOf(pid));
  for (const event::TraceEvent& e : r.sink.events) {
    if (e.kind != event::EventKind::kSample || e.pid != static_cast<uint32_t>(pid)) continue;
    ++p.samples;
    p.weight += e.weight;
    p.periods.insert(e.weight);
    std::vector<uint64_t> pcs = r.sink.UserPcs(e, *r.tracer->depot());
    if (pcs.empty()) continue;
    std::vector<std::string> f = symbolize.Functions(pcs);
    if (Has(f, "main") || Has(f, "start_thread")) ++p.reach_main;
    if (f[0] == "hot_a") ++p.a;
    if (f[0] == "hot_b") ++p.b;
  }
  return p;
}

class CpuBoundTest : public ::testing::TestWithParam<std::string> {};

// Two hot functions in a 2:1 ratio: the profile shows it, and nearly every sample has a user
// stack that reaches main, with and without frame pointers (DWARF unwinding).
TEST_P(CpuBoundTest, DwarfStacksReachMainAndKeepTheRatio) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  Recording r;
  Record({.target = {.command = {SampleProgram("cpu_bound", GetParam()), "2"}},
          .call_graph = CallGraph::kDwarf},
         &r);
  ASSERT_TRUE(r.tracer->ExitStatus().exited);
  EXPECT_EQ(r.tracer->ExitStatus().code, 0);

  const CpuBoundProfile p = ProfileOf(r, r.tracer->command_pid());
  // 2 s at 999 Hz.
  ASSERT_GT(p.samples, 1000);
  EXPECT_GE(p.reach_main, p.samples * 95 / 100) << "of " << p.samples;
  ASSERT_GT(p.b, 0);
  EXPECT_NEAR(p.ratio(), 2.0, testing::RatioTolerance(p.a, p.b))
      << p.a << " hot_a, " << p.b << " hot_b";
  const event::TracerStats stats = r.tracer->Stats();
  EXPECT_EQ(stats[event::TracerStat::kLost], 0u);
  EXPECT_EQ(stats[event::TracerStat::kDroppedSnapshots], 0u);
}

INSTANTIATE_TEST_SUITE_P(Builds, CpuBoundTest, ::testing::Values("fp", "nofp"));

// A fixed period instead of a frequency (perf -c): every sample weighs exactly the period, and
// one thread busy for a second gives at most one sample per period of its CPU time.
TEST(TracerTest, PeriodSampling) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  Recording r;
  constexpr uint64_t kPeriodNs = 1000000;
  Record(
      {.target = {.command = {SampleProgram("cpu_bound", "nofp"), "1", "1"}}, .period = kPeriodNs},
      &r);
  ASSERT_EQ(r.tracer->ExitStatus().code, 0);
  const CpuBoundProfile p = ProfileOf(r, r.tracer->command_pid());
  EXPECT_THAT(p.periods, ::testing::ElementsAre(kPeriodNs));
  EXPECT_LE(p.samples, 1050) << "more samples than 1 s of CPU time holds";
  EXPECT_GE(p.samples, 600) << "a busy second, even on a loaded machine";
  EXPECT_GE(p.reach_main, p.samples * 95 / 100);
  EXPECT_NEAR(p.ratio(), 2.0, testing::RatioTolerance(p.a, p.b))
      << p.a << " hot_a, " << p.b << " hot_b";
}

// Frame-pointer mode: the kernel walks the user stack; the fp build reaches main.
TEST(TracerTest, FramePointerChainsReachMain) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  Recording r;
  Record({.target = {.command = {SampleProgram("cpu_bound", "fp"), "1"}},
          .call_graph = CallGraph::kFramePointer},
         &r);
  int samples = 0, reach_main = 0;
  for (const event::TraceEvent& e : r.sink.events) {
    if (e.kind != event::EventKind::kSample) continue;
    ++samples;
    ASSERT_EQ(e.user, event::UserStack::kInline);
    if (Has(UserFunctions(r, e), "main")) ++reach_main;
  }
  ASSERT_GT(samples, 500);
  EXPECT_GE(reach_main, samples * 95 / 100);
}

// Threads and a child process started after recording began are all followed.
TEST(TracerTest, FollowsThreadsAndChildrenCreatedWhileRecording) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  Recording r;
  Record({.target = {.command = {SampleProgram("threads", "nofp"), "3", "200"}}}, &r);
  ASSERT_TRUE(r.tracer->ExitStatus().exited);
  EXPECT_EQ(r.tracer->ExitStatus().code, 0);

  std::map<uint32_t, int> samples_by_tid;
  std::map<uint32_t, std::set<std::string>> functions_by_tid;
  for (const event::TraceEvent& e : r.sink.events) {
    if (e.kind != event::EventKind::kSample) continue;
    ++samples_by_tid[e.tid];
    for (const std::string& f : UserFunctions(r, e)) functions_by_tid[e.tid].insert(f);
  }
  // main, three threads, one child: each created by a FORK the tracer saw, each sampled.
  std::set<uint32_t> created;
  for (const event::TaskRecord& t : r.sink.forks) created.insert(t.tid);
  ASSERT_EQ(created.size(), 4u);
  int threads = 0, children = 0;
  for (const event::TaskRecord& t : r.sink.forks) {
    EXPECT_GT(samples_by_tid[t.tid], 20) << "task " << t.tid;
    if (t.pid == t.tid) {
      ++children;
      EXPECT_THAT(functions_by_tid[t.tid], Contains("child_spin"));
    } else {
      ++threads;
      EXPECT_THAT(r.sink.comms[t.tid], ::testing::StartsWith("worker-"));
      EXPECT_THAT(functions_by_tid[t.tid], Contains("thread_spin"));
    }
  }
  EXPECT_EQ(threads, 3);
  EXPECT_EQ(children, 1);
  EXPECT_GT(samples_by_tid[r.tracer->command_pid()], 20);
}

// Attaching to a process that is already running; it exits while being recorded, which ends
// the recording cleanly.
TEST(TracerTest, AttachesToRunningProcessThatExitsMidRecording) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string program = SampleProgram("cpu_bound", "nofp");
  char* argv[] = {const_cast<char*>(program.c_str()), const_cast<char*>("1.5"),
                  const_cast<char*>("2"), nullptr};
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv, environ), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  Recording r;
  Record({.target = {.pids = {pid}}}, &r, std::chrono::seconds(30));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  std::set<uint32_t> tids;
  int samples = 0, reach_main = 0;
  for (const event::TraceEvent& e : r.sink.events) {
    if (e.kind != event::EventKind::kSample) continue;
    EXPECT_EQ(e.pid, static_cast<uint32_t>(pid));
    tids.insert(e.tid);
    ++samples;
    const std::vector<std::string> f = UserFunctions(r, e);
    if (Has(f, "main") || Has(f, "start_thread")) ++reach_main;
  }
  // Two threads busy for the remaining ~1.2 s.
  EXPECT_EQ(tids.size(), 2u);
  ASSERT_GT(samples, 1000);
  EXPECT_GE(reach_main, samples * 95 / 100);
}

// The whole system, per CPU, filtered to one process.
TEST(TracerTest, SystemWideFilteredToOneProcess) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string program = SampleProgram("cpu_bound", "nofp");
  char* argv[] = {const_cast<char*>(program.c_str()), const_cast<char*>("2"), nullptr};
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv, environ), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Recording r;
  Record({.target = {.pids = {pid}, .system_wide = true}}, &r, std::chrono::seconds(1));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  int samples = 0, reach_main = 0;
  for (const event::TraceEvent& e : r.sink.events) {
    ASSERT_EQ(e.pid, static_cast<uint32_t>(pid));
    if (e.kind != event::EventKind::kSample) continue;
    ++samples;
    if (Has(UserFunctions(r, e), "main")) ++reach_main;
  }
  EXPECT_GT(samples, 500);
  EXPECT_GE(reach_main, samples * 95 / 100);
  EXPECT_GT(r.tracer->Stats()[event::TracerStat::kFilteredOut], 0u) << "other processes ran too";
}

// A cgroup the test creates, removed with everything in it killed.
class ScratchCgroup {
 public:
  // Empty path() when this system has no writable perf_event cgroup hierarchy.
  ScratchCgroup() {
    absl::StatusOr<std::string> path = internal::CgroupPath(absl::StrCat("dprof-test-", getpid()));
    if (path.ok() && mkdir(path->c_str(), 0755) == 0) path_ = *path;
  }
  ~ScratchCgroup() {
    if (path_.empty()) return;
    for (pid_t pid : pids_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // Spawns `argv` and moves it into the cgroup (or, with `inside` false, only spawns it); it is
  // killed with the cgroup.
  pid_t Spawn(std::vector<std::string> argv, bool inside) {
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
    pids_.push_back(pid);
    if (inside) {
      std::ofstream procs(path_ + "/cgroup.procs");
      procs << pid << std::flush;
      if (!procs) return -1;
    }
    return pid;
  }

 private:
  std::string path_;
  std::vector<pid_t> pids_;
};

// The whole system filtered to one cgroup (perf -a -G): the busy process inside it is
// recorded, the equally busy one outside is not.
TEST(TracerTest, SystemWideFilteredToACgroup) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  ScratchCgroup cgroup;
  if (cgroup.path().empty()) GTEST_SKIP() << "no writable perf_event cgroup hierarchy here";
  const std::string program = SampleProgram("cpu_bound", "nofp");
  const pid_t inside = cgroup.Spawn({program, "3"}, true);
  const pid_t outside = cgroup.Spawn({program, "3"}, false);
  ASSERT_GT(inside, 0);
  ASSERT_GT(outside, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // A name relative to the hierarchy's mount, as perf -G takes it.
  Recording r;
  Record({.target = {.system_wide = true, .cgroup = absl::StrCat("dprof-test-", getpid())}}, &r,
         std::chrono::seconds(1));
  std::set<uint32_t> pids;
  for (const event::TraceEvent& e : r.sink.events) pids.insert(e.pid);
  EXPECT_THAT(pids, ::testing::ElementsAre(static_cast<uint32_t>(inside)));
  const CpuBoundProfile p = ProfileOf(r, inside);
  EXPECT_GT(p.samples, 300);
  EXPECT_GE(p.reach_main, p.samples * 95 / 100);
}

TEST(TracerTest, ReportsTheCommandsExitStatus) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  Recording r;
  // Without arguments the program prints its usage and exits 2.
  Record({.target = {.command = {SampleProgram("blocking", "fp")}}}, &r);
  EXPECT_TRUE(r.tracer->ExitStatus().exited);
  EXPECT_EQ(r.tracer->ExitStatus().code, 2);
}

TEST(TracerTest, MissingCommandIsAClearError) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  CollectingSink sink;
  auto tracer = Tracer::Create({.target = {.command = {"/nonexistent/program"}}}, &sink);
  ASSERT_TRUE(tracer.ok());
  const absl::Status s = (*tracer)->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("/nonexistent/program"));
}

TEST(TracerTest, UnknownPidIsAClearError) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  CollectingSink sink;
  auto tracer = Tracer::Create({.target = {.pids = {999999999}}}, &sink);
  ASSERT_TRUE(tracer.ok());
  const absl::Status s = (*tracer)->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("no process with PID 999999999"));
}

TEST(TracerTest, TooHighFrequencyNamesTheLimit) {
  CollectingSink sink;
  auto tracer = Tracer::Create({.target = {.pids = {getpid()}}, .frequency = 100000000}, &sink);
  ASSERT_FALSE(tracer.ok());
  EXPECT_THAT(std::string(tracer.status().message()),
              ::testing::HasSubstr("kernel.perf_event_max_sample_rate"));
}

// Counters other than cpu-clock, and a tracepoint with its fields: every nanosleep() of a
// short-lived program is one hit whose fields are the call's and whose user stack reaches
// sleep_once(), even though the program has exited before its first record is read and its
// mappings come from MMAP2 records alone.
TEST(TracerTest, TracepointHitsCarryFieldsAndStacks) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  Recording r;
  Record({.target = {.command = {SampleProgram("blocking", "nofp"), "sleep", "5", "10"}},
          .events = {"task-clock", "page-faults", "syscalls:sys_enter_clock_nanosleep"}},
         &r);
  ASSERT_EQ(r.tracer->ExitStatus().code, 0);
  const Tracepoint* tp = r.tracer->TracepointOf(2);
  ASSERT_NE(tp, nullptr);
  const uint32_t main_tid = r.tracer->command_pid();
  int hits = 0, faults = 0;
  for (size_t i = 0; i < r.sink.events.size(); ++i) {
    const event::TraceEvent& e = r.sink.events[i];
    if (e.tid != main_tid) continue;
    if (e.event == 1) ++faults;
    if (e.event != 2) continue;
    EXPECT_EQ(e.kind, event::EventKind::kTracepoint);
    EXPECT_EQ(e.weight, 1u);
    int64_t clock = -1, rqtp = 0;
    EXPECT_TRUE(tp->ReadInt(r.sink.raw[i], "which_clock", &clock));
    EXPECT_EQ(clock, CLOCK_REALTIME);
    EXPECT_TRUE(tp->ReadInt(r.sink.raw[i], "rqtp", &rqtp));
    EXPECT_NE(rqtp, 0);
    const std::vector<std::string> f = UserFunctions(r, e);
    EXPECT_TRUE(Has(f, "sleep_once")) << ::testing::PrintToString(f);
    EXPECT_TRUE(Has(f, "main")) << ::testing::PrintToString(f);
    ++hits;
  }
  EXPECT_EQ(hits, 5);
  EXPECT_GT(faults, 0) << "a starting program faults its pages in";
}

// Off-CPU: the intervals a thread spent in nanosleep() or a blocking read() carry the kernel and
// user stacks of the moment it blocked, and add up to the time it was blocked.
class OffCpuTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OffCpuTest, BlockedTimeAddsUp) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string mode = GetParam();
  Recording r;
  Record({.target = {.command = {SampleProgram("blocking", "nofp"), mode, "10", "50"}},
          .off_cpu = true},
         &r);
  ASSERT_EQ(r.tracer->ExitStatus().code, 0);
  const uint32_t main_tid = r.tracer->command_pid();
  const std::string function = mode + "_once";
  uint64_t blocked_ns = 0;
  int intervals = 0;
  for (const event::TraceEvent& e : r.sink.events) {
    if (e.kind != event::EventKind::kOffCpu || e.tid != main_tid) continue;
    const std::vector<std::string> f = UserFunctions(r, e);
    if (!Has(f, function)) continue;
    EXPECT_NE(e.kernel_stack, stackdepot::kNoHandle);
    EXPECT_TRUE(Has(f, "main"));
    blocked_ns += e.weight;
    ++intervals;
  }
  EXPECT_GE(intervals, 10);
  EXPECT_NEAR(static_cast<double>(blocked_ns), 500e6, 50e6) << intervals << " intervals";
}

INSTANTIATE_TEST_SUITE_P(Modes, OffCpuTest, ::testing::Values("sleep", "read"));

// One write() that blocks hundreds of times: every sched_switch and every kernel-mode timer
// sample inside it belongs to one kernel entry, shares one cookie, and costs one unwind.
TEST(TracerTest, EventsOfOneSyscallShareOneCookieAndOneUnwind) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  Recording r;
  Record(
      {.target = {.command = {SampleProgram("blocking", "nofp"), "write", "512"}}, .off_cpu = true},
      &r);
  ASSERT_EQ(r.tracer->ExitStatus().code, 0);
  const uint32_t main_tid = r.tracer->command_pid();
  std::map<cookie::Cookie, int> off_cpu, kernel_samples;
  std::set<cookie::Cookie> cookies;
  for (const event::TraceEvent& e : r.sink.events) {
    if (e.user == event::UserStack::kDeferred) cookies.insert(e.cookie);
    if (e.tid != main_tid || e.user_mode) continue;
    if (!Has(UserFunctions(r, e), "write_all")) continue;
    if (e.kind == event::EventKind::kOffCpu) ++off_cpu[e.cookie];
    if (e.kind == event::EventKind::kSample) ++kernel_samples[e.cookie];
  }
  // The write() is one kernel entry. Under load the thread may also be preempted just before or
  // after it (a timer interrupt in user code: another entry, rightly another cookie), so the
  // syscall's cookie is the one nearly all switches share.
  ASSERT_FALSE(off_cpu.empty());
  int total = 0;
  cookie::Cookie c = cookie::kNoCookie;
  for (const auto& [cookie, n] : off_cpu) {
    total += n;
    if (c == cookie::kNoCookie || n > off_cpu[c]) c = cookie;
  }
  EXPECT_GE(off_cpu[c], 50);
  EXPECT_GE(off_cpu[c], total * 9 / 10) << off_cpu.size() << " cookies";
  EXPECT_GE(kernel_samples[c], 1) << "timer samples inside write() share the cookie";
  // One unwind job per cookie, however many events asked.
  const event::TracerStats stats = r.tracer->Stats();
  EXPECT_EQ(stats.engine[unwind::EngineStat::kJobs], cookies.size());
  EXPECT_EQ(stats.engine[unwind::EngineStat::kDrops], 0u);
  EXPECT_GT(stats.engine[unwind::EngineStat::kShared], static_cast<uint64_t>(off_cpu[c]) - 1);
}

}  // namespace
}  // namespace dprof::tracer
