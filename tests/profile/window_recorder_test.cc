// WindowRecorder: windows that tile the run, events in the window of their time, user stacks that
// come after their window was cut, and the processes' records carried into later windows until
// they exit.
#include "dprof/profile/window_recorder.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "dprof/event/event.h"
#include "gtest/gtest.h"

namespace dprof::profile {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

class WindowRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override { depot_ = stackdepot::Depot::Create({}).value(); }

  // A recorder with 1-second windows (late user stacks waited for half a second), whose windows
  // are finished and kept in windows_; t0_ its first window's start.
  void Make() {
    recorder_ = std::make_unique<WindowRecorder>(
        depot_.get(), std::map<std::string, std::string>{}, std::vector<std::string>{"cpu-clock"},
        WindowRecorder::Options{.length_ns = kSecond, .grace_ns = kSecond / 2},
        [this](WindowRecorder::Window w) {
          ASSERT_TRUE(w.recorder->Finish({}, nullptr).ok());
          absl::StatusOr<Recording> r = w.recorder->TakeRecording();
          ASSERT_TRUE(r.ok());
          windows_.push_back({w.index, w.start_ns, w.end_ns, *std::move(r)});
        });
    t0_ = event::MonotonicNs();  // the recorder's start is a little before
  }

  void Sample(uint32_t pid, uint64_t at, cookie::Cookie cookie = cookie::kNoCookie) {
    recorder_->OnEvent(event::TraceEvent{
        .pid = pid,
        .tid = pid,
        .time_ns = at,
        .weight = 1,
        .user = cookie == cookie::kNoCookie ? event::UserStack::kNone : event::UserStack::kDeferred,
        .cookie = cookie});
  }

  struct Kept {
    uint64_t index, start_ns, end_ns;
    Recording recording;
  };
  std::unique_ptr<stackdepot::Depot> depot_;
  std::unique_ptr<WindowRecorder> recorder_;
  std::vector<Kept> windows_;
  uint64_t t0_ = 0;
};

TEST_F(WindowRecorderTest, WindowsTileTheRunAndHoldTheEventsOfTheirTime) {
  Make();
  Sample(10, t0_ + kSecond / 10);
  Sample(10, t0_ + kSecond / 2);
  Sample(10, t0_ + 6 * kSecond / 5);
  EXPECT_TRUE(windows_.empty()) << "window 0 waits for late user stacks";
  Sample(10, t0_ + 27 * kSecond / 10);  // window 2; window 1 had its grace
  recorder_->OnTick(t0_ + 36 * kSecond / 10);
  recorder_->Close(t0_ + 38 * kSecond / 10);
  ASSERT_EQ(windows_.size(), 4u);
  const std::vector<size_t> events = {2, 1, 1, 0};
  for (size_t i = 0; i < windows_.size(); ++i) {
    EXPECT_EQ(windows_[i].index, i);
    EXPECT_EQ(windows_[i].recording.events.size(), events[i]) << "window " << i;
    if (i > 0) {
      EXPECT_EQ(windows_[i].start_ns, windows_[i - 1].end_ns) << "window " << i;
    }
    for (const Event& e : windows_[i].recording.events) {
      EXPECT_GE(e.time_ns, windows_[i].start_ns);
      EXPECT_LT(e.time_ns, windows_[i].end_ns);
    }
  }
  EXPECT_EQ(windows_.back().end_ns, t0_ + 38 * kSecond / 10) << "the last one ends at Close";
}

TEST_F(WindowRecorderTest, AUserStackAfterTheCutReachesItsWindow) {
  Make();
  const cookie::Cookie cookie = cookie::MakeCookie(0, 7);
  Sample(10, t0_ + 9 * kSecond / 10, cookie);
  recorder_->OnTick(t0_ + 11 * kSecond / 10);  // window 0 cut, within its grace
  const uint64_t pcs[] = {0x401000, 0x401100};
  recorder_->OnUserStack(cookie, {.pcs = pcs});
  recorder_->OnTick(t0_ + 16 * kSecond / 10);
  ASSERT_EQ(windows_.size(), 1u);
  const Recording& r = windows_[0].recording;
  ASSERT_TRUE(r.user_stacks.contains(cookie));
  const std::vector<uint64_t>* stack = r.Stack(r.user_stacks.at(cookie).stack);
  ASSERT_NE(stack, nullptr);
  EXPECT_EQ(*stack, std::vector<uint64_t>(std::begin(pcs), std::end(pcs)));
}

