#include "dprof/stackdepot/depot.h"

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "dprof/rcu/rcu.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stackdepot/internal/record.h"
#include "tests/stackdepot/depot_testing.h"
#include "tests/testing/eventually.h"

namespace dprof::stackdepot {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using testing::MakeDepot;
using testing::Trace;

uint32_t ConstantHash(std::span<const uint64_t>) { return 42; }

TEST(DepotTest, SameTraceSameHandle) {
  auto depot = MakeDepot();
  const std::vector<uint64_t> trace = Trace(1);
  const Handle a = depot->Save(trace, kCanAlloc);
  ASSERT_NE(a, kNoHandle);
  EXPECT_EQ(depot->Save(trace, kCanAlloc), a);
  EXPECT_EQ(depot->Save(std::vector<uint64_t>(trace), 0), a);  // a copy, and no kCanAlloc needed
  EXPECT_THAT(depot->Fetch(a), ElementsAreArray(trace));
  const DepotStats stats = depot->Stats();
  EXPECT_EQ(stats[Stat::kMisses], 1u);
  EXPECT_EQ(stats[Stat::kHits], 2u);
  EXPECT_EQ(stats[Stat::kRecordsInUse], 1u);
}

TEST(DepotTest, DifferentTracesDifferentHandles) {
  auto depot = MakeDepot();
  std::vector<Handle> handles;
  std::vector<std::vector<uint64_t>> traces;
  for (uint64_t s = 0; s < 1000; ++s) traces.push_back(Trace(s, 1 + s % 40));
  // Trace(7, 8) is among them; one frame longer, it is a different trace.
  traces.push_back(Trace(7, 9));
  for (const auto& t : traces) handles.push_back(depot->Save(t, kCanAlloc));
  for (size_t i = 0; i < traces.size(); ++i) {
    ASSERT_NE(handles[i], kNoHandle);
    EXPECT_THAT(depot->Fetch(handles[i]), ElementsAreArray(traces[i]));
    for (size_t j = 0; j < i; ++j) ASSERT_NE(handles[i], handles[j]);
  }
  EXPECT_EQ(depot->Stats()[Stat::kRecordsInUse], traces.size());
}

TEST(DepotTest, SameHashDifferentFramesAreDifferentRecords) {
  auto depot = MakeDepot({.hash = ConstantHash});
  const std::vector<uint64_t> a = Trace(1), b = Trace(2), c = Trace(3, 15);
  const Handle ha = depot->Save(a, kGet | kCanAlloc);
  const Handle hb = depot->Save(b, kGet | kCanAlloc);
  const Handle hc = depot->Save(c, kCanAlloc);
  EXPECT_NE(ha, hb);
  EXPECT_NE(ha, hc);
  EXPECT_NE(hb, hc);
  EXPECT_EQ(depot->Save(a, 0), ha);
  EXPECT_EQ(depot->Save(b, kGet), hb);
  EXPECT_THAT(depot->Fetch(ha), ElementsAreArray(a));
  EXPECT_THAT(depot->Fetch(hb), ElementsAreArray(b));
  EXPECT_THAT(depot->Fetch(hc), ElementsAreArray(c));
  // A lookup that collided with a and c took no reference on them: dropping b's two references
  // frees b alone.
  depot->Put(hb);
  depot->Put(hb);
  EXPECT_THAT(depot->Fetch(hb), IsEmpty());
  EXPECT_THAT(depot->Fetch(ha), ElementsAreArray(a));
  EXPECT_EQ(depot->Stats()[Stat::kRecordsInUse], 2u);
}

TEST(DepotTest, LongTracesAreCutToMaxFrames) {
  auto depot = MakeDepot({.max_frames = 8});
  const std::vector<uint64_t> trace = Trace(1, 20);
  const Handle h = depot->Save(trace, kCanAlloc);
  ASSERT_NE(h, kNoHandle);
  EXPECT_THAT(depot->Fetch(h), ElementsAreArray(trace.data(), 8));
  EXPECT_EQ(depot->Save(std::span(trace).first(8), kCanAlloc), h);
  EXPECT_EQ(depot->Stats()[Stat::kTruncated], 1u);
}

TEST(DepotTest, DefaultMaxFramesIs256) {
  auto depot = MakeDepot();
  const std::vector<uint64_t> trace = Trace(1, 300);
  EXPECT_EQ(depot->Fetch(depot->Save(trace, kCanAlloc)).size(), 256u);
  EXPECT_EQ(depot->Fetch(depot->Save(Trace(2, 256), kCanAlloc)).size(), 256u);
  EXPECT_EQ(depot->Stats()[Stat::kTruncated], 1u);
}

TEST(DepotTest, EmptyTraceIsNotStored) {
  auto depot = MakeDepot();
  EXPECT_EQ(depot->Save({}, kCanAlloc), kNoHandle);
  const DepotStats stats = depot->Stats();
  EXPECT_EQ(stats[Stat::kFailEmpty], 1u);
  EXPECT_EQ(stats[Stat::kFailures], 1u);
}

TEST(DepotTest, RecordsAreSizedByFrameCount) {
  auto depot = MakeDepot();
  depot->Save(Trace(1, 3), kCanAlloc);
  const uint64_t three = depot->Stats()[Stat::kBytesInUse];
  EXPECT_EQ(three, sizeof(internal::Record) + 3 * sizeof(uint64_t));
  depot->Save(Trace(2, 256), kCanAlloc);
  EXPECT_EQ(depot->Stats()[Stat::kBytesInUse] - three,
            sizeof(internal::Record) + 256 * sizeof(uint64_t));
}

TEST(DepotTest, HandleExtraBitsAreTheCallers) {
  auto depot = MakeDepot();
  const std::vector<uint64_t> trace = Trace(1);
  const Handle plain = depot->Save(trace, kGet | kCanAlloc);
  EXPECT_EQ(ExtraBits(plain), 0u);
  const Handle tagged = SetExtraBits(plain, 0b1010);
  EXPECT_NE(tagged, plain);
  EXPECT_EQ(ExtraBits(tagged), 0b1010u);
  EXPECT_EQ(RecordOf(tagged), plain);
  EXPECT_EQ(ExtraBits(SetExtraBits(tagged, 0b0001)), 0b0001u);
  EXPECT_EQ(SetExtraBits(kNoHandle, 0b1111), kNoHandle);
  EXPECT_THAT(depot->Fetch(tagged), ElementsAreArray(trace));
  depot->Put(tagged);  // drops the reference taken through `plain`
  EXPECT_EQ(depot->Stats()[Stat::kRecordsInUse], 0u);
}

TEST(DepotTest, CapacityExhaustionFailsCleanlyAndIsCounted) {
  auto depot = MakeDepot({.pool_bytes = 4096, .max_bytes = 8192});
  std::vector<Handle> stored;
  Handle h = kNoHandle;
  uint64_t seed = 0;
  while ((h = depot->Save(Trace(seed, 16), kCanAlloc)) != kNoHandle) {
    stored.push_back(h);
    ++seed;
    ASSERT_LT(seed, 1000u) << "two 4 KiB pools cannot hold 1000 traces";
  }
  // 4096 / (24 + 128) = 26 records per pool.
  EXPECT_EQ(stored.size(), 2u * (4096 / internal::ClassBytes(internal::SizeClassOf(16))));
  EXPECT_EQ(depot->Save(Trace(seed + 1, 16), kCanAlloc), kNoHandle);
  // Full, yet every stored trace is intact and a hit still succeeds.
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_THAT(depot->Fetch(stored[i]), ElementsAreArray(Trace(i, 16)));
  }
  EXPECT_EQ(depot->Save(Trace(0, 16), 0), stored[0]);
  const DepotStats stats = depot->Stats();
  EXPECT_EQ(stats[Stat::kFailCapacity], 2u);
  EXPECT_EQ(stats[Stat::kFailures], 2u);
  EXPECT_EQ(stats[Stat::kPools], 2u);
}

