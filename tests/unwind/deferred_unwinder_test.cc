#include "dprof/unwind/deferred_unwinder.h"

#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"
#include "tests/testing/unwind_testing.h"
#include "tests/unwind/deferred_unwinder_testing.h"

namespace dprof::unwind {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using testing::Event;
using testing::FakeUnwinder;
using testing::Gate;

const std::vector<uint8_t> kStack(256, 0xab);

// Every callback call a work received.
struct Calls {
  std::mutex mu;
  std::vector<std::pair<Cookie, std::vector<uint64_t>>> got;

  UnwindCallback Callback() {
    return [this](const UnwindTrace& trace, Cookie cookie) {
      std::lock_guard lock(mu);
      got.emplace_back(cookie, std::vector<uint64_t>(trace.pcs.begin(), trace.pcs.end()));
    };
  }
  size_t size() {
    std::lock_guard lock(mu);
    return got.size();
  }
};

class DeferredUnwinderTest : public ::testing::Test {
 protected:
  void Start(DeferredUnwinder::Options options, Gate* gate = nullptr) {
    auto fake = std::make_unique<FakeUnwinder>(gate);
    fake_ = fake.get();
    options.unwinder = std::move(fake);
    absl::StatusOr<std::unique_ptr<DeferredUnwinder>> engine =
        DeferredUnwinder::Create(std::move(options));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }
  UnwindWork Register(Calls& calls) {
    absl::StatusOr<UnwindWork> work = engine_->Register(calls.Callback());
    EXPECT_TRUE(work.ok()) << work.status();
    return *work;
  }

