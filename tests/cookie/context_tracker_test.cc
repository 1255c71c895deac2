#include "dprof/cookie/context_tracker.h"

#include <vector>

#include "gtest/gtest.h"

namespace dprof::cookie {
namespace {

int CpuZero() { return 0; }

class ContextTrackerTest : public ::testing::Test {
 protected:
  // An event of `tid` on `cpu`; `regs` stand for the user registers saved at kernel entry.
  Cookie Kernel(uint32_t tid, std::vector<uint64_t> regs, uint32_t cpu = 0) {
    return tracker_.Track(
        {.tid = tid, .cpu = cpu, .time_ns = ++now_, .user_mode = false, .user_regs = regs});
  }
  Cookie User(uint32_t tid, std::vector<uint64_t> regs, uint32_t cpu = 0) {
    return tracker_.Track(
        {.tid = tid, .cpu = cpu, .time_ns = ++now_, .user_mode = true, .user_regs = regs});
  }

  CpuCounter counters_[4];
  CookieAllocator cookies_{counters_, CpuZero};
  ContextTracker tracker_{&cookies_};
  uint64_t now_ = 0;
};

const std::vector<uint64_t> kInRead = {0x401000, 0x7ffd0000, 0x7ffd0040};  // ip, sp, bp
const std::vector<uint64_t> kInWrite = {0x401100, 0x7ffd0000, 0x7ffd0040};

TEST_F(ContextTrackerTest, KernelEventsOfOneEntryShareACookie) {
  const Cookie c = Kernel(7, kInRead);
  EXPECT_TRUE(IsValid(c));
  EXPECT_EQ(Kernel(7, kInRead), c);     // a cpu-clock sample in the same syscall
  EXPECT_EQ(Kernel(7, kInRead, 2), c);  // the task migrated: still the same entry
  EXPECT_EQ(tracker_.stat(TrackerStat::kContexts), 1u);
  EXPECT_EQ(tracker_.stat(TrackerStat::kJoined), 2u);
}

TEST_F(ContextTrackerTest, AUserModeEventInBetweenStartsANewContext) {
  const Cookie first = Kernel(7, kInRead);
  const Cookie user = User(7, kInRead);
  const Cookie second = Kernel(7, kInRead);  // same registers, but the task was back in user space
  EXPECT_NE(user, first);
  EXPECT_NE(second, first);
  EXPECT_NE(second, user);
}

TEST_F(ContextTrackerTest, EveryUserModeSampleIsItsOwnContext) {
  EXPECT_NE(User(7, kInRead), User(7, kInRead));
}

TEST_F(ContextTrackerTest, ChangedUserRegistersStartANewContext) {
  const Cookie read = Kernel(7, kInRead);
  const Cookie write = Kernel(7, kInWrite);
  EXPECT_NE(read, write);
  EXPECT_EQ(Kernel(7, kInWrite), write);
}

TEST_F(ContextTrackerTest, ANewContextIsMadeOnTheCpuOfItsFirstEvent) {
  const Cookie c = Kernel(7, kInRead, 3);
  EXPECT_EQ(CpuOf(c), 3u);
  EXPECT_EQ(Kernel(7, kInRead, 1), c);  // later events keep it, wherever they run
}

TEST_F(ContextTrackerTest, TasksAreIndependent) {
  const Cookie a = Kernel(7, kInRead);
  const Cookie b = Kernel(8, kInRead);
  EXPECT_NE(a, b);
  EXPECT_EQ(Kernel(7, kInRead), a);
  EXPECT_EQ(Kernel(8, kInRead), b);
}

TEST_F(ContextTrackerTest, ExitDropsTheTasksState) {
  const Cookie before = Kernel(7, kInRead);
  EXPECT_EQ(tracker_.tasks(), 1u);
  tracker_.TaskExited(7);
  EXPECT_EQ(tracker_.tasks(), 0u);
  EXPECT_EQ(tracker_.stat(TrackerStat::kTasksExited), 1u);
  // A new task reusing the tid starts from nothing.
  EXPECT_NE(Kernel(7, kInRead), before);
}

TEST_F(ContextTrackerTest, NativeCookiesAreTakenAsTheyAre) {
  const Cookie native = MakeCookie(1, 40);
  EXPECT_EQ(tracker_.AcceptNative(7, 1, ++now_, native), native);
  EXPECT_EQ(tracker_.AcceptNative(7, 0, ++now_, native), native);
  EXPECT_EQ(tracker_.stat(TrackerStat::kNativeAccepted), 2u);
  EXPECT_EQ(tracker_.stat(TrackerStat::kContexts), 0u);
  // A malformed one gets one replacement, the same for every event that carries it.
  const Cookie replaced = tracker_.AcceptNative(7, 2, ++now_, 42);
  EXPECT_TRUE(IsValid(replaced));
  EXPECT_EQ(CpuOf(replaced), 2u);
  EXPECT_EQ(tracker_.AcceptNative(7, 2, ++now_, 42), replaced);
  EXPECT_EQ(tracker_.stat(TrackerStat::kNativeInvalid), 1u);
}

// Which consumers asked in the current entry: kept while it lasts, empty in the next one.
TEST_F(ContextTrackerTest, RequestedConsumersBelongToTheCurrentContext) {
  EXPECT_EQ(tracker_.Requested(7), 0u);  // an unknown task
  Kernel(7, kInRead);
  tracker_.AddRequested(7, 0b01);
  Kernel(7, kInRead);  // the same entry
  tracker_.AddRequested(7, 0b10);
  EXPECT_EQ(tracker_.Requested(7), 0b11u);
  EXPECT_EQ(tracker_.Requested(8), 0u);
  tracker_.ClearRequested(0b10);
  EXPECT_EQ(tracker_.Requested(7), 0b01u);
  Kernel(7, kInWrite);  // another entry
  EXPECT_EQ(tracker_.Requested(7), 0u);
  tracker_.AddRequested(7, 0b01);
  tracker_.AcceptNative(7, 0, ++now_, MakeCookie(1, 40));
  EXPECT_EQ(tracker_.Requested(7), 0u);
}

TEST_F(ContextTrackerTest, UnknownCpuIsCountedNotGuessed) {
  EXPECT_EQ(Kernel(7, kInRead, 9), kNoCookie);
  EXPECT_EQ(tracker_.stat(TrackerStat::kUnallocated), 1u);
}

TEST(ContextTrackerBoundTest, StateStaysBoundedAndForgetsTheIdlest) {
  CpuCounter counters[1];
  CookieAllocator cookies(counters, CpuZero);
  ContextTracker tracker(&cookies, {.max_tasks = 64});
  const std::vector<uint64_t> regs = {1, 2, 3};
  uint64_t now = 0;
  auto kernel = [&](uint32_t tid) {
    return tracker.Track(
        {.tid = tid, .cpu = 0, .time_ns = ++now, .user_mode = false, .user_regs = regs});
  };
  const Cookie busy = kernel(1);
  for (uint32_t tid = 2; tid < 1000; ++tid) {
    kernel(tid);
    EXPECT_EQ(kernel(1), busy);  // task 1 keeps being seen, so it is never the idlest
    ASSERT_LE(tracker.tasks(), 64u);
  }
  EXPECT_GT(tracker.stat(TrackerStat::kTasksEvicted), 0u);
}

}  // namespace
}  // namespace dprof::cookie
