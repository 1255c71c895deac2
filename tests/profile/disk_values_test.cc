// The numbers a recording stores for enums, and the names of its counters, are pinned: these
// tables are what every recording written so far means (docs/recording-format.md). A new
// enumerator without a number fails to compile (disk_values.cc's switches have no default); a
// changed number or name fails here.
#include "profile/internal/disk_values.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dprof/profile/recorder.h"
#include "gtest/gtest.h"

namespace dprof::profile::internal {
namespace {

using event::EventKind;
using event::UserStack;
using unwind::StopReason;

template <typename E>
void ExpectTable(const std::vector<std::pair<E, uint8_t>>& table,
                 std::optional<E> (*from_disk)(uint8_t)) {
  for (const auto& [value, number] : table) {
    EXPECT_EQ(ToDisk(value), number);
    EXPECT_EQ(from_disk(number), value) << int{number};
  }
  // Every other number is a damaged file.
  for (int number = table.size(); number < 256; ++number) {
    EXPECT_EQ(from_disk(static_cast<uint8_t>(number)), std::nullopt) << number;
  }
}

TEST(DiskValuesTest, EventKind) {
  ExpectTable<EventKind>(
      {{EventKind::kSample, 0}, {EventKind::kTracepoint, 1}, {EventKind::kOffCpu, 2}},
      EventKindFromDisk);
}

TEST(DiskValuesTest, UserStack) {
  ExpectTable<UserStack>({{UserStack::kDeferred, 0},
                          {UserStack::kInline, 1},
                          {UserStack::kNone, 2},
                          {UserStack::kDropped, 3},
                          {UserStack::kMissing, 4}},
                         UserStackFromDisk);
}

TEST(DiskValuesTest, StopReason) {
  const std::vector<std::pair<StopReason, uint8_t>> table = {
      {StopReason::kOutermost, 0}, {StopReason::kOutOfStack, 1}, {StopReason::kNoUnwindInfo, 2},
      {StopReason::kBadMemory, 3}, {StopReason::kLoop, 4},       {StopReason::kFrameLimit, 5}};
  ExpectTable(table, StopReasonFromDisk);
  // Every reason has a number (kCount counts them).
  EXPECT_EQ(table.size(), static_cast<size_t>(unwind::kNumStopReasons));
}

// Counter names are keys in the file (the counters chunk): renaming a statistic in the tracer or
// the engine must not rename what old and new recordings call it.
TEST(DiskValuesTest, CounterNames) {
  event::TracerStats stats;
  stats.threads[7] = {};
  const RunCounters c = CountersOf(stats);
  std::vector<std::string> run;
  for (const auto& [name, value] : c.run) run.push_back(name);
  EXPECT_EQ(run, (std::vector<std::string>{"corrupt bytes",
                                           "deferred callchains",
                                           "depot.bad_handles",
                                           "depot.bytes_in_use",
                                           "depot.bytes_reserved",
                                           "depot.fail_capacity",
                                           "depot.fail_empty",
                                           "depot.fail_no_alloc",
                                           "depot.fail_no_memory",
                                           "depot.failures",
                                           "depot.freed_pending",
                                           "depot.hits",
                                           "depot.misses",
                                           "depot.pools",
                                           "depot.records_in_use",
                                           "depot.reusable",
                                           "depot.truncated",
                                           "dropped snapshots",
                                           "engine.canceled requests",
                                           "engine.content hits",
                                           "engine.deliveries",
                                           "engine.drops",
                                           "engine.jobs",
                                           "engine.requests",
                                           "engine.shared",
                                           "engine.taken snapshots",
                                           "engine.truncated copies",
                                           "engine.unwinds",
                                           "filtered out",
                                           "foreign records",
                                           "lost records",
                                           "lost samples",
                                           "malformed records",
                                           "no user context",
                                           "off-cpu intervals",
                                           "samples",
                                           "stopped.bad memory",
                                           "stopped.frame limit",
                                           "stopped.loop detected",
                                           "stopped.no unwind info",
                                           "stopped.out of stack bytes",
                                           "stopped.outermost frame",
                                           "threads not sampled",
                                           "throttled",
                                           "tracepoint hits",
                                           "truncated snapshots",
                                           "unknown records",
                                           "unthrottled"}));
  std::vector<std::string> thread;
  for (const auto& [name, value] : c.threads.at(7)) thread.push_back(name);
  EXPECT_EQ(thread, (std::vector<std::string>{"dropped snapshots", "lost", "off-cpu intervals",
                                              "samples", "throttled", "truncated snapshots"}));
}

}  // namespace
}  // namespace dprof::profile::internal