  // The callbacks' state outlives the engine, whose destructor still delivers.
  Calls a_, b_, c_;
  FakeUnwinder* fake_ = nullptr;
  std::unique_ptr<DeferredUnwinder> engine_;
};

TEST_F(DeferredUnwinderTest, OneUnwindPerCookieHoweverManyWorksAndRequests) {
  Gate gate(false);
  Start({.workers = 2}, &gate);
  Calls &a = a_, &b = b_, &c = c_;
  const UnwindWork works[] = {Register(a), Register(b), Register(c)};
  // One kernel entry: every event carries the same user registers.
  std::vector<RequestResult> results;
  for (int i = 0; i < 10; ++i) {
    for (UnwindWork w : works)
      results.push_back(engine_->Request(w, Event(7, 0x401000, false, kStack)));
  }
  EXPECT_EQ(results[0].status, RequestStatus::kQueued);
  for (size_t i = 1; i < results.size(); ++i) {
    EXPECT_EQ(results[i].status, RequestStatus::kAlreadyPending) << i;
    EXPECT_EQ(results[i].cookie, results[0].cookie);
  }
  gate.Open();
  engine_->Flush();
  EXPECT_EQ(fake_->calls(), 1);
  for (Calls* calls : {&a, &b, &c}) {
    ASSERT_EQ(calls->size(), 1u);  // once per cookie, however often the work asked
    EXPECT_EQ(calls->got[0].first, results[0].cookie);
    EXPECT_EQ(calls->got[0].second, a.got[0].second);  // the same trace for every work
  }
  EXPECT_THAT(a.got[0].second, ElementsAre(0x401000, 0x7ffd0000, kStack.size(), 7));
  const EngineStats stats = engine_->Stats();
  EXPECT_EQ(stats[EngineStat::kRequests], 30u);
  EXPECT_EQ(stats[EngineStat::kJobs], 1u);
  EXPECT_EQ(stats[EngineStat::kShared], 29u);
  EXPECT_EQ(stats[EngineStat::kUnwinds], 1u);
  EXPECT_EQ(stats[EngineStat::kDeliveries], 3u);
  EXPECT_EQ(stats.stopped(StopReason::kOutermost), 1u);
}

TEST_F(DeferredUnwinderTest, SeparateEntriesAreSeparateUnwinds) {
  Start({.workers = 1, .content_cache = 0});
  Calls& a = a_;
  const UnwindWork w = Register(a);
  const RequestResult in_read = engine_->Request(w, Event(7, 0x401000, false, kStack));
  const RequestResult user = engine_->Request(w, Event(7, 0x401000, true, kStack));
  const RequestResult in_write = engine_->Request(w, Event(7, 0x401100, false, kStack));
  const RequestResult other_task = engine_->Request(w, Event(8, 0x401000, false, kStack));
  engine_->Flush();
  std::set<Cookie> cookies = {in_read.cookie, user.cookie, in_write.cookie, other_task.cookie};
  EXPECT_EQ(cookies.size(), 4u);
  EXPECT_EQ(fake_->calls(), 4);
  EXPECT_EQ(a.size(), 4u);
}

// After the unwind ran, still in the same kernel entry: a work asking for the first time gets
// the kept trace without a new unwind; a work asking again is not called again.
TEST_F(DeferredUnwinderTest, LateRequestGetsTheKeptTraceWithoutANewUnwind) {
  Start({.workers = 1});
  Calls &a = a_, &b = b_;
  const UnwindWork wa = Register(a), wb = Register(b);
  const RequestResult first = engine_->Request(wa, Event(7, 0x401000, false, kStack));
  engine_->Flush();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(engine_->Request(wb, Event(7, 0x401000, false, kStack)).status, RequestStatus::kQueued);
  const RequestResult again = engine_->Request(wa, Event(7, 0x401000, false, kStack));
  EXPECT_EQ(again.status, RequestStatus::kAlreadyPending);
  EXPECT_EQ(again.cookie, first.cookie);
  engine_->Flush();
  EXPECT_EQ(fake_->calls(), 1);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(b.got[0], a.got[0]);
  // The next kernel entry is a new cookie, and a is called for it.
  EXPECT_NE(engine_->Request(wa, Event(7, 0x402000, false, kStack)).cookie, first.cookie);
  engine_->Flush();
  EXPECT_EQ(a.size(), 2u);
}

TEST_F(DeferredUnwinderTest, IdenticalSnapshotsReuseOneResult) {
  Start({.workers = 1});
  Calls& a = a_;
  const UnwindWork w = Register(a);
  // Two user-mode samples: two contexts, but the same registers and stack bytes.
  const RequestResult first = engine_->Request(w, Event(7, 0x401000, true, kStack));
  engine_->Flush();
  const RequestResult second = engine_->Request(w, Event(7, 0x401000, true, kStack));
  engine_->Flush();
  EXPECT_NE(first.cookie, second.cookie);
  EXPECT_EQ(fake_->calls(), 1);
  EXPECT_EQ(engine_->Stats()[EngineStat::kContentHits], 1u);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a.got[0].second, a.got[1].second);
  EXPECT_EQ(a.got[1].first, second.cookie);
}

// An unwinder that says it read the first `extent` bytes of every copy.
class ExtentUnwinder final : public Unwinder {
 public:
  explicit ExtentUnwinder(uint64_t extent) : extent_(extent) {}
  UnwindResult Unwind(const Snapshot& s, std::span<uint64_t> pcs) override {
    calls_.fetch_add(1);
    pcs[0] = s.regs.ip();
    pcs[1] = s.stack.empty() ? 0 : s.stack[0];
    return {2, StopReason::kOutermost, extent_};
  }
  std::string_view name() const override { return "extent"; }
  int calls() const { return calls_.load(); }

 private:
  uint64_t extent_;
  std::atomic<int> calls_{0};
};

