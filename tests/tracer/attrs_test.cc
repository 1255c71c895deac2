// What each event asks perf_event_open for, by call-graph mode and role, and the ring buffers'
// default size.
#include "tracer/internal/attrs.h"

#include <unistd.h>

#include "dprof/tracer/perf_abi.h"
#include "gtest/gtest.h"

namespace dprof::tracer::internal {
namespace {

EventSpec Clock() {
  return {.name = "cpu-clock", .type = PERF_TYPE_SOFTWARE, .config = PERF_COUNT_SW_CPU_CLOCK};
}

TEST(AttrsTest, AutoIsNativeOnlyWhereTheKernelHasDeferredCallchains) {
  EXPECT_EQ(StackModeOf(CallGraph::kAuto, true), StackMode::kNative);
  EXPECT_EQ(StackModeOf(CallGraph::kAuto, false), StackMode::kDwarf);
  EXPECT_EQ(StackModeOf(CallGraph::kDwarf, true), StackMode::kDwarf);
  EXPECT_EQ(StackModeOf(CallGraph::kFramePointer, true), StackMode::kFramePointer);
  EXPECT_EQ(StackModeOf(CallGraph::kNone, true), StackMode::kNone);
}

TEST(AttrsTest, EveryEventIsADisabledMonotonicSampler) {
  const perf_event_attr a = MakeAttr(Clock(), false, {.frequency = 499, .data_bytes = 64 * 4096});
  EXPECT_EQ(a.size, sizeof(perf_event_attr));
  EXPECT_EQ(a.type, PERF_TYPE_SOFTWARE);
  EXPECT_EQ(a.config, uint64_t{PERF_COUNT_SW_CPU_CLOCK});
  EXPECT_EQ(a.sample_type, kBaseSampleType);
  EXPECT_TRUE(a.freq);
  EXPECT_EQ(a.sample_freq, 499u);
  EXPECT_TRUE(a.disabled);
  EXPECT_TRUE(a.sample_id_all);
  EXPECT_TRUE(a.use_clockid);
  EXPECT_EQ(a.clockid, CLOCK_MONOTONIC);
  EXPECT_TRUE(a.watermark);
  EXPECT_EQ(a.wakeup_watermark, 16u * 4096) << "a quarter of the buffer";
  EXPECT_FALSE(a.exclude_kernel);
}

TEST(AttrsTest, OnlyTheLeadAsksForSideBandRecords) {
  const AttrSettings settings{.build_ids = true, .off_cpu = true};
  const perf_event_attr lead = MakeAttr(Clock(), true, settings);
  const perf_event_attr other = MakeAttr(Clock(), false, settings);
  EXPECT_TRUE(lead.mmap && lead.mmap2 && lead.comm && lead.comm_exec && lead.task);
  EXPECT_TRUE(lead.build_id);
  EXPECT_TRUE(lead.context_switch);
  EXPECT_FALSE(other.mmap || other.mmap2 || other.comm || other.task || other.context_switch);
  EXPECT_FALSE(MakeAttr(Clock(), true, {.build_ids = false}).build_id);
  EXPECT_FALSE(MakeAttr(Clock(), true, {.off_cpu = false}).context_switch);
}

TEST(AttrsTest, EachModeAsksForItsStacks) {
  EXPECT_EQ(MakeAttr(Clock(), false, {.mode = StackMode::kNone}).sample_type, kBaseSampleType);

  const perf_event_attr fp = MakeAttr(Clock(), false, {.mode = StackMode::kFramePointer});
  EXPECT_EQ(fp.sample_type, kBaseSampleType | PERF_SAMPLE_CALLCHAIN);
  EXPECT_FALSE(fp.exclude_callchain_user);

  const perf_event_attr dwarf =
      MakeAttr(Clock(), false, {.mode = StackMode::kDwarf, .stack_size = 16384});
  EXPECT_EQ(dwarf.sample_type, kBaseSampleType | PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_REGS_USER |
                                   PERF_SAMPLE_STACK_USER);
  EXPECT_EQ(dwarf.sample_regs_user, abi::kUserRegsMask);
  EXPECT_EQ(dwarf.sample_stack_user, 16384u);
  EXPECT_TRUE(dwarf.exclude_callchain_user) << "dprof unwinds the copy";

  const perf_event_attr native_lead = MakeAttr(Clock(), true, {.mode = StackMode::kNative});
  const perf_event_attr native = MakeAttr(Clock(), false, {.mode = StackMode::kNative});
  EXPECT_TRUE(abi::AttrFlag(native_lead, abi::kAttrBitDeferCallchain));
  EXPECT_TRUE(abi::AttrFlag(native_lead, abi::kAttrBitDeferOutput));
  EXPECT_TRUE(abi::AttrFlag(native, abi::kAttrBitDeferCallchain));
  EXPECT_FALSE(abi::AttrFlag(native, abi::kAttrBitDeferOutput)) << "one deferred record a buffer";
  EXPECT_EQ(native.sample_type & PERF_SAMPLE_STACK_USER, 0u);
}

TEST(AttrsTest, PeriodsModifiersAndTracepoints) {
  const perf_event_attr period = MakeAttr(Clock(), false, {.period = 250000});
  EXPECT_FALSE(period.freq);
  EXPECT_EQ(period.sample_period, 250000u);

  EventSpec user = Clock();
  user.exclude_kernel = true;
  EXPECT_TRUE(MakeAttr(user, false, {}).exclude_kernel);
  EXPECT_TRUE(MakeAttr(Clock(), false, {.user_only = true}).exclude_kernel);
  EventSpec kernel = Clock();
  kernel.exclude_user = true;
  EXPECT_TRUE(MakeAttr(kernel, false, {}).exclude_user);

  EventSpec tracepoint = Clock();
  tracepoint.name = "sched:sched_switch";
  tracepoint.type = PERF_TYPE_TRACEPOINT;
  tracepoint.config = 372;
  Tracepoint format;
  format.system = "sched";
  format.name = "sched_switch";
  format.id = 372;
  tracepoint.tracepoint = format;
  const perf_event_attr tp = MakeAttr(tracepoint, false, {.frequency = 999});
  EXPECT_FALSE(tp.freq) << "every hit";
  EXPECT_EQ(tp.sample_period, 1u);
  EXPECT_EQ(tp.sample_type, kBaseSampleType | PERF_SAMPLE_RAW);
}

TEST(AttrsTest, BuffersHoldAnEighthOfASecondWithinBounds) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  auto pages = [&](AttrSettings s) { return DefaultPages(s, page); };
  for (uint64_t hz : {1u, 99u, 999u, 4999u, 20000u}) {
    for (StackMode mode : {StackMode::kFramePointer, StackMode::kDwarf}) {
      const size_t n = pages({.mode = mode, .frequency = hz, .stack_size = 32768});
      EXPECT_EQ(n & (n - 1), 0u) << hz << " Hz: a power of two";
      EXPECT_GE(n, geteuid() == 0 ? 128u : 1u);
      EXPECT_LE(n, 4096u);
    }
  }
  if (geteuid() != 0) GTEST_SKIP() << "an ordinary user's buffers are bounded by mlock limits";
  EXPECT_EQ(pages({.mode = StackMode::kFramePointer, .frequency = 99}), 128u) << "the floor";
  EXPECT_GT(pages({.mode = StackMode::kDwarf, .frequency = 999, .stack_size = 32768}),
            pages({.mode = StackMode::kFramePointer, .frequency = 999}))
      << "dwarf samples carry their stack copies";
  EXPECT_EQ(pages({.mode = StackMode::kDwarf, .frequency = 20000, .stack_size = 65528}), 4096u)
      << "the ceiling";
  EXPECT_EQ(pages({.mode = StackMode::kDwarf, .period = 1000, .stack_size = 32768}),
            pages({.mode = StackMode::kDwarf, .frequency = 999, .stack_size = 32768}))
      << "periods are sized as 999 Hz";
}

}  // namespace
}  // namespace dprof::tracer::internal
