#include <cstring>
#include <memory>
#include <vector>

#include "dprof/stackdepot/depot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stackdepot/internal/record.h"
#include "tests/stackdepot/depot_testing.h"

namespace dprof::stackdepot {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

using testing::MakeDepot;
using testing::Same;
using testing::Trace;

struct Saved {
  Handle handle;
  std::vector<uint64_t> trace;
};

// A depot with traces over several pools, some evicted, some pinned, some counted.
std::vector<Saved> Fill(Depot& depot, std::vector<Saved>* evicted = nullptr) {
  std::vector<Saved> live;
  for (uint64_t s = 0; s < 300; ++s) {
    std::vector<uint64_t> trace = Trace(s, 1 + s % 70);
    const bool counted = s % 3 == 0;
    const Handle h = depot.Save(trace, counted ? kGet | kCanAlloc : kCanAlloc);
    EXPECT_NE(h, kNoHandle);
    if (counted && s % 2 == 0) {
      depot.Put(h);
      if (evicted != nullptr) evicted->push_back({h, trace});
    } else {
      live.push_back({h, std::move(trace)});
    }
  }
  return live;
}

constexpr Options kSmallPools = {.pool_bytes = 8192, .max_bytes = 8192 * 64};

TEST(DepotImageTest, RoundTripKeepsHandles) {
  auto depot = MakeDepot(kSmallPools);
  std::vector<Saved> evicted;
  const std::vector<Saved> live = Fill(*depot, &evicted);
  ASSERT_GT(depot->Stats()[Stat::kPools], 2u);
  const std::string image = depot->Serialize();

  auto loaded = MakeDepot(kSmallPools);
  ASSERT_TRUE(loaded->Load(image).ok());
  for (const Saved& s : live) {
    EXPECT_THAT(loaded->Fetch(s.handle), ElementsAreArray(s.trace));
    EXPECT_EQ(loaded->Save(s.trace, 0), s.handle);  // found, not stored again
  }
  // An evicted record is not in the image. Its handle names a gap (no record) or, if a later trace
  // reused its place, that trace; never the evicted one.
  for (const Saved& s : evicted) {
    EXPECT_FALSE(Same(loaded->Fetch(s.handle), s.trace));
  }
  EXPECT_EQ(loaded->Stats()[Stat::kRecordsInUse], live.size());
  EXPECT_EQ(loaded->Stats()[Stat::kMisses], 0u);
  // The loaded depot keeps working: a new trace gets a new handle, the image round-trips again.
  const std::vector<uint64_t> fresh = Trace(9999, 12);
  const Handle h = loaded->Save(fresh, kCanAlloc);
  ASSERT_NE(h, kNoHandle);
  for (const Saved& s : live) ASSERT_NE(s.handle, h);
  auto again = MakeDepot(kSmallPools);
  ASSERT_TRUE(again->Load(loaded->Serialize()).ok());
  EXPECT_THAT(again->Fetch(h), ElementsAreArray(fresh));
}

TEST(DepotImageTest, EmptyDepotRoundTrips) {
  auto depot = MakeDepot();
  auto loaded = MakeDepot();
  ASSERT_TRUE(loaded->Load(depot->Serialize()).ok());
  EXPECT_EQ(loaded->Stats()[Stat::kRecordsInUse], 0u);
}

TEST(DepotImageTest, LoadNeedsAnEmptyDepotWithTheSamePoolSize) {
  auto depot = MakeDepot(kSmallPools);
  Fill(*depot);
  const std::string image = depot->Serialize();
  absl::Status status = depot->Load(image);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("empty depot"));

  auto other = MakeDepot({.pool_bytes = 4096, .max_bytes = 4096 * 64});
  status = other->Load(image);
  EXPECT_THAT(status.message(), HasSubstr("8192-byte pools"));
  EXPECT_THAT(status.message(), HasSubstr("pool_bytes = 8192"));
}

TEST(DepotImageTest, EveryTruncationIsRejectedAndLeavesTheDepotEmpty) {
  auto depot = MakeDepot(kSmallPools);
  Fill(*depot);
  const std::string image = depot->Serialize();
  auto loaded = MakeDepot(kSmallPools);
  for (size_t cut = 0; cut < image.size(); cut += (cut < 256 ? 1 : 97)) {
    const absl::Status status = loaded->Load(std::string_view(image).substr(0, cut));
    ASSERT_FALSE(status.ok()) << "accepted an image cut at " << cut;
    ASSERT_THAT(status.message(), HasSubstr("stack depot image")) << status;
    ASSERT_EQ(loaded->Stats()[Stat::kRecordsInUse], 0u);
    ASSERT_EQ(loaded->Stats()[Stat::kPools], 0u);
  }
  EXPECT_TRUE(loaded->Load(image).ok());  // the failed loads left it usable
}