// Only the bytes an unwind read decide a content hit: a snapshot equal to an earlier one up to
// the earlier unwind's extent reuses its result, however it differs beyond; one that differs
// within it, or is shorter than it, is unwound.
TEST(DeferredUnwinderContentTest, OnlyTheBytesReadMustBeEqual) {
  auto unwinder = std::make_unique<ExtentUnwinder>(64);
  ExtentUnwinder* fake = unwinder.get();
  absl::StatusOr<std::unique_ptr<DeferredUnwinder>> engine =
      DeferredUnwinder::Create({.unwinder = std::move(unwinder), .workers = 1});
  ASSERT_TRUE(engine.ok()) << engine.status();
  Calls calls;
  const absl::StatusOr<UnwindWork> work = (*engine)->Register(calls.Callback());
  ASSERT_TRUE(work.ok());
  auto request = [&](const std::vector<uint8_t>& stack) {
    (*engine)->Request(*work, Event(7, 0x401000, true, stack));
    (*engine)->Flush();
  };
  std::vector<uint8_t> stack(256, 0x11);
  request(stack);  // unwound
  std::fill(stack.begin() + 64, stack.end(), 0x22);
  request(stack);  // differs beyond the extent: a hit
  EXPECT_EQ(fake->calls(), 1);
  request(std::vector<uint8_t>(stack.begin(), stack.begin() + 64));  // as long as it: a hit
  EXPECT_EQ(fake->calls(), 1);
  request(std::vector<uint8_t>(stack.begin(), stack.begin() + 56));  // shorter: unwound
  EXPECT_EQ(fake->calls(), 2);
  stack[63] = 0x33;
  request(stack);  // differs within the extent: unwound
  EXPECT_EQ(fake->calls(), 3);
  EXPECT_EQ((*engine)->Stats()[EngineStat::kContentHits], 2u);
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls.got[1].second, calls.got[0].second);
  (*engine)->Cancel(*work);
}

TEST_F(DeferredUnwinderTest, AFullQueueDropsSnapshotsAndCountsThem) {
  Gate gate(false);
  Start({.workers = 1, .queue_capacity = 2}, &gate);
  Calls& a = a_;
  const UnwindWork w = Register(a);
  EXPECT_EQ(engine_->Request(w, Event(1, 0x401000, true, kStack)).status, RequestStatus::kQueued);
  // The worker takes the first job and waits at the gate; two more fill the queue.
  ASSERT_TRUE(testing::Eventually([&] { return fake_->calls() == 1; }));
  EXPECT_EQ(engine_->Request(w, Event(2, 0x401000, true, kStack)).status, RequestStatus::kQueued);
  EXPECT_EQ(engine_->Request(w, Event(3, 0x401000, true, kStack)).status, RequestStatus::kQueued);
  const RequestResult dropped = engine_->Request(w, Event(4, 0x401000, true, kStack));
  EXPECT_EQ(dropped.status, RequestStatus::kDropped);
  EXPECT_EQ(RequestStatusName(dropped.status), "dropped: unwind queue full");
  EXPECT_NE(dropped.cookie, cookie::kNoCookie);  // the event still has its context
  EXPECT_EQ(engine_->Stats()[EngineStat::kDrops], 1u);
  gate.Open();
  engine_->Flush();
  EXPECT_EQ(a.size(), 3u);
}

// The unwinder of TakesTheRequestersBuffer: keeps the bytes of every snapshot it is given.
class BytesUnwinder final : public Unwinder {
 public:
  UnwindResult Unwind(const Snapshot& s, std::span<uint64_t> pcs) override {
    std::lock_guard lock(mu_);
    seen_.emplace_back(s.stack.begin(), s.stack.end());
    where_.push_back(s.stack.data());
    pcs[0] = s.regs.ip();
    return {1, StopReason::kOutermost};
  }
  std::string_view name() const override { return "bytes"; }
  std::vector<std::vector<uint8_t>> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  // Where each snapshot's bytes were when it was unwound.
  std::vector<const uint8_t*> where() {
    std::lock_guard lock(mu_);
    return where_;
  }

 private:
  std::mutex mu_;
  std::vector<std::vector<uint8_t>> seen_;
  std::vector<const uint8_t*> where_;
};

