// The record dispatch on hand-built records, without a kernel or a backend: what reaches the sink
// and the models, what the host is told, what is counted.
#include "tracer/internal/record_dispatcher.h"

#include <linux/perf_event.h>
#include <sys/mman.h>

#include <cstring>
#include <optional>
#include <vector>

#include "dprof/tracer/perf_abi.h"
#include "gtest/gtest.h"
#include "tests/tracer/record_builder.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::tracer::internal {
namespace {

using testing::RecordBuilder;
using testing::SampleBytes;

constexpr uint64_t kKernel = static_cast<uint64_t>(PERF_CONTEXT_KERNEL);
constexpr uint64_t kUser = static_cast<uint64_t>(PERF_CONTEXT_USER);
constexpr uint64_t kId = 7;
constexpr uint64_t kSampleType = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID |
                                 PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD |
                                 PERF_SAMPLE_CALLCHAIN;

class FakeHost : public RecordDispatcher::Host {
 public:
  uint64_t NowNs() override { return 5000; }
  void FirstEventOf(uint32_t pid) override { first.push_back(pid); }
  void ProcessForked(uint32_t pid) override { forked.push_back(pid); }
  void ProcessExited(uint32_t pid) override { exited.push_back(pid); }
  std::vector<uint32_t> first, forked, exited;
};

class RecordDispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(services_.InitDepot(nullptr).ok());
    ASSERT_TRUE(ids_.Add(kId, 0, {.sample_type = kSampleType}));
    specs_.push_back(
        {.name = "cpu-clock", .type = PERF_TYPE_SOFTWARE, .config = PERF_COUNT_SW_CPU_CLOCK});
  }
  void Make(RecordDispatcher::Filters filters = {}) {
    dispatcher_.emplace(RecordDispatcher::Events{.specs = &specs_, .requested = 1},
                        std::move(filters),
                        RecordDispatcher::Parts{.ids = &ids_,
                                                .spaces = &spaces_,
                                                .tracker = &tracker_,
                                                .stacks = &services_,
                                                .sample_stacks = &sample_stacks_,
                                                .counters = &counters_},
                        &host_, &sink_);
  }
  void Sample(uint32_t pid, uint32_t tid, uint64_t time) {
    dispatcher_->Process(SampleBytes({.pid = pid, .tid = tid, .time = time, .id = kId},
                                     PERF_RECORD_MISC_USER, 1000000,
                                     {kKernel, 0xffffffff81000010, kUser, 0x401000 + pid}));
  }
  // FORK or EXIT of thread `tid` of `pid`, made by `ptid` of `ppid`.
  void Task(uint32_t type, uint32_t pid, uint32_t ppid, uint32_t tid, uint32_t ptid) {
    dispatcher_->Process(RecordBuilder(type)
                             .U32(pid)
                             .U32(ppid)
                             .U32(tid)
                             .U32(ptid)
                             .U64(100)
                             .Trailer(kSampleType, {.pid = pid, .tid = tid, .time = 100, .id = kId})
                             .Finish());
  }
  void Mmap(uint32_t pid, uint64_t start, const char* path) {
    dispatcher_->Process(RecordBuilder(PERF_RECORD_MMAP2)
                             .U32(pid)
                             .U32(pid)
                             .U64(start)
                             .U64(0x1000)
                             .U64(0)
                             .U64(0)
                             .U64(0)
                             .U64(0)
                             .U32(PROT_READ | PROT_EXEC)
                             .U32(0)
                             .PaddedString(path)
                             .Trailer(kSampleType, {.pid = pid, .tid = pid, .time = 50, .id = kId})
                             .Finish());
  }
  uint64_t Counted(event::TracerStat s) const { return counters_.Stats(nullptr, nullptr)[s]; }

  std::vector<EventSpec> specs_;
  EventIds ids_;
  unwind::BinaryCache binaries_;
  int proc_reads_ = 0;
  AddressSpaces spaces_{&binaries_, [this](uint32_t) -> absl::StatusOr<unwind::AddressSpace> {
                          ++proc_reads_;
                          return absl::NotFoundError("no /proc here");
                        }};
  cookie::CookieAllocator cookies_;
  cookie::ContextTracker tracker_{&cookies_};
  StackServices services_;
  SourceCounters counters_;
  SampleStacks sample_stacks_{StackMode::kFramePointer, &services_, &tracker_, &counters_};
  FakeHost host_;
  testing::CollectingSink sink_;
  std::optional<RecordDispatcher> dispatcher_;
};

