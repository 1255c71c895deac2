// Races and stress for the stack depot. Built and run under ThreadSanitizer and AddressSanitizer
// by scripts/test.sh as well as in the normal build.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <latch>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "dprof/rcu/rcu.h"
#include "dprof/stackdepot/depot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/stackdepot/depot_testing.h"
#include "tests/testing/eventually.h"

namespace dprof::stackdepot {
namespace {

using ::testing::ElementsAreArray;

using testing::MakeDepot;
using testing::Same;
using testing::Trace;

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ull + 1) {}
  uint64_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }

 private:
  uint64_t state_;
};

// The race a grace period prevents: a reader that found a record keeps reading it while another
// thread drops the last reference. Its memory must not be handed to a new trace until the reader
// has left its read-side section.
TEST(DepotConcurrencyTest, FreedRecordIsNotReusedWhileAReaderIsInside) {
  // One pool, filled up, so the only room for a new trace is a freed record.
  auto depot = MakeDepot({.pool_bytes = 4096, .max_bytes = 4096});
  std::vector<Handle> handles;
  for (uint64_t s = 0;; ++s) {
    const Handle h = depot->Save(Trace(s, 16), kGet | kCanAlloc);
    if (h == kNoHandle) break;
    handles.push_back(h);
  }
  ASSERT_GT(handles.size(), 1u);
  const Handle victim = handles[0];
  const std::vector<uint64_t> victim_trace = Trace(0, 16);

  std::latch inside(1);
  std::atomic<bool> leave{false};
  std::atomic<int> torn_reads{0};
  std::thread reader([&] {
    rcu::ReadLock rcu;
    const std::span<const uint64_t> frames = depot->Fetch(victim);
    inside.count_down();
    while (!leave.load()) {
      if (!Same(frames, victim_trace)) torn_reads.fetch_add(1);
    }
  });
  inside.wait();

  depot->Put(victim);
  int reused_early = 0, reusable_early = 0;
  for (uint64_t s = 1000; s < 1050; ++s) {
    reused_early += depot->Save(Trace(s, 16), kGet | kCanAlloc) != kNoHandle;
    const DepotStats stats = depot->Stats();
    reusable_early += stats[Stat::kFreedPending] != 1 || stats[Stat::kReusable] != 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  leave.store(true);
  reader.join();
  EXPECT_EQ(reused_early, 0) << "the freed record was reused while a reader was inside";
  EXPECT_EQ(reusable_early, 0) << "the freed record counted reusable while a reader was inside";
  EXPECT_EQ(torn_reads.load(), 0);

  ASSERT_TRUE(testing::Eventually([&] { return depot->Stats()[Stat::kReusable] == 1; }));
  const Handle reused = depot->Save(Trace(2000, 16), kGet | kCanAlloc);
  EXPECT_EQ(reused, victim);
  EXPECT_THAT(depot->Fetch(reused), ElementsAreArray(Trace(2000, 16)));
}

TEST(DepotConcurrencyTest, ConcurrentSavesOfOneNewTraceYieldOneRecord) {
  constexpr int kThreads = 4;
  constexpr int kTraces = 200;
  for (int round = 0; round < 20; ++round) {
    auto depot = MakeDepot();
    std::vector<std::vector<Handle>> got(kThreads, std::vector<Handle>(kTraces));
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int i = 0; i < kTraces; ++i) {
          const SaveFlags flags = (t % 2 == 0) ? kCanAlloc : (kGet | kCanAlloc);
          got[t][i] = depot->Save(Trace(round * kTraces + i, 1 + i % 24), flags);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (int i = 0; i < kTraces; ++i) {
      ASSERT_NE(got[0][i], kNoHandle);
      for (int t = 1; t < kThreads; ++t) ASSERT_EQ(got[t][i], got[0][i]) << "trace " << i;
    }
    const DepotStats stats = depot->Stats();
    EXPECT_EQ(stats[Stat::kMisses], static_cast<uint64_t>(kTraces));
    EXPECT_EQ(stats[Stat::kRecordsInUse], static_cast<uint64_t>(kTraces));
  }
}

uint64_t StressOps() {
  const char* env = std::getenv("DPROF_STRESS_OPS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 10'000'000;
}

uint32_t WeakHash(std::span<const uint64_t> frames) {
  return static_cast<uint32_t>((frames[0] >> 16) & 63);  // 64 hashes: long chains, many collisions
}

enum class Room {
  kAmple,  // the depot never fills: every save must succeed
  kTight,  // freed records waiting for a grace period may fill it: saves may fail, but only as
           // counted capacity failures
};

// Two writers churn counted references (save, hold a while, put: records are evicted and their
// memory reused); two readers look up and verify pinned traces and take short references on the
// writers' traces. Every fetch must return exactly the trace saved under that handle.
void RunMixedStress(const Options& options, uint64_t total_ops, Room room) {
  constexpr int kWriters = 2, kReaders = 2;
  constexpr size_t kChurnTraces = 4096, kPinnedTraces = 512, kHeld = 32;
  std::vector<std::vector<uint64_t>> churn, pinned;
  for (size_t i = 0; i < kChurnTraces; ++i) churn.push_back(Trace(i, 1 + i % 48));
  for (size_t i = 0; i < kPinnedTraces; ++i) pinned.push_back(Trace(100000 + i, 2 + i % 30));

  auto depot = MakeDepot(options);
  std::vector<std::atomic<Handle>> pinned_handle(kPinnedTraces);
  std::atomic<uint64_t> bad_fetches{0}, unstable_handles{0}, failed_saves{0};
  const uint64_t ops_per_thread = total_ops / (kWriters + kReaders);
  std::latch start(kWriters + kReaders);
  std::atomic<int> remaining{kWriters + kReaders};  // threads still running

  // Saves `trace`; counts a failure, or checks that the handle fetches exactly `trace`.
  auto save_and_check = [&](const std::vector<uint64_t>& trace, SaveFlags flags) {
    const Handle h = depot->Save(trace, flags);
    if (h == kNoHandle) {
      failed_saves.fetch_add(1);
    } else if (!Same(depot->Fetch(h), trace)) {
      bad_fetches.fetch_add(1);
    }
    return h;
  };
  struct Held {
    Handle handle = kNoHandle;
    size_t trace = 0;
  };
  // Held all along while others churned: still exactly its trace. Then let go.
  auto check_and_put = [&](const Held& held) {
    if (!Same(depot->Fetch(held.handle), churn[held.trace])) bad_fetches.fetch_add(1);
    depot->Put(held.handle);
  };

  auto writer = [&](int id) {
    Rng rng(id);
    Held held[kHeld];
    start.arrive_and_wait();
    for (uint64_t ops = 0; ops < ops_per_thread; ops += 6) {
      const size_t i = rng.Next() % kChurnTraces;
      const Handle h = save_and_check(churn[i], kGet | kCanAlloc);
      if (h == kNoHandle) continue;
      // While we hold a reference the record cannot go away, so the trace's handle is stable.
      const Handle again = depot->Save(churn[i], kGet);
      if (again != h) unstable_handles.fetch_add(1);
      depot->Put(again);
      Held& slot = held[rng.Next() % kHeld];
      if (slot.handle != kNoHandle) check_and_put(slot);
      slot = {h, i};
    }
    for (const Held& slot : held) {
      if (slot.handle != kNoHandle) check_and_put(slot);
    }
    remaining.fetch_sub(1);
  };

  auto reader = [&](int id) {
    Rng rng(1000 + id);
    start.arrive_and_wait();
    for (uint64_t ops = 0; ops < ops_per_thread; ops += 5) {
      const size_t j = rng.Next() % kPinnedTraces;
      if (const Handle p = save_and_check(pinned[j], kCanAlloc); p != kNoHandle) {
        Handle expected = kNoHandle;
        if (!pinned_handle[j].compare_exchange_strong(expected, p) && expected != p) {
          unstable_handles.fetch_add(1);  // a pinned trace must keep its handle for good
        }
      }
      const size_t i = rng.Next() % kChurnTraces;
      if (const Handle h = save_and_check(churn[i], kGet | kCanAlloc); h != kNoHandle) {
        depot->Put(h);
      }
    }
    remaining.fetch_sub(1);
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) threads.emplace_back(writer, w);
  for (int r = 0; r < kReaders; ++r) threads.emplace_back(reader, r);

  // Meanwhile, write the depot out as a recording would, and check every record in each image
  // is exactly one of the traces the threads save: none torn by a concurrent Put() and reuse.
  std::set<std::vector<uint64_t>> known(churn.begin(), churn.end());
  known.insert(pinned.begin(), pinned.end());
  int snapshots = 0, torn_records = 0, failed_loads = 0;
  for (; snapshots < 10 && (snapshots == 0 || remaining.load() > 0); ++snapshots) {
    auto copy = MakeDepot(options);
    if (!copy->Load(depot->Serialize()).ok()) {
      ++failed_loads;
      continue;
    }
    copy->ForEach([&](Handle, std::span<const uint64_t> frames) {
      torn_records += !known.contains(std::vector<uint64_t>(frames.begin(), frames.end()));
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed_loads, 0);
  EXPECT_EQ(torn_records, 0) << "in " << snapshots << " snapshots";

  EXPECT_EQ(bad_fetches.load(), 0u);
  EXPECT_EQ(unstable_handles.load(), 0u);
  const DepotStats stats = depot->Stats();
  if (room == Room::kAmple) {
    EXPECT_EQ(failed_saves.load(), 0u);
    EXPECT_EQ(stats[Stat::kFailures], 0u);
  } else {
    EXPECT_EQ(stats[Stat::kFailures], failed_saves.load());
    EXPECT_EQ(stats[Stat::kFailCapacity], failed_saves.load());
    if (failed_saves.load() > 0) {  // only a full depot may refuse
      EXPECT_EQ(stats[Stat::kPools], options.max_bytes / options.pool_bytes);
    }
  }
  size_t pinned_saved = 0;
  for (const auto& h : pinned_handle) pinned_saved += h.load() != kNoHandle;
  // Every counted reference was dropped: only the pinned traces remain.
  EXPECT_EQ(stats[Stat::kRecordsInUse], pinned_saved) << stats.ToString();
  EXPECT_EQ(stats[Stat::kBadHandles], 0u);
  EXPECT_GT(stats[Stat::kFreedPending] + stats[Stat::kReusable], 0u) << "nothing was evicted";
}

TEST(DepotConcurrencyTest, MixedStress) { RunMixedStress({}, StressOps(), Room::kAmple); }

TEST(DepotConcurrencyTest, MixedStressWithHashCollisions) {
  RunMixedStress({.hash = WeakHash}, StressOps() / 10, Room::kAmple);
}

TEST(DepotConcurrencyTest, MixedStressInSmallPools) {
  // 8 MiB in 4 KiB pools: the depot fills, so freed records are reused as soon as their grace
  // period allows.
  RunMixedStress({.pool_bytes = 4096, .max_bytes = 4096 * 2047}, StressOps() / 10, Room::kTight);
}

}  // namespace
}  // namespace dprof::stackdepot