// A requester done with the buffer its snapshot lies in (the tracer's queue of records) hands it
// over: the engine takes it, leaving one of its own, and unwinds the same bytes without a copy.
TEST(DeferredUnwinderBuffersTest, TakesTheRequestersBufferInsteadOfCopying) {
  auto unwinder = std::make_unique<BytesUnwinder>();
  BytesUnwinder* bytes = unwinder.get();
  absl::StatusOr<std::unique_ptr<DeferredUnwinder>> engine =
      DeferredUnwinder::Create({.unwinder = std::move(unwinder), .workers = 1, .content_cache = 0});
  ASSERT_TRUE(engine.ok()) << engine.status();
  Calls calls;
  const absl::StatusOr<UnwindWork> work = (*engine)->Register(calls.Callback());
  ASSERT_TRUE(work.ok());

  // A record: 16 bytes of header, then 200 bytes of stack.
  StackBuffer record(27);
  auto* record_bytes = reinterpret_cast<uint8_t*>(record.data());
  for (size_t i = 0; i < 8 * record.size(); ++i) record_bytes[i] = static_cast<uint8_t>(i);
  const std::vector<uint8_t> expected(record_bytes + 16, record_bytes + 216);
  TaskContext taken = Event(1, 0x401000, true, {});
  taken.stack = std::span<const uint8_t>(record_bytes + 16, 200);
  taken.stack_buffer = &record;
  EXPECT_EQ((*engine)->Request(*work, taken).status, RequestStatus::kQueued);
  EXPECT_NE(reinterpret_cast<uint8_t*>(record.data()), record_bytes);  // it took the buffer

  // A stack outside the buffer given is copied; the buffer stays the requester's.
  StackBuffer unrelated(4);
  const std::vector<uint8_t> other(64, 0x5a);
  TaskContext copied = Event(2, 0x402000, true, other);
  copied.stack_buffer = &unrelated;
  EXPECT_EQ((*engine)->Request(*work, copied).status, RequestStatus::kQueued);
  EXPECT_EQ(unrelated.size(), 4u);
  (*engine)->Flush();

  EXPECT_THAT(bytes->seen(), ::testing::UnorderedElementsAre(expected, other));
  EXPECT_EQ((*engine)->Stats()[EngineStat::kTakenSnapshots], 1u);
  EXPECT_EQ(calls.size(), 2u);
  (*engine)->Cancel(*work);
}

// A stack that lasts until the engine's next Flush() (a mapped perf.data file) is unwound where it
// lies; a source that must not drop waits for room (WaitUntilAtMost) instead of flushing all.
TEST(DeferredUnwinderBuffersTest, ReadsLastingStacksInPlaceAndWaitsForRoom) {
  auto unwinder = std::make_unique<BytesUnwinder>();
  BytesUnwinder* bytes = unwinder.get();
  constexpr size_t kCapacity = 8;
  absl::StatusOr<std::unique_ptr<DeferredUnwinder>> engine = DeferredUnwinder::Create(
      {.unwinder = std::move(unwinder), .workers = 1, .queue_capacity = kCapacity});
  ASSERT_TRUE(engine.ok()) << engine.status();
  Calls calls;
  const absl::StatusOr<UnwindWork> work = (*engine)->Register(calls.Callback());
  ASSERT_TRUE(work.ok());
  // A "file" of 100 stacks of 64 bytes each, every one different.
  constexpr size_t kStacks = 100;
  std::vector<uint8_t> file(64 * kStacks);
  for (size_t i = 0; i < file.size(); ++i) file[i] = static_cast<uint8_t>(i / 64 + i);
  for (size_t i = 0; i < kStacks; ++i) {
    // Never more than the queue holds: half of it outstanding before each half more.
    if (i % (kCapacity / 2) == 0) (*engine)->WaitUntilAtMost(kCapacity / 2);
    TaskContext lasting = Event(static_cast<uint32_t>(i + 1), 0x401000 + i, true, {});
    lasting.stack = std::span<const uint8_t>(file.data() + 64 * i, 64);
    lasting.stack_lasts = true;
    ASSERT_EQ((*engine)->Request(*work, lasting).status, RequestStatus::kQueued) << i;
  }
  (*engine)->Flush();
  EXPECT_EQ(calls.size(), kStacks);
  EXPECT_EQ((*engine)->Stats()[EngineStat::kDrops], 0u);
  EXPECT_EQ((*engine)->Stats()[EngineStat::kTakenSnapshots], kStacks);
  const std::vector<const uint8_t*> unwound_at = bytes->where();
  const std::set<const uint8_t*> where(unwound_at.begin(), unwound_at.end());
  ASSERT_EQ(where.size(), kStacks);
  for (size_t i = 0; i < kStacks; ++i) EXPECT_TRUE(where.contains(file.data() + 64 * i)) << i;
  (*engine)->Cancel(*work);
}

