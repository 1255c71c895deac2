#include "dprof/rcu/grace_period.h"

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "dprof/rcu/rcu.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"

namespace dprof::rcu {
namespace {

using testing::Eventually;

// A thread that sits inside a read-side section until told to leave. (std::latch rather than
// absl::Notification: TSan sees the former's synchronization, not the latter's.)
class Reader {
 public:
  Reader()
      : thread_([this] {
          ReadLock rcu;
          EXPECT_TRUE(InReadSection());
          inside_.count_down();
          leave_.wait();
        }) {
    inside_.wait();
  }
  ~Reader() {
    if (thread_.joinable()) Leave();  // a failed assertion returned early
  }
  void Leave() {
    leave_.count_down();
    thread_.join();
  }

 private:
  std::latch inside_{1};
  std::latch leave_{1};
  std::thread thread_;
};

TEST(GracePeriodTrackerTest, StartedStateCompletesAfterAGracePeriod) {
  GracePeriodTracker tracker;
  const GracePeriodTracker::State before = tracker.completed();
  const GracePeriodTracker::State state = tracker.Start();
  EXPECT_EQ(state, before + 1);
  tracker.Wait(state);
  EXPECT_TRUE(tracker.Poll(state));
  EXPECT_EQ(tracker.completed(), state);
}

TEST(GracePeriodTrackerTest, ReaderInsideBlocksCompletion) {
  GracePeriodTracker tracker;
  Reader reader;
  const GracePeriodTracker::State state = tracker.Start();
  // However long we look, the grace period cannot end while the reader is inside.
  for (int i = 0; i < 50; ++i) {
    ASSERT_FALSE(tracker.Poll(state));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  reader.Leave();
  EXPECT_TRUE(Eventually([&] { return tracker.Poll(state); }));
}

TEST(GracePeriodTrackerTest, StartWhileInFlightNeedsTheNextGracePeriod) {
  GracePeriodTracker tracker;
  Reader a;  // holds open the grace period `first` waits for
  const GracePeriodTracker::State first = tracker.Start();
  // Give liburcu time to begin that grace period, so that it usually does not wait for b.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Reader b;
  const GracePeriodTracker::State second = tracker.Start();
  EXPECT_EQ(second, first + 1);
  EXPECT_EQ(tracker.Start(), second);  // one more grace period serves every later caller
  a.Leave();
  // The grace period in flight when `second` was taken may end now, but it may have begun before
  // that Start(): `second` needs one that began after, and b holds that one open. (When liburcu
  // began the first one late, it waits for b as well; `first` then completes with `second`.)
  int completed_early = 0;
  for (int i = 0; i < 1000 && !tracker.Poll(first); ++i) {
    completed_early += tracker.Poll(second);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (int i = 0; i < 25; ++i) {
    completed_early += tracker.Poll(second);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(completed_early, 0);
  b.Leave();
  tracker.Wait(second);
  EXPECT_TRUE(tracker.Poll(first));
}

TEST(GracePeriodTrackerTest, SynchronizeWaitsForReaders) {
  Reader reader;
  std::latch calling(1);
  std::atomic<bool> returned{false};
  std::thread writer([&] {
    calling.count_down();
    Synchronize();
    returned.store(true);
  });
  calling.wait();
  // The writer is about to wait or already waiting; it cannot return while the reader is inside.
  int returned_early = 0;
  for (int i = 0; i < 50; ++i) {
    returned_early += returned.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  reader.Leave();
  writer.join();
  EXPECT_EQ(returned_early, 0);
  EXPECT_TRUE(returned.load());
}

TEST(GracePeriodTrackerTest, ReadSectionsNest) {
  EXPECT_FALSE(InReadSection());
  {
    ReadLock outer;
    {
      ReadLock inner;
      EXPECT_TRUE(InReadSection());
    }
    EXPECT_TRUE(InReadSection());
  }
  EXPECT_FALSE(InReadSection());
}

TEST(GracePeriodTrackerTest, DestroyWithCallbackInFlight) {
  for (int i = 0; i < 100; ++i) {
    GracePeriodTracker tracker;
    tracker.Start();
    tracker.Start();
  }
}

TEST(GracePeriodTrackerTest, ManyThreadsStartAndWait) {
  GracePeriodTracker tracker;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        { ReadLock rcu; }
        const GracePeriodTracker::State state = tracker.Start();
        tracker.Wait(state);
        EXPECT_TRUE(tracker.Poll(state));
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace
}  // namespace dprof::rcu
