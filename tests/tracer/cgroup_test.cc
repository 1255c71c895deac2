// Finding the hierarchy perf_event cgroup filters use, from /proc/self/mounts text.
#include "tracer/internal/cgroup.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dprof::tracer::internal {
namespace {

TEST(CgroupTest, PureV2UsesTheUnifiedMount) {
  EXPECT_EQ(*PerfEventCgroupRoot("sysfs /sys sysfs rw 0 0\n"
                                 "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev 0 0\n"),
            "/sys/fs/cgroup");
}

TEST(CgroupTest, HybridWithoutV1PerfEventUsesTheUnifiedMount) {
  EXPECT_EQ(*PerfEventCgroupRoot("tmpfs /sys/fs/cgroup tmpfs rw,mode=755 0 0\n"
                                 "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
                                 "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n"),
            "/sys/fs/cgroup/unified");
}

TEST(CgroupTest, V1PerfEventControllerWins) {
  EXPECT_EQ(*PerfEventCgroupRoot(
                "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n"
                "cgroup /sys/fs/cgroup/perf\\040event cgroup rw,nosuid,perf_event 0 0\n"),
            "/sys/fs/cgroup/perf event");
}

TEST(CgroupTest, NoHierarchyNamesTheFix) {
  absl::StatusOr<std::string> root =
      PerfEventCgroupRoot("proc /proc proc rw 0 0\ncgroup /c cgroup rw,cpu 0 0\ngarbage\n");
  EXPECT_EQ(root.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(root.status().message(), ::testing::HasSubstr("mount -t cgroup2"));
}

TEST(CgroupTest, AbsolutePathsAreKept) {
  EXPECT_EQ(*CgroupPath("/sys/fs/cgroup/unified/x"), "/sys/fs/cgroup/unified/x");
}

}  // namespace
}  // namespace dprof::tracer::internal
