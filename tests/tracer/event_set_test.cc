// Opening the tracer's events on its targets, over the fake backend: one ring buffer per CPU that
// every event there writes into, the lead's side-band records, tasks that exit first, kernels
// that refuse a field, and errors that name the event.
#include "tracer/internal/event_set.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <unistd.h>

#include <map>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tracer/fake_backend.h"
#include "tests/tracer/record_builder.h"

namespace dprof::tracer::internal {
namespace {

using testing::FakeBackend;
using ::testing::HasSubstr;

class EventSetTest : public ::testing::Test {
 protected:
  EventSetTest() {
    specs_.push_back(
        {.name = "cpu-clock", .type = PERF_TYPE_SOFTWARE, .config = PERF_COUNT_SW_CPU_CLOCK});
    specs_.push_back(
        {.name = "page-faults", .type = PERF_TYPE_SOFTWARE, .config = PERF_COUNT_SW_PAGE_FAULTS});
  }
  EventSet Make(EventSet::Options options = {.cpus = {0, 1}}) {
    options.page_size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return EventSet(&backend_, &specs_,
                    {.mode = StackMode::kFramePointer, .data_bytes = 8 * options.page_size},
                    options);
  }

  FakeBackend backend_;
  std::vector<EventSpec> specs_;
};

TEST_F(EventSetTest, EveryEventOnEveryCpuSharesThatCpusBuffer) {
  EventSet events = Make();
  ASSERT_TRUE(events.OpenThreadsOf(getpid(), /*whole_process=*/false, {}).ok());
  EXPECT_EQ(events.events_opened(), 4u) << "two events on two CPUs";
  EXPECT_EQ(events.buffers(), 2u);
  std::map<int, int> lead_of_cpu;  // the fd each CPU's buffer belongs to
  for (const auto& [fd, e] : backend_.events) {
    EXPECT_EQ(e.pid, getpid());
    EXPECT_FALSE(e.attr.inherit) << "one thread";
    if (e.output < 0) {
      EXPECT_TRUE(e.attr.mmap2 && e.attr.comm && e.attr.task) << "the lead asks for side-band";
      EXPECT_EQ(e.attr.config, uint64_t{PERF_COUNT_SW_CPU_CLOCK});
      lead_of_cpu[e.cpu] = fd;
    }
  }
  ASSERT_EQ(lead_of_cpu.size(), 2u);
  for (const auto& [fd, e] : backend_.events) {
    if (e.output >= 0) {
      EXPECT_EQ(e.output, lead_of_cpu[e.cpu]) << "written into its CPU's buffer";
      EXPECT_FALSE(e.attr.mmap2);
    }
    EXPECT_EQ(events.ids().EventOf(e.id), e.attr.config == PERF_COUNT_SW_CPU_CLOCK ? 0u : 1u);
  }
  EXPECT_EQ(events.ids().EventOf(1), std::nullopt);
}

TEST_F(EventSetTest, AProcessIsFollowedIntoItsChildrenAndEnabledOnce) {
  EventSet events = Make();
  ASSERT_TRUE(events.OpenThreadsOf(getpid(), /*whole_process=*/true, {}).ok());
  std::set<pid_t> threads;
  for (const auto& [fd, e] : backend_.events) {
    EXPECT_TRUE(e.attr.inherit);
    EXPECT_FALSE(e.enabled);
    threads.insert(e.pid);
  }
  EXPECT_TRUE(threads.contains(getpid()));
  ASSERT_TRUE(events.EnableAll().ok());
  for (const auto& [fd, e] : backend_.events) EXPECT_TRUE(e.enabled);
}

TEST_F(EventSetTest, ACommandsEventsStartAtItsExec) {
  EventSet events = Make({.cpus = {0}, .enable_on_exec = true});
  ASSERT_TRUE(events.OpenThreadsOf(getpid(), true, {}).ok());
  for (const auto& [fd, e] : backend_.events) EXPECT_TRUE(e.attr.enable_on_exec);
}

TEST_F(EventSetTest, ExcludedThreadsAreLeftOut) {
  EventSet events = Make({.cpus = {0}});
  EXPECT_TRUE(
      absl::IsNotFound(events.OpenThreadsOf(getpid(), false, {static_cast<uint32_t>(getpid())})));
  EXPECT_TRUE(backend_.events.empty());
}

TEST_F(EventSetTest, ATaskThatExitedFirstIsNotFound) {
  backend_.gone = getpid();
  EventSet events = Make();
  const absl::Status s = events.OpenThreadsOf(getpid(), false, {});
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("exited before recording started"));
  EXPECT_THAT(s.message(), HasSubstr("dprof record -- CMD"));
}

TEST_F(EventSetTest, AKernelWithoutBuildIdsIsAskedAgainWithout) {
  backend_.build_id_unknown = true;
  EventSet events = Make();
  ASSERT_TRUE(events.OpenSystemWide("").ok());
  EXPECT_EQ(events.events_opened(), 4u);
  for (const auto& [fd, e] : backend_.events) {
    EXPECT_EQ(e.pid, -1) << "every task";
    EXPECT_FALSE(e.attr.build_id);
  }
}

TEST_F(EventSetTest, ARefusalNamesTheEventAndTheFix) {
  backend_.open_error = -EACCES;
  EventSet events = Make({.cpus = {0, 1}, .system_wide = true});
  const absl::Status s = events.OpenSystemWide("");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("cpu-clock"));
  EXPECT_THAT(s.message(), HasSubstr("perf_event_paranoid"));
  EXPECT_EQ(events.events_opened(), 0u);
}

TEST_F(EventSetTest, AMissingCgroupIsNamed) {
  EventSet events = Make();
  const absl::Status s = events.OpenSystemWide("no-such-cgroup-dprof-test");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("no-such-cgroup-dprof-test"));
}

TEST_F(EventSetTest, RecordsOfEveryBufferAreRead) {
  EventSet events = Make();
  ASSERT_TRUE(events.OpenSystemWide("").ok());
  const std::vector<uint8_t> lost = testing::RecordBuilder(PERF_RECORD_LOST).U64(1).U64(7).Finish();
  backend_.Write(backend_.BufferOf(0), lost);
  backend_.Write(backend_.BufferOf(1), lost);
  backend_.Write(backend_.BufferOf(1), lost);
  int records = 0;
  events.Read([&](std::span<const uint8_t> r) {
    EXPECT_EQ(r.size(), lost.size());
    ++records;
  });
  EXPECT_EQ(records, 3);
  EXPECT_EQ(events.corrupt_bytes(), 0u);
}

}  // namespace
}  // namespace dprof::tracer::internal