TEST_F(RecordDispatcherTest, SamplesBecomeEventsAndEachProcessIsAnnouncedOnce) {
  Make();
  Sample(10, 10, 1);
  Sample(10, 11, 2);
  Sample(20, 20, 3);
  Sample(10, 10, 4);
  ASSERT_EQ(sink_.events.size(), 4u);
  EXPECT_EQ(host_.first, (std::vector<uint32_t>{10, 20}));
  EXPECT_EQ(Counted(event::TracerStat::kSamples), 4u);
  const event::TraceEvent& e = sink_.events[1];
  EXPECT_EQ(e.kind, event::EventKind::kSample);
  EXPECT_EQ(e.pid, 10u);
  EXPECT_EQ(e.tid, 11u);
  EXPECT_EQ(e.weight, 1000000u);
  EXPECT_TRUE(e.user_mode);
  EXPECT_EQ(sink_.KernelPcs(e, *services_.depot()), std::vector<uint64_t>{0xffffffff81000010});
  EXPECT_EQ(sink_.UserPcs(e, *services_.depot()), std::vector<uint64_t>{0x401000 + 10});
}

TEST_F(RecordDispatcherTest, ForksAndExitsReachTheHostAndTheAddressSpaces) {
  Make();
  Mmap(10, 0x400000, "/parent");
  Task(PERF_RECORD_FORK, 30, 10, 30, 10);  // a new process
  Task(PERF_RECORD_FORK, 30, 30, 31, 30);  // a thread of it
  const std::shared_ptr<const unwind::AddressSpace> child = spaces_.Of(30);
  ASSERT_NE(child, nullptr);
  ASSERT_NE(child->Find(0x400100), nullptr);
  EXPECT_EQ(child->Find(0x400100)->path, "/parent") << "the child has its parent's mappings";
  EXPECT_EQ(host_.forked, std::vector<uint32_t>{30});
  Task(PERF_RECORD_EXIT, 30, 30, 31, 30);
  EXPECT_TRUE(host_.exited.empty()) << "a thread's exit is not its process's";
  Task(PERF_RECORD_EXIT, 30, 30, 30, 30);
  EXPECT_EQ(host_.exited, std::vector<uint32_t>{30});
  EXPECT_EQ(sink_.forks.size(), 2u);
  EXPECT_EQ(proc_reads_, 0) << "records only";
}

TEST_F(RecordDispatcherTest, FiltersDropAndCountSamples) {
  Make({.excluded = {11}, .pids = {10}, .tids = {}});
  Sample(10, 10, 1);
  Sample(10, 11, 2);  // excluded
  Sample(20, 20, 3);  // another process
  ASSERT_EQ(sink_.events.size(), 1u);
  EXPECT_EQ(sink_.events[0].tid, 10u);
  EXPECT_EQ(Counted(event::TracerStat::kFilteredOut), 2u);
}

TEST_F(RecordDispatcherTest, RecordsItCannotReadAreCountedByWhy) {
  Make();
  dispatcher_->Process(RecordBuilder(99).U64(0).Finish());
  dispatcher_->Process(SampleBytes({.pid = 1, .tid = 1, .time = 1, .id = kId + 1}, 0, 1, {}));
  std::vector<uint8_t> cut = SampleBytes({.pid = 1, .tid = 1, .time = 1, .id = kId}, 0, 1, {1, 2});
  cut.resize(cut.size() - 8);
  const uint16_t size = static_cast<uint16_t>(cut.size());
  std::memcpy(cut.data() + 6, &size, 2);
  dispatcher_->Process(cut);
  dispatcher_->Process(
      RecordBuilder(PERF_RECORD_LOST).U64(kId).U64(17).Trailer(kSampleType, {.id = kId}).Finish());
  EXPECT_EQ(Counted(event::TracerStat::kUnknownRecords), 1u);
  EXPECT_EQ(Counted(event::TracerStat::kForeignRecords), 1u);
  EXPECT_EQ(Counted(event::TracerStat::kMalformedRecords), 1u);
  EXPECT_EQ(Counted(event::TracerStat::kLost), 17u);
  EXPECT_TRUE(sink_.events.empty());
}

TEST_F(RecordDispatcherTest, NativeDeferredCallchainsReachTheSinkUnderTheirCookie) {
  Make();
  const cookie::Cookie c = cookie::MakeCookie(0, 5);
  dispatcher_->Process(RecordBuilder(tracer::abi::kRecordCallchainDeferred)
                           .U64(c)
                           .U64(3)
                           .U64(kUser)
                           .U64(0x401000)
                           .U64(0x402000)
                           .Trailer(kSampleType, {.pid = 1, .tid = 1, .time = 9, .id = kId})
                           .Finish());
  ASSERT_EQ(sink_.user_stacks.size(), 1u);
  EXPECT_EQ(sink_.user_stacks.begin()->first, c);
  EXPECT_EQ(sink_.user_stacks.begin()->second, (std::vector<uint64_t>{0x401000, 0x402000}))
      << "without the context marker";
  EXPECT_EQ(Counted(event::TracerStat::kDeferredCallchains), 1u);
}

}  // namespace
}  // namespace dprof::tracer::internal
