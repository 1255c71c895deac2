#include <cstddef>

#include "gtest/gtest.h"
#include "stackdepot/internal/record.h"

namespace dprof::stackdepot::internal {
namespace {

TEST(SizeClassTest, ExactUpToSixteenFrames) {
  for (size_t n = 1; n <= 16; ++n) {
    EXPECT_EQ(ClassFrames(SizeClassOf(n)), n);
  }
}

TEST(SizeClassTest, EveryLengthFitsItsClassWithAtMostAnEighthToSpare) {
  for (size_t n = 1; n <= kMaxFramesLimit; ++n) {
    const int c = SizeClassOf(n);
    ASSERT_GE(ClassFrames(c), n) << n;
    ASSERT_LE(ClassFrames(c) * 8, n * 9 + 8) << n;
    // The class below cannot hold n: classes are tight and ordered.
    if (c > 0) {
      ASSERT_LT(ClassFrames(c - 1), n) << n;
    }
  }
}

TEST(SizeClassTest, ClassesOfDefaultMaxFrames) {
  EXPECT_EQ(ClassFrames(SizeClassOf(17)), 18u);
  EXPECT_EQ(ClassFrames(SizeClassOf(33)), 36u);
  EXPECT_EQ(ClassFrames(SizeClassOf(256)), 256u);
  EXPECT_EQ(ClassBytes(SizeClassOf(16)), 24u + 16 * 8);
}

TEST(RecordIdTest, RoundTripsPoolAndOffset) {
  const uint32_t id = MakeId(kMaxPools - 1, kMaxPoolBytes - kRecordAlign);
  EXPECT_EQ(PoolOf(id), kMaxPools);
  EXPECT_EQ(OffsetOf(id), kMaxPoolBytes - kRecordAlign);
  EXPECT_EQ(id & ~kHandleRecordMask, 0u);
  EXPECT_NE(MakeId(0, 0), 0u);
}

}  // namespace
}  // namespace dprof::stackdepot::internal