TEST(DepotTest, WithoutCanAllocOnlyExistingRoomIsUsed) {
  auto depot = MakeDepot({.pool_bytes = 4096, .max_bytes = 8192});
  EXPECT_EQ(depot->Save(Trace(0), 0), kNoHandle);
  EXPECT_EQ(depot->Stats()[Stat::kFailNoAlloc], 1u);
  ASSERT_NE(depot->Save(Trace(0), kCanAlloc), kNoHandle);
  EXPECT_NE(depot->Save(Trace(1), 0), kNoHandle);  // room left in the pool just mapped
  EXPECT_EQ(depot->Stats()[Stat::kPools], 1u);
}

TEST(DepotTest, LastPutEvicts) {
  auto depot = MakeDepot();
  const std::vector<uint64_t> trace = Trace(1);
  const Handle h = depot->Save(trace, kGet | kCanAlloc);
  EXPECT_EQ(depot->Save(trace, kGet), h);
  depot->Put(h);
  EXPECT_THAT(depot->Fetch(h), ElementsAreArray(trace));
  depot->Put(h);
  DepotStats stats = depot->Stats();
  EXPECT_EQ(stats[Stat::kRecordsInUse], 0u);
  EXPECT_EQ(stats[Stat::kFreedPending] + stats[Stat::kReusable], 1u);
  EXPECT_EQ(stats[Stat::kBytesInUse], 0u);
  EXPECT_THAT(depot->Fetch(h), IsEmpty());
  EXPECT_EQ(depot->Stats()[Stat::kBadHandles], 1u);
  // Saved again, it is a new record.
  EXPECT_NE(depot->Save(trace, kGet | kCanAlloc), kNoHandle);
  EXPECT_EQ(depot->Stats()[Stat::kMisses], 2u);
}

