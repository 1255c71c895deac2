// Recording real programs into files with the Recorder, on real perf_event: the file holds what
// the tracer saw, and a recorder killed mid-recording leaves a readable file.
#include "dprof/profile/recorder.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "dprof/profile/recording_reader.h"
#include "dprof/tracer/tracer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::profile {
namespace {

using ::testing::HasSubstr;
using testing::SampleProgram;

class RecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dprof-recorder-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

// Records `command` into `path` until it exits.
absl::Status Record(const std::vector<std::string>& command, const std::string& path,
                    Recorder::Options options, event::TracerStats* stats) {
  // The tracer needs its sink first, the recorder the tracer's depot: the depot is made here.
  absl::StatusOr<std::unique_ptr<stackdepot::Depot>> depot = stackdepot::Depot::Create({});
  if (!depot.ok()) return depot.status();
  absl::StatusOr<std::unique_ptr<Recorder>> recorder = Recorder::Create(
      path, depot->get(), {{"command", command[0]}}, {"cpu-clock", "off-cpu"}, options);
  if (!recorder.ok()) return recorder.status();
  absl::StatusOr<std::unique_ptr<tracer::Tracer>> t = tracer::Tracer::Create(
      {.target = {.command = command}, .off_cpu = true, .depot = depot->get()}, recorder->get());
  if (!t.ok()) return t.status();
  if (absl::Status s = (*t)->Start(); !s.ok()) return s;
  if (absl::Status s = (*t)->Run(std::chrono::seconds(60)); !s.ok()) return s;
  *stats = (*t)->Stats();
  return (*recorder)->Finish(CountersOf(*stats), /*symbolizer=*/nullptr);
}

// kill -9 in the middle: the file reads back up to its last chunk, and says it was cut short.
// (First in the file: it forks while this process has no threads yet.)
TEST_F(RecorderTest, KilledRecordingIsReadableUpToItsLastChunk) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string path = Path("killed.dprof");
  const pid_t recorder = fork();
  ASSERT_GE(recorder, 0);
  if (recorder == 0) {
    event::TracerStats stats;
    (void)Record({SampleProgram("cpu_bound", "nofp"), "3"}, path, {.flush_interval_ns = 50'000'000},
                 &stats);
    _exit(1);  // not reached: killed first
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(kill(recorder, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(recorder, &status, 0), recorder);
  ASSERT_TRUE(WIFSIGNALED(status));

  ReadReport report;
  absl::StatusOr<Recording> r = ReadRecording(path, &report);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(report.complete);
  EXPECT_THAT(report.Summary(), HasSubstr("recovered"));
  EXPECT_GT(r->events.size(), 300u) << report.Summary();
  for (const Event& e : r->events) {
    if (e.kernel_stack != kNoStack) {
      ASSERT_NE(r->Stack(e.kernel_stack), nullptr);
    }
  }
}

TEST_F(RecorderTest, TheFileHoldsWhatTheTracerSaw) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  event::TracerStats stats;
  const std::string program = SampleProgram("threads", "nofp");
  const absl::Status recorded =
      Record({program, "2", "300"}, Path("t.dprof"), {.flush_events = 256}, &stats);
  ASSERT_TRUE(recorded.ok()) << recorded.ToString();
  ReadReport report;
  absl::StatusOr<Recording> r = ReadRecording(Path("t.dprof"), &report);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(report.complete) << report.Summary();
  EXPECT_GT(report.chunks, 10u) << "written as it ran, in many chunks";
  EXPECT_EQ(r->metadata["command"], program);

  uint64_t samples = 0, off_cpu = 0, stitched = 0, deferred = 0;
  for (const Event& e : r->events) {
    if (e.kind == event::EventKind::kSample) ++samples;
    if (e.kind == event::EventKind::kOffCpu) ++off_cpu;
    if (e.kernel_stack != kNoStack) {
      ASSERT_NE(r->Stack(e.kernel_stack), nullptr);
    }
    if (e.user == event::UserStack::kDeferred) {
      ++deferred;
      auto it = r->user_stacks.find(e.cookie);
      if (it != r->user_stacks.end() && r->Stack(it->second.stack) != nullptr) ++stitched;
    }
  }
  EXPECT_EQ(samples, stats[event::TracerStat::kSamples]);
  EXPECT_EQ(off_cpu, stats[event::TracerStat::kOffCpuIntervals]);
  EXPECT_GT(samples, 300u);
  EXPECT_EQ(stitched, deferred) << "every cookie's user stack is in the file";
  EXPECT_EQ(r->counters["samples"], samples);
  EXPECT_EQ(r->counters["engine.jobs"], stats.engine[unwind::EngineStat::kJobs]);

  std::set<std::string> comms, paths;
  for (const ThreadName& t : r->threads) comms.insert(t.comm);
  for (const Mapping& m : r->mappings) paths.insert(m.path);
  EXPECT_THAT(comms, ::testing::IsSupersetOf({"threads_nofp", "worker-0", "worker-1"}));
  EXPECT_TRUE(paths.contains(std::filesystem::canonical(program).string()));
  EXPECT_GE(r->tasks.size(), 3u) << "two threads and a child forked";
}

}  // namespace
}  // namespace dprof::profile
