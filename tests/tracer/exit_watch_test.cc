// ExitWatch on real child processes: followed while they run, done once they exit or are
// forgotten; the backend is a fake (only its Watch() is used).
#include "tracer/internal/exit_watch.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/tracer/fake_backend.h"

namespace dprof::tracer::internal {
namespace {

// A child that waits until killed.
pid_t Sleeper() {
  const pid_t pid = fork();
  if (pid == 0) {
    pause();
    _exit(0);
  }
  return pid;
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

TEST(ExitWatchTest, AProcessIsFollowedUntilItExits) {
  testing::FakeBackend backend;
  ExitWatch exits(&backend);
  const pid_t a = Sleeper(), b = Sleeper();
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  exits.Watch(a, false);
  exits.Watch(b, false);
  exits.Watch(a, false);  // once
  EXPECT_EQ(exits.size(), 2u);
  EXPECT_FALSE(exits.AllExited());
  KillAndReap(a);
  EXPECT_FALSE(exits.AllExited()) << "b still runs";
  EXPECT_EQ(exits.size(), 1u) << "a's exit was noticed";
  KillAndReap(b);
  EXPECT_TRUE(exits.AllExited());
  EXPECT_EQ(exits.size(), 0u);
}

TEST(ExitWatchTest, AForgottenProcessNoLongerCounts) {
  testing::FakeBackend backend;
  ExitWatch exits(&backend);
  const pid_t a = Sleeper();
  ASSERT_GT(a, 0);
  exits.Watch(a, false);
  // The kernel's EXIT record came first: its pid may already be another process's.
  exits.Forget(a);
  EXPECT_TRUE(exits.AllExited());
  KillAndReap(a);
}

TEST(ExitWatchTest, AProcessGoneBeforeItIsWatchedIsNotFollowed) {
  testing::FakeBackend backend;
  ExitWatch exits(&backend);
  const pid_t a = Sleeper();
  ASSERT_GT(a, 0);
  KillAndReap(a);
  exits.Watch(a, false);
  EXPECT_EQ(exits.size(), 0u);
  EXPECT_TRUE(exits.AllExited());
}

TEST(ExitWatchTest, OneThreadIsFollowedByItsTid) {
  testing::FakeBackend backend;
  ExitWatch exits(&backend);
  exits.Watch(gettid(), /*thread=*/true);
  EXPECT_FALSE(exits.AllExited()) << "this thread runs";
  exits.Forget(gettid());
  EXPECT_TRUE(exits.AllExited());
}

}  // namespace
}  // namespace dprof::tracer::internal
