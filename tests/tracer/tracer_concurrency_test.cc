// The tracer's threads together, for ThreadSanitizer: the reader thread parsing real perf_event
// records, unwind workers delivering user stacks into the sink at the same time, another thread
// reading statistics throughout, and a third stopping the recording while the target runs.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "dprof/tracer/tracer.h"
#include "gtest/gtest.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::tracer {
namespace {

using testing::CollectingSink;
using testing::SampleProgram;

TEST(TracerConcurrencyTest, WorkersStatsAndStopRaceTheReader) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  CollectingSink sink;
  // Threads created and finished while recorded, each spinning, then a child process: samples,
  // switches, forks, exits and mmaps all at once, unwound by two workers.
  absl::StatusOr<std::unique_ptr<Tracer>> created =
      Tracer::Create({.target = {.command = {SampleProgram("threads", "nofp"), "8", "400"}},
                      .off_cpu = true,
                      .unwind_workers = 2},
                     &sink);
  ASSERT_TRUE(created.ok()) << created.status();
  Tracer& tracer = **created;
  ASSERT_TRUE(tracer.Start().ok());

  std::atomic<bool> done{false};
  std::vector<uint64_t> samples_seen;
  std::thread watcher([&] {
    // Stats() from another thread while the reader and the workers update them.
    while (!done.load(std::memory_order_acquire)) {
      const event::TracerStats s = tracer.Stats();
      samples_seen.push_back(s[event::TracerStat::kSamples]);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::thread stopper([&] {
    // Stops the recording in the middle of the threads' work (the program needs ~1.5 s).
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    tracer.RequestStop();
  });
  const absl::Status run = tracer.Run(std::chrono::seconds(60));
  stopper.join();
  done.store(true, std::memory_order_release);
  watcher.join();
  ASSERT_TRUE(run.ok()) << run;

  // The command was stopped, not left running or reported as finished.
  EXPECT_TRUE(tracer.ExitStatus().exited);
  EXPECT_EQ(tracer.ExitStatus().signal, SIGTERM);
  // Counters only grow.
  ASSERT_GT(samples_seen.size(), 10u);
  EXPECT_TRUE(std::is_sorted(samples_seen.begin(), samples_seen.end()));

  // Every cookie an event asked a user stack for was unwound once and delivered once, by
  // whichever worker took it; Run() returned only after the last delivery.
  const event::TracerStats stats = tracer.Stats();
  std::set<cookie::Cookie> cookies;
  std::set<uint32_t> tids;
  for (const event::TraceEvent& e : sink.events) {
    tids.insert(e.tid);
    if (e.user == event::UserStack::kDeferred) cookies.insert(e.cookie);
  }
  EXPECT_GE(tids.size(), 3u) << "main and the first threads ran before the stop";
  ASSERT_FALSE(cookies.empty());
  EXPECT_EQ(stats.engine[unwind::EngineStat::kJobs], cookies.size());
  // (Snapshots the queue had no room for, with nine threads busy on this machine, are counted and
  // their events marked kDropped.)
  for (cookie::Cookie c : cookies) {
    ASSERT_EQ(sink.deliveries[c], 1) << "cookie " << c;
  }
  EXPECT_EQ(sink.deliveries.size(), cookies.size());
  EXPECT_EQ(stats[event::TracerStat::kSamples],
            static_cast<uint64_t>(std::count_if(
                sink.events.begin(), sink.events.end(),
                [](const event::TraceEvent& e) { return e.kind == event::EventKind::kSample; })));
}

}  // namespace
}  // namespace dprof::tracer