TEST(DepotTest, PinnedRecordsSurvivePuts) {
  auto depot = MakeDepot();
  const std::vector<uint64_t> trace = Trace(1);
  const Handle h = depot->Save(trace, kGet | kCanAlloc);
  EXPECT_EQ(depot->Save(trace, 0), h);  // pins it
  depot->Put(h);                        // drops the counted reference
  depot->Put(h);                        // unbalanced: nothing left to drop
  EXPECT_THAT(depot->Fetch(h), ElementsAreArray(trace));
  const DepotStats stats = depot->Stats();
  EXPECT_EQ(stats[Stat::kRecordsInUse], 1u);
  EXPECT_EQ(stats[Stat::kBadHandles], 1u);
}

TEST(DepotTest, BadHandlesAreRejected) {
  auto depot = MakeDepot();
  const std::vector<uint64_t> trace = Trace(1);
  const Handle h = depot->Save(trace, kGet | kCanAlloc);  // the first record: pool 0, offset 0
  ASSERT_EQ(h, internal::MakeId(0, 0));
  EXPECT_THAT(depot->Fetch(kNoHandle), IsEmpty());
  EXPECT_THAT(depot->Fetch(internal::MakeId(5, 0)), IsEmpty());     // pool never mapped
  EXPECT_THAT(depot->Fetch(internal::MakeId(2000, 0)), IsEmpty());  // beyond max_bytes
  EXPECT_THAT(depot->Fetch(internal::MakeId(0, 4096)), IsEmpty());  // room not handed out yet
  for (size_t offset = 8; offset < internal::ClassBytes(internal::SizeClassOf(16)); offset += 8) {
    EXPECT_THAT(depot->Fetch(internal::MakeId(0, offset)), IsEmpty()) << "inside the record";
    depot->Put(internal::MakeId(0, offset));  // must not touch the record's frames
  }
  depot->Put(kNoHandle);
  const uint64_t inside = internal::ClassBytes(internal::SizeClassOf(16)) / 8 - 1;
  EXPECT_EQ(depot->Stats()[Stat::kBadHandles], 4 + 2 * inside + 1);
  EXPECT_THAT(depot->Fetch(h), ElementsAreArray(trace));
  depot->Put(h);  // the one reference taken: the record goes
  EXPECT_EQ(depot->Stats()[Stat::kRecordsInUse], 0u);
}

