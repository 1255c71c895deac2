// dprof::Profiler profiling the test process itself: with perf_event and with the timer-signal
// sampler, the hot functions' shares, dprof's own threads left out, every output format, and the
// profiler's lifecycle.
#include "dprof/profiler.h"

#include <sys/stat.h>
#include <time.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "samples/embed_workload/workload.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Self weight of `function` as a share of the profile.
double SelfShare(const profile::View& p, const std::string& function) {
  for (const profile::FunctionWeight& f :
       profile::FunctionWeights(p, profile::ReportOptions::Sort::kSelf)) {
    if (f.name == function) {
      return static_cast<double>(f.self) / static_cast<double>(p.total_weight());
    }
  }
  return 0;
}

// The calling thread's CPU time, in seconds.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs the workload on this thread and on one started after profiling began; returns the CPU
// time both spent in it.
double RunWorkload(double seconds) {
  auto timed = [seconds] {
    const double start = ThreadCpuSeconds();
    workload_run(seconds);
    return ThreadCpuSeconds() - start;
  };
  double late_cpu = 0;
  std::thread late([&] { late_cpu = timed(); });
  const double cpu = timed();
  late.join();
  return cpu + late_cpu;
}

// What every self-profile must show: the 2:1 ratio, and nothing of dprof's threads.
void ExpectSelfProfile(const Profile& profile, const std::vector<pid_t>& own) {
  const profile::View& stacks = profile.view();
  ASSERT_GT(stacks.total_count(), 200u);
  const double a = SelfShare(stacks, "hot_a"), b = SelfShare(stacks, "hot_b");
  EXPECT_GT(a + b, 0.85) << "hot_a " << a << ", hot_b " << b;
  ASSERT_GT(b, 0);
  EXPECT_NEAR(a / b, 2.0, 0.4);
  EXPECT_EQ(stacks.stitch_counts().orphaned(profile::Orphan::kNeverDelivered), 0u);

  const absl::flat_hash_set<pid_t> own_set(own.begin(), own.end());
  const auto names = profile::ThreadNames(profile.recording());
  absl::flat_hash_set<uint32_t> threads;
  for (const profile::Event& e : profile.recording().events) {
    EXPECT_FALSE(own_set.contains(static_cast<pid_t>(e.tid))) << "an event of dprof's " << e.tid;
    threads.insert(e.tid);
  }
  EXPECT_GE(threads.size(), 2u);  // the thread started while profiling was followed
  for (uint32_t tid : threads) {
    auto it = names.find(tid);
    if (it != names.end()) {
      EXPECT_THAT(it->second, Not(StartsWith("dprof-")));
    }
  }
  for (const profile::View::Frame& f : stacks.frames()) {
    EXPECT_THAT(f.name, Not(HasSubstr("WorkerLoop")));
    EXPECT_THAT(f.name, Not(HasSubstr("ReaderLoop")));
  }
}

TEST(ProfilerTest, ProfilesItselfWithPerfEvent) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  absl::StatusOr<std::unique_ptr<Profiler>> profiler =
      Profiler::Create({.frequency = 499, .sampler = Sampler::kPerfEvent});
  ASSERT_TRUE(profiler.ok()) << profiler.status();
  EXPECT_EQ((*profiler)->sampler(), Sampler::kPerfEvent);
  ASSERT_TRUE((*profiler)->Start().ok());
  RunWorkload(1.5);
  const std::vector<pid_t> own = (*profiler)->own_threads();
  EXPECT_GE(own.size(), 2u);  // the reader and at least one unwind worker
  absl::StatusOr<Profile> profile = (*profiler)->Stop();
  ASSERT_TRUE(profile.ok()) << profile.status();
  ExpectSelfProfile(*profile, own);
  EXPECT_EQ(profile->recording().metadata.at("sampler"), "perf_event");
}

