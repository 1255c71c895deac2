// The timer sampler with threads coming and going, for ThreadSanitizer and AddressSanitizer: the
// signal handler filling buffers on every sampled thread, the reader draining them and arming
// timers for new threads while old ones exit (their slots reused), the unwind workers delivering
// into the sink, another thread reading statistics, and a stop from a third.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "dprof/tracer/timer_sampler.h"
#include "gtest/gtest.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::tracer {
namespace {

using testing::CollectingSink;

// Burns `ms` milliseconds of this thread's CPU time.
void Spin(int ms) {
  timespec start, now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  volatile uint64_t x = 1;
  do {
    for (int i = 0; i < 10000; ++i) x = x * 6364136223846793005ull + 1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
}

TEST(TimerSamplerConcurrencyTest, ThreadsComeAndGoWhileSampled) {
  CollectingSink sink;
  // Few slots and buffers: slots are reused and full buffers drop samples (counted).
  absl::StatusOr<std::unique_ptr<TimerSampler>> created =
      TimerSampler::Create({.frequency = 1000,
                            .max_threads = 6,
                            .buffers_per_thread = 2,
                            .thread_scan_interval = std::chrono::milliseconds(10)},
                           &sink);
  ASSERT_TRUE(created.ok()) << created.status();
  TimerSampler& sampler = **created;

  std::atomic<pid_t> reader_tid{0};
  absl::Status started, run;
  std::atomic<bool> running{false};
  std::thread reader([&] {
    reader_tid = gettid();
    started = sampler.Start();
    running.store(true, std::memory_order_release);
    if (started.ok()) run = sampler.Run(std::chrono::seconds(30));
  });
  while (!running.load(std::memory_order_acquire)) std::this_thread::yield();
  ASSERT_TRUE(started.ok()) << started;

  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load(std::memory_order_acquire)) {
      (void)sampler.Stats();
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  // Waves of short-lived threads, more at once than there are slots.
  for (int wave = 0; wave < 12; ++wave) {
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) threads.emplace_back(Spin, 60);
    Spin(20);
    for (std::thread& t : threads) t.join();
  }
  sampler.RequestStop();
  reader.join();
  done.store(true, std::memory_order_release);
  watcher.join();
  ASSERT_TRUE(run.ok()) << run;

  const event::TracerStats stats = sampler.Stats();
  EXPECT_GT(stats[event::TracerStat::kSamples], 50u);
  EXPECT_EQ(stats[event::TracerStat::kSamples], sink.events.size());
  EXPECT_GT(stats[event::TracerStat::kThreadsNotSampled], 0u);  // 8 at once, 6 slots
  std::set<uint32_t> tids;
  for (const event::TraceEvent& e : sink.events) {
    tids.insert(e.tid);
    EXPECT_NE(static_cast<pid_t>(e.tid), reader_tid.load());
    EXPECT_TRUE(e.user_mode);
  }
  EXPECT_GT(tids.size(), 6u) << "slots of exited threads were reused";
  // Every deferred stack was delivered, once.
  for (const event::TraceEvent& e : sink.events) {
    if (e.user != event::UserStack::kDeferred) continue;
    auto it = sink.deliveries.find(e.cookie);
    ASSERT_NE(it, sink.deliveries.end()) << "cookie " << e.cookie << " never delivered";
    EXPECT_EQ(it->second, 1);
  }
  struct sigaction now = {};
  sigaction(SIGPROF, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

TEST(TimerSamplerConcurrencyTest, RunsOnceAndLeavesNothingArmed) {
  CollectingSink sink;
  absl::StatusOr<std::unique_ptr<TimerSampler>> created = TimerSampler::Create({}, &sink);
  ASSERT_TRUE(created.ok()) << created.status();
  std::thread busy(Spin, 100);  // a thread to sample
  ASSERT_TRUE((*created)->Start().ok());
  EXPECT_TRUE((*created)->Run(std::chrono::milliseconds(50)).ok());
  // The timers are gone and the signal's default action is back: a second Run() is refused
  // rather than arm timers whose signal would now end the process.
  EXPECT_EQ((*created)->Run(std::chrono::milliseconds(10)).code(),
            absl::StatusCode::kFailedPrecondition);
  busy.join();
  struct sigaction now = {};
  sigaction(SIGPROF, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

}  // namespace
}  // namespace dprof::tracer
