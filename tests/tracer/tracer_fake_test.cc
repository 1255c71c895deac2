// The tracer over the fake backend: hand-built records, no kernel.
#include <cstdio>
#include <string>
#include <vector>

#include "dprof/cookie/cookie.h"
#include "dprof/tracer/perf_abi.h"
#include "dprof/tracer/tracer.h"
#include "gtest/gtest.h"
#include "tests/tracer/fake_backend.h"
#include "tests/tracer/record_builder.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::tracer {
namespace {

using testing::CollectingSink;
using testing::FakeBackend;
using testing::RecordBuilder;
using testing::SampleBytes;

constexpr uint64_t kKernel = static_cast<uint64_t>(PERF_CONTEXT_KERNEL);
constexpr uint64_t kUser = static_cast<uint64_t>(PERF_CONTEXT_USER);

// A tracefs with just sched:sched_switch, so off-CPU needs no mounted one.
std::string FakeTracefs() {
  const std::string root = ::testing::TempDir() + "/fake_tracefs";
  EXPECT_EQ(system(("mkdir -p " + root + "/events/sched/sched_switch").c_str()), 0);
  FILE* f = fopen((root + "/events/sched/sched_switch/format").c_str(), "w");
  fputs(
      "ID: 372\n"
      "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
      "\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n"
      "\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n"
      "\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n",
      f);
  fclose(f);
  return root;
}

class TracerFakeTest : public ::testing::Test {
 protected:
  void StartWith(TracerOptions options) {
    options.backend = &backend_;
    options.target.system_wide = true;
    absl::StatusOr<std::unique_ptr<Tracer>> t = Tracer::Create(std::move(options), &sink_);
    ASSERT_TRUE(t.ok()) << t.status();
    tracer_ = *std::move(t);
    ASSERT_TRUE(tracer_->Start().ok());
  }
  // Writes to the buffer of `cpu`.
  void Write(int cpu, const std::vector<uint8_t>& record) {
    backend_.Write(backend_.BufferOf(cpu), record);
  }
  void Finish() {
    tracer_->RequestStop();
    ASSERT_TRUE(tracer_->Run().ok());
  }
  event::SampleId Sid(uint32_t tid, uint64_t time, int cpu,
                      uint64_t config = PERF_COUNT_SW_CPU_CLOCK) {
    return {.pid = 40,
            .tid = tid,
            .time = time,
            .cpu = static_cast<uint32_t>(cpu),
            .id = backend_.IdOf(config, cpu)};
  }
  uint64_t SampleType(int cpu, uint64_t config = PERF_COUNT_SW_CPU_CLOCK) {
    for (const auto& [fd, e] : backend_.events) {
      if (e.attr.config == config && e.cpu == cpu) return e.attr.sample_type;
    }
    return 0;
  }