TEST(ProfilerTest, ProfilesItselfWithTimerSignals) {
  absl::StatusOr<std::unique_ptr<Profiler>> profiler =
      Profiler::Create({.frequency = 499, .sampler = Sampler::kTimerSignal});
  ASSERT_TRUE(profiler.ok()) << profiler.status();
  EXPECT_EQ((*profiler)->sampler(), Sampler::kTimerSignal);
  ASSERT_TRUE((*profiler)->Start().ok());
  const double cpu = RunWorkload(1.5);
  const std::vector<pid_t> own = (*profiler)->own_threads();
  absl::StatusOr<Profile> profile = (*profiler)->Stop();
  ASSERT_TRUE(profile.ok()) << profile.status();
  ExpectSelfProfile(*profile, own);
  EXPECT_EQ(profile->recording().metadata.at("sampler"), "timer signal");
  // Each sample stands for the CPU time it saw: the two threads' CPU time, however coarse the
  // kernel's timer tick made the samples.
  EXPECT_NEAR(profile->view().total_weight() / 1e9, cpu, 0.2 * cpu);
  // The signal's default action is back: a stray SIGPROF would end the process.
  struct sigaction now = {};
  sigaction(SIGPROF, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

TEST(ProfilerTest, EnvironmentForcesTheTimerFallback) {
  setenv("DPROF_NO_PERF_EVENT", "1", 1);
  std::vector<std::string> notices;
  absl::StatusOr<std::unique_ptr<Profiler>> profiler =
      Profiler::Create({.notice = [&](std::string_view m) { notices.emplace_back(m); }});
  unsetenv("DPROF_NO_PERF_EVENT");
  ASSERT_TRUE(profiler.ok()) << profiler.status();
  EXPECT_EQ((*profiler)->sampler(), Sampler::kTimerSignal);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_THAT(notices[0], HasSubstr("DPROF_NO_PERF_EVENT is set"));
  EXPECT_THAT(notices[0], HasSubstr("timer signals"));
}

TEST(ProfilerTest, TheFallbackRefusesWhatTimersCannotSee) {
  absl::StatusOr<std::unique_ptr<Profiler>> p =
      Profiler::Create({.events = {"page-faults"}, .sampler = Sampler::kTimerSignal});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(p.status().message(), HasSubstr("CPU time only"));
  p = Profiler::Create({.off_cpu = true, .sampler = Sampler::kTimerSignal});
  EXPECT_THAT(p.status().message(), HasSubstr("off-CPU"));
  p = Profiler::Create({.target = {.pids = {1}}, .sampler = Sampler::kTimerSignal});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProfilerTest, OneTimerSamplerAtATimeAndTheSignalMustBeFree) {
  absl::StatusOr<std::unique_ptr<Profiler>> first =
      Profiler::Create({.sampler = Sampler::kTimerSignal});
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Start().ok());
  absl::StatusOr<std::unique_ptr<Profiler>> second =
      Profiler::Create({.sampler = Sampler::kTimerSignal});
  ASSERT_TRUE(second.ok());
  absl::Status s = (*second)->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("already has a handler"));
  EXPECT_TRUE((*first)->Finish().ok());

  struct sigaction mine = {};
  mine.sa_handler = [](int) {};
  struct sigaction previous = {};
  sigaction(SIGUSR2, &mine, &previous);
  absl::StatusOr<std::unique_ptr<Profiler>> third =
      Profiler::Create({.sampler = Sampler::kTimerSignal, .signal = SIGUSR2});
  ASSERT_TRUE(third.ok());
  s = (*third)->Start();
  EXPECT_THAT(s.message(), HasSubstr("already has a handler"));
  sigaction(SIGUSR2, &previous, nullptr);
}

TEST(ProfilerTest, WritesEveryFormatAndTheRecordingFile) {
  const std::string dir = ::testing::TempDir() + "/profiler_formats";
  mkdir(dir.c_str(), 0755);
  absl::StatusOr<std::unique_ptr<Profiler>> profiler = Profiler::Create(
      {.frequency = 499, .output = dir + "/self.data", .sampler = Sampler::kTimerSignal});
  ASSERT_TRUE(profiler.ok()) << profiler.status();
  ASSERT_TRUE((*profiler)->Start().ok());
  workload_run(0.5);
  absl::StatusOr<Profile> profile = (*profiler)->Stop();
  ASSERT_TRUE(profile.ok()) << profile.status();

  profile::ReadReport report;
  absl::StatusOr<profile::Recording> file = profile::ReadRecording(dir + "/self.data", &report);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(report.complete);
  EXPECT_EQ(file->events.size(), profile->recording().events.size());

  for (const char* name : {"g.html", "g.svg", "f.folded", "p.pb.gz", "s.json", "copy.data"}) {
    const std::string path = dir + "/" + name;
    absl::Status s = std::string(name) == "f.folded"    ? profile->WriteFolded(path)
                     : std::string(name) == "p.pb.gz"   ? profile->WritePprof(path)
                     : std::string(name) == "s.json"    ? profile->WriteSpeedscope(path)
                     : std::string(name) == "copy.data" ? profile->WriteRecording(path)
                                                        : profile->WriteFlameGraph(path);
    ASSERT_TRUE(s.ok()) << name << ": " << s;
    struct stat st = {};
    ASSERT_EQ(stat(path.c_str(), &st), 0) << name;
    EXPECT_GT(st.st_size, 100) << name;
  }
  std::ifstream folded(dir + "/f.folded");
  std::stringstream text;
  text << folded.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("one_round;hot_a "));
  std::ifstream svg(dir + "/g.svg");
  std::string first_line;
  std::getline(svg, first_line);
  EXPECT_THAT(first_line, HasSubstr("<?xml"));
  std::ostringstream out;
  profile->WriteReport(out);
  EXPECT_THAT(out.str(), HasSubstr("hot_a"));
}

TEST(ProfilerTest, LifecycleErrors) {
  absl::StatusOr<std::unique_ptr<Profiler>> profiler =
      Profiler::Create({.sampler = Sampler::kTimerSignal});
  ASSERT_TRUE(profiler.ok());
  EXPECT_EQ((*profiler)->Finish().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*profiler)->Start().ok());
  EXPECT_EQ((*profiler)->Start().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*profiler)->Finish().ok());
  EXPECT_TRUE((*profiler)->Finish().ok());  // idempotent
  // Destroyed while running: stops and finishes on its own.
  absl::StatusOr<std::unique_ptr<Profiler>> dropped =
      Profiler::Create({.sampler = Sampler::kTimerSignal});
  ASSERT_TRUE(dropped.ok());
  ASSERT_TRUE((*dropped)->Start().ok());
  dropped->reset();
}

}  // namespace
}  // namespace dprof