// Overwrites the little-endian u32 at `offset`.
std::string Patch32(std::string image, size_t offset, uint32_t value) {
  std::memcpy(image.data() + offset, &value, sizeof(value));
  return image;
}

TEST(DepotImageTest, CorruptImagesAreRejectedWithTheReason) {
  auto depot = MakeDepot(kSmallPools);
  const Handle a = depot->Save(Trace(1, 4), kCanAlloc);
  const Handle b = depot->Save(Trace(2, 4), kCanAlloc);
  ASSERT_LT(a, b);
  const std::string image = depot->Serialize();
  constexpr size_t kFirstRecord = 16;
  constexpr size_t kRecordBytes = 8 + 4 * 8;
  auto error = [](std::string_view bytes) {
    auto fresh = MakeDepot(kSmallPools);
    return std::string(fresh->Load(bytes).message());
  };
  EXPECT_THAT(error("not a depot image at all"), HasSubstr("bad magic"));
  EXPECT_THAT(error(Patch32(image, 4, 7)), HasSubstr("version 7"));
  EXPECT_THAT(error(Patch32(image, 4, 1 | (1 << 16))), HasSubstr("reserved 1"));
  EXPECT_THAT(error(image + "x"), HasSubstr("1 bytes follow"));
  EXPECT_THAT(error(Patch32(image, 12, 3)), HasSubstr("record 3 of 3"));
  EXPECT_THAT(error(Patch32(image, kFirstRecord + 4, 0)), HasSubstr("has 0 frames"));
  EXPECT_THAT(error(Patch32(image, kFirstRecord + 4, 100000)), HasSubstr("has 100000 frames"));
  // Second record given the first one's handle: out of order.
  EXPECT_THAT(error(Patch32(image, kFirstRecord + kRecordBytes, a)), HasSubstr("out of order"));
  // Second record starting inside the first one.
  EXPECT_THAT(error(Patch32(image, kFirstRecord + kRecordBytes, a + 1)), HasSubstr("overlapping"));
  // A handle beyond max_bytes.
  EXPECT_THAT(error(Patch32(image, kFirstRecord, internal::MakeId(500, 0))), HasSubstr("beyond"));
  // Second record holding the first one's frames.
  std::string dup = image;
  std::memcpy(dup.data() + kFirstRecord + kRecordBytes + 8, dup.data() + kFirstRecord + 8, 32);
  EXPECT_THAT(error(dup), HasSubstr("repeats an earlier trace"));
}

TEST(DepotImageTest, OnlyPoolsHoldingRecordsAreMapped) {
  auto depot = MakeDepot(kSmallPools);
  const std::vector<uint64_t> trace = Trace(1, 4);
  ASSERT_EQ(depot->Save(trace, kCanAlloc), internal::MakeId(0, 0));
  // The same record, claimed to live in the last pool.
  const Handle far = internal::MakeId(63, 0);
  const std::string image = Patch32(depot->Serialize(), 16, far);

  auto loaded = MakeDepot(kSmallPools);
  ASSERT_TRUE(loaded->Load(image).ok());
  EXPECT_EQ(loaded->Stats()[Stat::kPools], 1u);
  EXPECT_THAT(loaded->Fetch(far), ElementsAreArray(trace));
  EXPECT_THAT(loaded->Fetch(internal::MakeId(0, 0)), ::testing::IsEmpty());    // never mapped
  EXPECT_THAT(loaded->Fetch(internal::MakeId(63, 56)), ::testing::IsEmpty());  // gap after it
  // New traces go after the loaded ones.
  const Handle next = loaded->Save(Trace(2, 4), kCanAlloc);
  EXPECT_EQ(internal::PoolOf(next), 64u);
  EXPECT_EQ(loaded->Serialize().size(), image.size() + 8 + 4 * 8);
}

TEST(DepotImageTest, RandomByteFlipsNeverCrash) {
  auto depot = MakeDepot(kSmallPools);
  Fill(*depot);
  const std::string image = depot->Serialize();
  uint64_t state = 88172645463325252ull;
  int accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string mutated = image;
    for (int flips = 0; flips < 1 + round % 4; ++flips) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      mutated[state % mutated.size()] ^= static_cast<char>(1 + (state >> 32) % 255);
    }
    auto fresh = MakeDepot(kSmallPools);
    if (fresh->Load(mutated).ok()) {
      // A flipped frame value still makes a well-formed image; then every record is back in its
      // place, and writing the depot out again gives the same bytes.
      ++accepted;
      EXPECT_EQ(fresh->Serialize(), mutated);
    } else {
      EXPECT_EQ(fresh->Stats()[Stat::kRecordsInUse], 0u);
    }
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace dprof::stackdepot