  FakeBackend backend_;
  CollectingSink sink_;
  std::unique_ptr<Tracer> tracer_;
};

TEST_F(TracerFakeTest, NativeDeferredCallchainsStitchToTheirSamples) {
  backend_.native_deferred = true;
  StartWith({.call_graph = CallGraph::kAuto});
  ASSERT_TRUE(tracer_->native_deferred());
  for (const auto& [fd, e] : backend_.events) {
    EXPECT_TRUE(abi::AttrFlag(e.attr, abi::kAttrBitDeferCallchain));
    EXPECT_FALSE(e.attr.sample_type & PERF_SAMPLE_STACK_USER) << "no stack copies needed";
  }
  const uint64_t c1 = cookie::MakeCookie(0, 5), c2 = cookie::MakeCookie(1, 9);
  const uint64_t d = abi::kContextUserDeferred;
  // Two samples of one kernel entry of task 41, one of task 42 on the other CPU.
  Write(0, SampleBytes(Sid(41, 100, 0), PERF_RECORD_MISC_KERNEL, 1000,
                       {kKernel, 0xffffffff81000010, 0xffffffff81000020, d, c1}));
  Write(1, SampleBytes(Sid(42, 150, 1), PERF_RECORD_MISC_KERNEL, 1000,
                       {kKernel, 0xffffffff8100a000, d, c2}));
  Write(0, SampleBytes(Sid(41, 200, 0), PERF_RECORD_MISC_KERNEL, 1000,
                       {kKernel, 0xffffffff81000030, d, c1}));
  // The user frames, later, when each task returned to user space.
  Write(0, RecordBuilder(abi::kRecordCallchainDeferred)
               .U64(c1)
               .U64(4)
               .U64(kUser)
               .U64(0x401000)
               .U64(0x402000)
               .U64(0x403000)
               .Trailer(SampleType(0), Sid(41, 300, 0))
               .Finish());
  Write(1, RecordBuilder(abi::kRecordCallchainDeferred)
               .U64(c2)
               .U64(2)
               .U64(kUser)
               .U64(0x501000)
               .Trailer(SampleType(1), Sid(42, 310, 1))
               .Finish());
  Finish();

  ASSERT_EQ(sink_.events.size(), 3u);
  EXPECT_EQ(sink_.events[0].cookie, c1);
  EXPECT_EQ(sink_.events[1].cookie, c2);
  EXPECT_EQ(sink_.events[2].cookie, c1);
  for (const event::TraceEvent& e : sink_.events) EXPECT_EQ(e.user, event::UserStack::kDeferred);
  EXPECT_EQ(sink_.user_stacks[c1], (std::vector<uint64_t>{0x401000, 0x402000, 0x403000}));
  EXPECT_EQ(sink_.user_stacks[c2], (std::vector<uint64_t>{0x501000}));
  EXPECT_EQ(sink_.UserPcs(sink_.events[2], *tracer_->depot()), sink_.user_stacks[c1]);
  const std::span<const uint64_t> kernel = tracer_->depot()->Fetch(sink_.events[0].kernel_stack);
  EXPECT_EQ(std::vector<uint64_t>(kernel.begin(), kernel.end()),
            (std::vector<uint64_t>{0xffffffff81000010, 0xffffffff81000020}));
  EXPECT_EQ(tracer_->Stats()[event::TracerStat::kDeferredCallchains], 2u);
}

TEST_F(TracerFakeTest, WithoutKernelSupportAutoFallsBackToDwarf) {
  StartWith({.call_graph = CallGraph::kAuto});
  EXPECT_FALSE(tracer_->native_deferred());
  for (const auto& [fd, e] : backend_.events) {
    EXPECT_FALSE(abi::AttrFlag(e.attr, abi::kAttrBitDeferCallchain));
    EXPECT_TRUE(e.attr.sample_type & PERF_SAMPLE_STACK_USER);
    EXPECT_EQ(e.attr.sample_stack_user, 32768u);
  }
}

TEST_F(TracerFakeTest, EventsFromAllBuffersArriveInTimeOrder) {
  StartWith({.call_graph = CallGraph::kFramePointer});
  Write(0, SampleBytes(Sid(41, 100, 0), PERF_RECORD_MISC_USER, 1, {kUser, 0x401000}));
  Write(0, SampleBytes(Sid(41, 400, 0), PERF_RECORD_MISC_USER, 1, {kUser, 0x401000}));
  Write(1, SampleBytes(Sid(42, 200, 1), PERF_RECORD_MISC_USER, 1, {kUser, 0x402000}));
  Write(1, SampleBytes(Sid(42, 300, 1), PERF_RECORD_MISC_USER, 1, {kUser, 0x402000}));
  Finish();
  std::vector<uint64_t> times;
  for (const event::TraceEvent& e : sink_.events) times.push_back(e.time_ns);
  EXPECT_EQ(times, (std::vector<uint64_t>{100, 200, 300, 400}));
  EXPECT_EQ(sink_.UserPcs(sink_.events[1], *tracer_->depot()), (std::vector<uint64_t>{0x402000}));
}

TEST_F(TracerFakeTest, LossThrottlingAndBadRecordsAreCountedPerReasonAndThread) {
  StartWith({.call_graph = CallGraph::kFramePointer});
  const uint64_t type = SampleType(0);
  Write(0, RecordBuilder(PERF_RECORD_LOST).U64(1).U64(17).Trailer(type, Sid(41, 10, 0)).Finish());
  Write(0, RecordBuilder(PERF_RECORD_LOST_SAMPLES).U64(3).Trailer(type, Sid(41, 11, 0)).Finish());
  Write(0, RecordBuilder(PERF_RECORD_THROTTLE)
               .U64(12)
               .U64(1)
               .U64(0)
               .Trailer(type, Sid(42, 12, 0))
               .Finish());
  Write(0, RecordBuilder(PERF_RECORD_UNTHROTTLE)
               .U64(13)
               .U64(1)
               .U64(0)
               .Trailer(type, Sid(42, 13, 0))
               .Finish());
  Write(0, RecordBuilder(PERF_RECORD_KSYMBOL).U64(0).U64(0).Trailer(type, Sid(0, 14, 0)).Finish());
  event::SampleId foreign = Sid(41, 15, 0);
  foreign.id = 999;
  Write(0, RecordBuilder(PERF_RECORD_EXIT)
               .U32(1)
               .U32(1)
               .U32(1)
               .U32(1)
               .U64(1)
               .Trailer(type, foreign)
               .Finish());
  Write(0, SampleBytes(Sid(41, 16, 0), PERF_RECORD_MISC_USER, 1, {kUser, 0x401000}));
  Finish();
  const event::TracerStats s = tracer_->Stats();
  EXPECT_EQ(s[event::TracerStat::kLost], 17u);
  EXPECT_EQ(s[event::TracerStat::kLostSamples], 3u);
  EXPECT_EQ(s[event::TracerStat::kThrottled], 1u);
  EXPECT_EQ(s[event::TracerStat::kUnthrottled], 1u);
  EXPECT_EQ(s[event::TracerStat::kUnknownRecords], 1u);
  EXPECT_EQ(s[event::TracerStat::kForeignRecords], 1u);
  EXPECT_EQ(s[event::TracerStat::kSamples], 1u);
  EXPECT_EQ(s.threads.at(41).lost, 20u);
  EXPECT_EQ(s.threads.at(42).throttled, 1u);
  EXPECT_EQ(s.threads.at(41).samples, 1u);
}

TEST_F(TracerFakeTest, SystemWideFilterKeepsOnlyTheGivenProcesses) {
  StartWith({.target = {.pids = {40}}, .call_graph = CallGraph::kNone});
  event::SampleId other = Sid(51, 20, 0);
  other.pid = 50;
  Write(0, SampleBytes(Sid(41, 10, 0), PERF_RECORD_MISC_USER, 1, {}));
  Write(0, SampleBytes(other, PERF_RECORD_MISC_USER, 1, {}));
  Finish();
  ASSERT_EQ(sink_.events.size(), 1u);
  EXPECT_EQ(sink_.events[0].pid, 40u);
  EXPECT_EQ(tracer_->Stats()[event::TracerStat::kFilteredOut], 1u);
}

TEST_F(TracerFakeTest, OffCpuIntervalRunsFromSwitchOutToSwitchIn) {
  StartWith(
      {.call_graph = CallGraph::kFramePointer, .off_cpu = true, .tracefs_root = FakeTracefs()});
  const uint64_t tp = 372;
  std::vector<uint8_t> raw(64, 0);
  raw[32] = 1;  // prev_state: S (interruptible sleep)
  Write(0, SampleBytes(Sid(41, 1000, 0, tp), PERF_RECORD_MISC_KERNEL, 1,
                       {kKernel, 0xffffffff81000100, kUser, 0x401000, 0x402000}, raw, true));
  Write(1, RecordBuilder(PERF_RECORD_SWITCH).Trailer(SampleType(1), Sid(41, 5000, 1)).Finish());
  // A thread still off the CPU when recording ends is closed at the end.
  Write(1, SampleBytes(Sid(42, 6000, 1, tp), PERF_RECORD_MISC_KERNEL, 1,
                       {kKernel, 0xffffffff81000200, kUser, 0x403000}, raw, true));
  backend_.now_ns = 10000;
  Finish();
  ASSERT_EQ(sink_.events.size(), 2u) << "the internal sched_switch is not an event of its own";
  const event::TraceEvent& a = sink_.events[0];
  EXPECT_EQ(a.kind, event::EventKind::kOffCpu);
  EXPECT_EQ(a.tid, 41u);
  EXPECT_EQ(a.time_ns, 1000u);
  EXPECT_EQ(a.weight, 4000u);
  EXPECT_NE(a.kernel_stack, stackdepot::kNoHandle);
  EXPECT_EQ(sink_.UserPcs(a, *tracer_->depot()), (std::vector<uint64_t>{0x401000, 0x402000}));
  EXPECT_EQ(sink_.events[1].tid, 42u);
  EXPECT_EQ(sink_.events[1].weight, 4000u);
  EXPECT_EQ(tracer_->Stats()[event::TracerStat::kOffCpuIntervals], 2u);
}

// A full depot refuses stacks: the refusals are counted, and each refused stack reaches the sink
// as frames instead of a handle, so nothing is lost.
TEST_F(TracerFakeTest, AFullDepotIsCountedAndItsRefusedStacksArriveAsFrames) {
  auto depot = stackdepot::Depot::Create({.pool_bytes = 4096, .max_bytes = 4096}).value();
  StartWith({.call_graph = CallGraph::kFramePointer, .depot = depot.get()});
  constexpr uint64_t kSamples = 200;
  std::vector<std::vector<uint64_t>> kernel, user;
  for (uint64_t i = 0; i < kSamples; ++i) {
    kernel.push_back({0xffffffff81000000 + i * 0x100, 0xffffffff81000010, 0xffffffff81000020});
    user.push_back({0x401000 + i, 0x402000, 0x403000});
    std::vector<uint64_t> chain = {kKernel};
    chain.insert(chain.end(), kernel.back().begin(), kernel.back().end());
    chain.push_back(kUser);
    chain.insert(chain.end(), user.back().begin(), user.back().end());
    Write(0, SampleBytes(Sid(41, 100 + i, 0), PERF_RECORD_MISC_KERNEL, 1, chain));
  }
  Finish();
  const event::TracerStats stats = tracer_->Stats();
  EXPECT_GT(stats.depot[stackdepot::Stat::kFailCapacity], 0u);
  EXPECT_EQ(stats.depot[stackdepot::Stat::kFailures], stats.depot[stackdepot::Stat::kFailCapacity]);
  ASSERT_EQ(sink_.events.size(), kSamples);
  uint64_t refused = 0;
  for (uint64_t i = 0; i < kSamples; ++i) {
    const event::TraceEvent& e = sink_.events[i];
    refused += (e.kernel_stack == stackdepot::kNoHandle) + (e.user_stack == stackdepot::kNoHandle);
    EXPECT_EQ(sink_.KernelPcs(e, *depot), kernel[i]) << i;
    EXPECT_EQ(sink_.UserPcs(e, *depot), user[i]) << i;
  }
  EXPECT_EQ(refused, stats.depot[stackdepot::Stat::kFailCapacity]);
  EXPECT_GT(refused, kSamples) << "most stacks should not have fit in one 4 KiB pool";
}

// An off-CPU interval is emitted at the switch-in, long after its switch-out sample: stacks the
// full depot refused at the switch-out are kept until then.
TEST_F(TracerFakeTest, AnOffCpuIntervalKeepsTheStacksAFullDepotRefused) {
  auto depot = stackdepot::Depot::Create({.pool_bytes = 4096, .max_bytes = 4096}).value();
  for (uint64_t i = 0;
       depot->Save(std::vector<uint64_t>{i, i + 1}, stackdepot::kCanAlloc) != stackdepot::kNoHandle;
       ++i) {
  }
  StartWith({.call_graph = CallGraph::kFramePointer,
             .off_cpu = true,
             .depot = depot.get(),
             .tracefs_root = FakeTracefs()});
  std::vector<uint8_t> raw(64, 0);
  raw[32] = 1;  // prev_state: S (interruptible sleep)
  Write(0, SampleBytes(Sid(41, 1000, 0, 372), PERF_RECORD_MISC_KERNEL, 1,
                       {kKernel, 0xffffffff81000100, kUser, 0x401000, 0x402000}, raw, true));
  Write(0, SampleBytes(Sid(41, 1500, 0), PERF_RECORD_MISC_USER, 1, {kUser, 0x404000}));
  Write(1, RecordBuilder(PERF_RECORD_SWITCH).Trailer(SampleType(1), Sid(41, 5000, 1)).Finish());
  Finish();
  ASSERT_EQ(sink_.events.size(), 2u);
  const event::TraceEvent& interval = sink_.events[1];
  EXPECT_EQ(interval.kind, event::EventKind::kOffCpu);
  EXPECT_EQ(interval.kernel_stack, stackdepot::kNoHandle);
  EXPECT_EQ(sink_.KernelPcs(interval, *depot), (std::vector<uint64_t>{0xffffffff81000100}));
  EXPECT_EQ(sink_.UserPcs(interval, *depot), (std::vector<uint64_t>{0x401000, 0x402000}));
}

TEST_F(TracerFakeTest, PermissionDeniedNamesParanoidAndTheFix) {
  backend_.open_error = -EACCES;
  TracerOptions options{.target = {.system_wide = true}, .backend = &backend_};
  auto tracer = Tracer::Create(std::move(options), &sink_);
  ASSERT_TRUE(tracer.ok());
  const absl::Status s = (*tracer)->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("kernel.perf_event_paranoid is"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("CAP_PERFMON"), absl::string_view::npos) << s;
}

TEST_F(TracerFakeTest, UnknownEventListsCloseMatches) {
  auto tracer = Tracer::Create(
      {.target = {.system_wide = true}, .events = {"cpu-clok"}, .backend = &backend_}, &sink_);
  ASSERT_FALSE(tracer.ok());
  EXPECT_NE(tracer.status().message().find("did you mean cpu-clock"), absl::string_view::npos)
      << tracer.status();
}

}  // namespace
}  // namespace dprof::tracer