TEST_F(WindowRecorderTest, ProcessesAliveCarryTheirMappingsIntoLaterWindows) {
  Make();
  auto map = [&](uint32_t pid, uint64_t at, const char* path) {
    recorder_->OnMmap(event::Mmap2Record{.sid = {.pid = pid, .tid = pid, .time = at},
                                         .pid = pid,
                                         .tid = pid,
                                         .address = 0x400000,
                                         .length = 0x1000,
                                         .prot = 5,
                                         .filename = path});
  };
  map(10, t0_ + 1, "/bin/parent");
  map(20, t0_ + 2, "/bin/short");
  map(30, t0_ + 2, "/bin/old");  // process 30 exits; a new process gets its pid
  recorder_->OnTask({.sid = {.time = t0_ + 3},
                     .exit = true,
                     .pid = 30,
                     .ppid = 1,
                     .tid = 30,
                     .ptid = 1,
                     .time = t0_ + 3});
  recorder_->OnTask(
      {.sid = {.time = t0_ + 6}, .pid = 30, .ppid = 1, .tid = 30, .ptid = 1, .time = t0_ + 6});
  map(30, t0_ + 7, "/bin/new");
  recorder_->OnTask({.sid = {.time = t0_ + 3},
                     .pid = 11,
                     .ppid = 10,
                     .tid = 11,
                     .ptid = 10,
                     .time = t0_ + 3});  // 10 forks 11, then exits; 11 lives on
  recorder_->OnTask({.sid = {.time = t0_ + 4},
                     .exit = true,
                     .pid = 10,
                     .ppid = 1,
                     .tid = 10,
                     .ptid = 1,
                     .time = t0_ + 4});
  recorder_->OnTask({.sid = {.time = t0_ + 5},
                     .exit = true,
                     .pid = 20,
                     .ppid = 1,
                     .tid = 20,
                     .ptid = 1,
                     .time = t0_ + 5});
  recorder_->Close(t0_ + 25 * kSecond / 10);
  ASSERT_EQ(windows_.size(), 3u);
  auto paths = [](const Recording& r) {
    std::set<std::string> out;
    for (const Mapping& m : r.mappings) out.insert(m.path);
    return out;
  };
  EXPECT_EQ(paths(windows_[1].recording),
            (std::set<std::string>{"/bin/parent", "/bin/short", "/bin/new"}))
      << "exited less than a window before; of one address's mappings, the latest";
  EXPECT_EQ(paths(windows_[2].recording), (std::set<std::string>{"/bin/parent", "/bin/new"}))
      << "a live child keeps its parent's mappings, a reused pid its new process's; the other "
         "exited processes are forgotten";
}

TEST_F(WindowRecorderTest, AnEventAfterItsWindowWasHandedOverIsDroppedAndCounted) {
  Make();
  Sample(10, t0_ + 2 * kSecond);               // window 2: 0 and 1 handed over
  Sample(10, t0_ + 15 * kSecond / 10);         // window 1, still open to late arrivals
  recorder_->OnTick(t0_ + 26 * kSecond / 10);  // window 1's grace is over
  Sample(10, t0_ + 17 * kSecond / 10);         // too late
  recorder_->Close(t0_ + 29 * kSecond / 10);
  EXPECT_EQ(recorder_->late_events(), 1u);
  ASSERT_EQ(windows_.size(), 3u);
  EXPECT_EQ(windows_[1].recording.events.size(), 1u);
  EXPECT_EQ(windows_[2].recording.events.size(), 1u);
}

}  // namespace
}  // namespace dprof::profile