TEST_F(DeferredUnwinderTest, SnapshotsAreCutToMaxStackBytes) {
  Start({.workers = 1, .max_stack_bytes = 100});
  Calls& a = a_;
  engine_->Request(Register(a), Event(1, 0x401000, true, kStack));
  engine_->Flush();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a.got[0].second[2], 100u);
  EXPECT_EQ(engine_->Stats()[EngineStat::kTruncatedCopies], 1u);
}

TEST_F(DeferredUnwinderTest, CancelClearsPendingRequestsAndRefusesNewOnes) {
  Gate gate(false);
  Start({.workers = 1}, &gate);
  Calls &a = a_, &b = b_;
  const UnwindWork wa = Register(a), wb = Register(b);
  // A job the worker holds (unwinding), and one queued behind it; both asked for by a and b.
  engine_->Request(wa, Event(1, 0x401000, false, kStack));
  engine_->Request(wb, Event(1, 0x401000, false, kStack));
  ASSERT_TRUE(testing::Eventually([&] { return fake_->calls() == 1; }));
  engine_->Request(wa, Event(2, 0x401000, false, kStack));
  engine_->Request(wb, Event(2, 0x401000, false, kStack));
  engine_->Cancel(wa);
  EXPECT_EQ(engine_->Request(wa, Event(3, 0x401000, false, kStack)).status,
            RequestStatus::kCanceled);
  engine_->Cancel(wa);  // twice is harmless
  // A new work may get a's bit; it must not inherit a's pending requests.
  Calls& c = c_;
  const UnwindWork wc = Register(c);
  gate.Open();
  engine_->Flush();
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(wc.bit, wa.bit);
  EXPECT_EQ(engine_->Stats()[EngineStat::kCanceledRequests], 1u);
}

// A consumer that asks again from inside its callback (for the cookie it is being told about)
// gets it once, not an endless stream of calls.
TEST_F(DeferredUnwinderTest, ACallbackAskingForItsOwnCookieIsCalledOnce) {
  Start({.workers = 1});
  std::atomic<int> calls{0};
  UnwindWork self;
  const TaskContext event = Event(7, 0x401000, false, kStack);
  self = engine_
             ->Register([&](const UnwindTrace&, Cookie) {
               if (calls.fetch_add(1) < 100) engine_->Request(self, event);
             })
             .value();
  engine_->Request(self, event);
  engine_->Flush();
  EXPECT_EQ(calls.load(), 1);
}

// Two threads cancel one work whose callback is running: neither returns before it has finished.
TEST_F(DeferredUnwinderTest, EveryCancelWaitsForTheRunningCallback) {
  Start({.workers = 1});
  Gate in_callback(false), release(false);
  std::atomic<bool> callback_done{false};
  const UnwindWork w = engine_
                           ->Register([&](const UnwindTrace&, Cookie) {
                             in_callback.Open();
                             release.Wait();
                             callback_done.store(true);
                           })
                           .value();
  engine_->Request(w, Event(1, 0x401000, true, kStack));
  in_callback.Wait();
  std::atomic<int> returned_early{0};
  auto cancel = [&] {
    engine_->Cancel(w);
    if (!callback_done.load()) returned_early.fetch_add(1);
  };
  std::thread first(cancel), second(cancel);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  release.Open();
  first.join();
  second.join();
  EXPECT_EQ(returned_early.load(), 0);
}