TEST(DepotTest, ForEachVisitsEveryLiveRecordOnce) {
  auto depot = MakeDepot();
  std::map<Handle, std::vector<uint64_t>> expected;
  for (uint64_t s = 0; s < 200; ++s) {
    const bool evict = s % 5 == 0;
    const Handle h = depot->Save(Trace(s, 1 + s % 30), evict ? kGet | kCanAlloc : kCanAlloc);
    if (evict) {
      depot->Put(h);
    } else {
      expected[h] = Trace(s, 1 + s % 30);
    }
  }
  std::map<Handle, std::vector<uint64_t>> visited;
  depot->ForEach([&](Handle h, std::span<const uint64_t> frames) {
    EXPECT_TRUE(visited.emplace(h, std::vector<uint64_t>(frames.begin(), frames.end())).second)
        << "visited twice: " << h;
  });
  EXPECT_EQ(visited, expected);
}

TEST(DepotTest, SaveAndPutInsideTheCallersReadSection) {
  auto depot = MakeDepot();
  {
    // The last Put() frees under the caller's read-side section: it must stamp the record and go
    // on, not wait for a grace period the section itself holds open.
    rcu::ReadLock rcu;
    const Handle h = depot->Save(Trace(1), kGet | kCanAlloc);
    EXPECT_EQ(depot->Save(Trace(1), kGet), h);
    depot->Put(h);
    depot->Put(h);
    const DepotStats stats = depot->Stats();
    EXPECT_EQ(stats[Stat::kRecordsInUse], 0u);
    EXPECT_EQ(stats[Stat::kFreedPending], 1u);
  }
  EXPECT_TRUE(testing::Eventually([&] { return depot->Stats()[Stat::kReusable] == 1; }));
}

TEST(DepotTest, FreedRecordIsReusedAfterTheGracePeriod) {
  auto depot = MakeDepot({.pool_bytes = 4096, .max_bytes = 4096});
  const Handle first = depot->Save(Trace(1), kGet | kCanAlloc);
  depot->Put(first);
  // Nobody is reading, so the grace period ends by itself.
  ASSERT_TRUE(testing::Eventually([&] { return depot->Stats()[Stat::kReusable] == 1; }));
  // Reclaimed: neither the old handle nor one into its frames names anything.
  EXPECT_THAT(depot->Fetch(first), IsEmpty());
  EXPECT_THAT(depot->Fetch(first + 4), IsEmpty());
  // Same size class: the freed record's place, hence its handle.
  const Handle second = depot->Save(Trace(2), kCanAlloc);
  EXPECT_EQ(second, first);
  EXPECT_THAT(depot->Fetch(second), ElementsAreArray(Trace(2)));
}

TEST(DepotTest, StatsPrintEveryCounter) {
  auto depot = MakeDepot();
  depot->Save(Trace(1), kCanAlloc);
  const std::string text = depot->Stats().ToString();
  for (int i = 0; i < kNumStats; ++i) {
    EXPECT_THAT(text, HasSubstr(std::string(StatName(static_cast<Stat>(i))) + " "));
  }
  EXPECT_THAT(text, HasSubstr("misses 1\n"));
}

TEST(DepotTest, CreateRejectsBadOptions) {
  auto error = [](const Options& o) { return std::string(Depot::Create(o).status().message()); };
  EXPECT_THAT(error({.max_frames = 0}), HasSubstr("max_frames 0"));
  EXPECT_THAT(error({.max_frames = 70000}), HasSubstr("max_frames 70000"));
  EXPECT_THAT(error({.pool_bytes = 5000}), HasSubstr("pool_bytes 5000"));
  EXPECT_THAT(error({.pool_bytes = 2 << 20}), HasSubstr("pool_bytes"));
  EXPECT_THAT(error({.max_frames = 1000, .pool_bytes = 4096}), HasSubstr("raise pool_bytes"));
  EXPECT_THAT(error({.pool_bytes = 4096, .max_bytes = 4096 * 4096}), HasSubstr("max_bytes"));
  EXPECT_THAT(error({.max_bytes = 1000}), HasSubstr("max_bytes"));
  EXPECT_THAT(error({.table_bits = 40}), HasSubstr("table_bits 40"));
  EXPECT_TRUE(Depot::Create({}).ok());
}

}  // namespace
}  // namespace dprof::stackdepot
