// Stitching kernel and user halves by cookie, and naming why a user half is missing.
#include "dprof/profile/stitch.h"

#include <filesystem>
#include <string>
#include <vector>

#include "dprof/profile/recording_reader.h"
#include "dprof/profile/recording_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/profile/recording_testing.h"

namespace dprof::profile {
namespace {

using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

std::vector<uint64_t> V(std::span<const uint64_t> s) { return {s.begin(), s.end()}; }

TEST(StitchTest, EachKindOfEventGetsItsUserHalfOrItsReason) {
  Recording r = testing::MakeRecording(12);
  // Events 0..11 cycle through inline, dropped, none, and three cookies (see MakeRecording).
  for (size_t i = 0; i < r.events.size(); ++i) {
    const Event& e = r.events[i];
    const StitchedStack s = Stitch(r, e);
    if (e.user_mode) {
      EXPECT_THAT(s.kernel, IsEmpty()) << i;
    } else {
      EXPECT_THAT(V(s.kernel), ElementsAreArray(r.stacks[1])) << i;
    }
    switch (i % 6) {
      case 0:
        EXPECT_THAT(V(s.user), ElementsAreArray(r.stacks[3])) << i;
        EXPECT_EQ(s.orphan, Orphan::kNone);
        break;
      case 1:
        EXPECT_EQ(s.orphan, Orphan::kDropped) << i;
        break;
      case 2:
        EXPECT_THAT(s.user, IsEmpty());
        EXPECT_EQ(s.orphan, Orphan::kNone);  // no user context: nothing is missing
        break;
      case 3:  // a cookie dprof made
        EXPECT_THAT(V(s.user), ElementsAreArray(r.stacks[2])) << i;
        break;
      case 4:  // a cookie the kernel made (native deferred callchain)
        EXPECT_THAT(V(s.user), ElementsAreArray(r.stacks[3])) << i;
        break;
      case 5:
        EXPECT_EQ(s.orphan, Orphan::kNeverDelivered) << i;
        EXPECT_THAT(V(s.kernel), ElementsAreArray(r.stacks[1])) << "the kernel half stays";
        break;
    }
  }
}

TEST(StitchTest, FailedUnwindsAndLostStacksAreNamed) {
  Recording r = testing::MakeRecording(0);
  const Event failed{.kernel_stack = 1,
                     .user = event::UserStack::kDeferred,
                     .cookie = cookie::MakeCookie(1, 5)};  // its unwind found nothing
  const Event lost{.kernel_stack = 42, .user = event::UserStack::kInline, .user_stack = 99};
  const Event no_snapshot{.user = event::UserStack::kMissing};
  EXPECT_EQ(Stitch(r, failed).orphan, Orphan::kUnwindFailed);
  EXPECT_EQ(Stitch(r, lost).orphan, Orphan::kStackLost);
  EXPECT_TRUE(Stitch(r, lost).kernel_lost);
  EXPECT_FALSE(Stitch(r, failed).kernel_lost);
  EXPECT_EQ(Stitch(r, no_snapshot).orphan, Orphan::kNoSnapshot);
  for (int o = 1; o < kNumOrphans; ++o) {
    EXPECT_THAT(std::string(OrphanFrame(static_cast<Orphan>(o))), ::testing::StartsWith("[user "));
  }
  EXPECT_EQ(OrphanFrame(Orphan::kNone), "");
}

// The same stitching on a recording in memory and on the file it was written to.
TEST(StitchTest, AFileStitchesLikeTheRecordingItCameFrom) {
  const Recording live = testing::MakeRecording(600);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("dprof-stitch-" + std::to_string(getpid())))
          .string();
  ASSERT_TRUE(WriteRecording(path, live).ok());
  ReadReport report;
  absl::StatusOr<Recording> file = ReadRecording(path, &report);
  std::filesystem::remove(path);
  ASSERT_TRUE(file.ok());
  StitchCounts live_counts, file_counts;
  for (size_t i = 0; i < live.events.size(); ++i) {
    const StitchedStack a = Stitch(live, live.events[i]);
    const StitchedStack b = Stitch(*file, file->events[i]);
    ASSERT_EQ(V(a.kernel), V(b.kernel)) << i;
    ASSERT_EQ(V(a.user), V(b.user)) << i;
    ASSERT_EQ(a.orphan, b.orphan) << i;
    live_counts.Add(a, live.events[i]);
    file_counts.Add(b, file->events[i]);
  }
  EXPECT_EQ(live_counts.orphans, file_counts.orphans);
  EXPECT_EQ(file_counts.events, 600u);
  EXPECT_EQ(file_counts.inline_user, 100u);  // i % 6 == 0
  EXPECT_EQ(file_counts.stitched, 200u);     // cookies delivered: i % 6 == 3, 4
  EXPECT_EQ(file_counts.orphaned(Orphan::kDropped), 100u);
  EXPECT_EQ(file_counts.orphaned(Orphan::kNeverDelivered), 100u);
}

}  // namespace
}  // namespace dprof::profile