TEST_F(DeferredUnwinderTest, AtLeast32WorksAndAClearErrorBeyondTheLimit) {
  Start({.workers = 1});
  Calls& calls = a_;
  std::vector<UnwindWork> works;
  for (int i = 0; i < DeferredUnwinder::kMaxWorks; ++i) works.push_back(Register(calls));
  EXPECT_GE(works.size(), 32u);
  absl::StatusOr<UnwindWork> one_more = engine_->Register(calls.Callback());
  EXPECT_EQ(one_more.status().code(), absl::StatusCode::kResourceExhausted);
  engine_->Cancel(works[10]);
  EXPECT_TRUE(engine_->Register(calls.Callback()).ok());
}

TEST_F(DeferredUnwinderTest, ExitedTaskStartsFresh) {
  Start({.workers = 1});
  Calls& a = a_;
  const UnwindWork w = Register(a);
  const Cookie before = engine_->Request(w, Event(7, 0x401000, false, kStack)).cookie;
  engine_->TaskExited(7);
  EXPECT_NE(engine_->Request(w, Event(7, 0x401000, false, kStack)).cookie, before);
}

TEST_F(DeferredUnwinderTest, NativeCookiesAreUsedAsTheKernelGaveThem) {
  Start({.workers = 1});
  Calls& a = a_;
  const UnwindWork w = Register(a);
  TaskContext context = Event(7, 0x401000, false, kStack);
  context.cookie = cookie::MakeCookie(1, 41);
  EXPECT_EQ(engine_->Request(w, context).cookie, context.cookie);
  engine_->Flush();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a.got[0].first, context.cookie);
}

TEST_F(DeferredUnwinderTest, TracesGoIntoTheDepot) {
  auto depot = stackdepot::Depot::Create({}).value();
  Start({.workers = 1, .depot = depot.get()});
  stackdepot::Handle handle = stackdepot::kNoHandle;
  std::vector<uint64_t> pcs;
  const UnwindWork w = engine_
                           ->Register([&](const UnwindTrace& t, Cookie) {
                             handle = t.handle;
                             pcs.assign(t.pcs.begin(), t.pcs.end());
                           })
                           .value();
  engine_->Request(w, Event(1, 0x401000, true, kStack));
  engine_->Flush();
  ASSERT_NE(handle, stackdepot::kNoHandle);
  EXPECT_THAT(depot->Fetch(handle), ElementsAreArray(pcs));
}

TEST_F(DeferredUnwinderTest, RejectsMissingUnwinder) {
  EXPECT_EQ(DeferredUnwinder::Create({}).status().code(), absl::StatusCode::kInvalidArgument);
}

// The engine with a real unwinder on a real captured stack.
TEST(DeferredUnwinderRealStackTest, DeliversTheUnwoundUserStack) {
  BinaryCache binaries;
  absl::StatusOr<testing::LoadedCapture> loaded =
      testing::CaptureStack(testing::UnwindTarget("shlib"), 6, 65536, &binaries);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::vector<uint64_t> pcs;  // outlives the engine that writes it
  std::mutex mu;
  auto engine = DeferredUnwinder::Create({.unwinder = MakeLibunwindUnwinder()}).value();
  const UnwindWork w = engine
                           ->Register([&](const UnwindTrace& t, Cookie) {
                             std::lock_guard lock(mu);
                             pcs.assign(t.pcs.begin(), t.pcs.end());
                           })
                           .value();
  const Snapshot s = loaded->snapshot();
  TaskContext context{.pid = s.pid,
                      .tid = s.tid,
                      .regs = s.regs,
                      .stack_address = s.stack_address,
                      .stack = s.stack,
                      .space = std::make_shared<AddressSpace>(*loaded->space)};
  EXPECT_EQ(engine->Request(w, context).status, RequestStatus::kQueued);
  engine->Flush();
  std::lock_guard lock(mu);
  const std::vector<uint64_t>& expected = loaded->capture.expected;
  ASSERT_GT(pcs.size(), expected.size());
  EXPECT_EQ(std::vector<uint64_t>(pcs.begin() + 1, pcs.begin() + 1 + expected.size()), expected);
}

}  // namespace
}  // namespace dprof::unwind
