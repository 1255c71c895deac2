// A sample's stacks by call-graph mode: the kernel chain saved and tagged, the user half inline,
// as the kernel's cookie, or missing (counted); frames a full depot refused ride along.
#include "tracer/internal/sample_stacks.h"

#include <linux/perf_event.h>

#include <memory>
#include <vector>

#include "dprof/cookie/cookie.h"
#include "dprof/tracer/perf_abi.h"
#include "gtest/gtest.h"

namespace dprof::tracer::internal {
namespace {

constexpr uint64_t kKernel = static_cast<uint64_t>(PERF_CONTEXT_KERNEL);
constexpr uint64_t kUser = static_cast<uint64_t>(PERF_CONTEXT_USER);
constexpr uint64_t kUserDeferred = abi::kContextUserDeferred;

const std::vector<uint64_t> kKernelFrames = {0xffffffff81000010, 0xffffffff81000020};
const std::vector<uint64_t> kUserFrames = {0x401136, 0x4011d2};

class SampleStacksTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(services_.InitDepot(depot_).ok()); }

  // Attaches the stacks of a kernel-mode sample of thread 7 whose chain is `chain`.
  event::TraceEvent Attach(StackMode mode, const std::vector<uint64_t>& chain,
                           const SampleRecord& base = {}) {
    SampleStacks stacks(mode, &services_, &tracker_, &counters_);
    SampleRecord s = base;
    s.sid = {.pid = 7, .tid = 7, .time = 1000, .cpu = 1};
    s.misc = PERF_RECORD_MISC_KERNEL;
    s.callchain = chain;
    event::TraceEvent e;
    stacks.Attach(
        s, [](uint32_t) { return std::shared_ptr<const unwind::AddressSpace>(); }, &e);
    return e;
  }
  std::vector<uint64_t> Frames(stackdepot::Handle h) const {
    std::span<const uint64_t> f = services_.depot()->Fetch(h);
    return {f.begin(), f.end()};
  }
  std::vector<uint64_t> Chain(uint64_t user_marker, const std::vector<uint64_t>& user) const {
    std::vector<uint64_t> c = {kKernel};
    c.insert(c.end(), kKernelFrames.begin(), kKernelFrames.end());
    c.push_back(user_marker);
    c.insert(c.end(), user.begin(), user.end());
    return c;
  }
  uint64_t NoUserContext() const {
    return counters_.Stats(nullptr, nullptr)[event::TracerStat::kNoUserContext];
  }

  stackdepot::Depot* depot_ = nullptr;  // the services' own
  StackServices services_;
  cookie::CookieAllocator cookies_;
  cookie::ContextTracker tracker_{&cookies_};
  SourceCounters counters_;
};

TEST_F(SampleStacksTest, FramePointerUserFramesAreInline) {
  const event::TraceEvent e = Attach(StackMode::kFramePointer, Chain(kUser, kUserFrames));
  EXPECT_EQ(stackdepot::ExtraBits(e.kernel_stack), event::kKernelStackTag);
  EXPECT_EQ(Frames(e.kernel_stack), kKernelFrames);
  EXPECT_EQ(e.user, event::UserStack::kInline);
  EXPECT_EQ(stackdepot::ExtraBits(e.user_stack), event::kUserStackTag);
  EXPECT_EQ(Frames(e.user_stack), kUserFrames);
  EXPECT_TRUE(e.kernel_pcs.empty() && e.user_pcs.empty());
  EXPECT_EQ(NoUserContext(), 0u);
}

TEST_F(SampleStacksTest, AKernelThreadHasNoUserContext) {
  const event::TraceEvent e = Attach(StackMode::kFramePointer, Chain(kUser, {}));
  EXPECT_EQ(Frames(e.kernel_stack), kKernelFrames);
  EXPECT_EQ(e.user, event::UserStack::kNone);
  EXPECT_EQ(NoUserContext(), 1u);
}

TEST_F(SampleStacksTest, WithoutCallGraphsOnlyTheKernelChainIsKept) {
  const event::TraceEvent e = Attach(StackMode::kNone, Chain(kUser, kUserFrames));
  EXPECT_EQ(Frames(e.kernel_stack), kKernelFrames);
  EXPECT_EQ(e.user, event::UserStack::kNone);
  EXPECT_EQ(NoUserContext(), 0u);
}

TEST_F(SampleStacksTest, NativeSamplesCarryTheKernelsCookie) {
  const cookie::Cookie native = cookie::MakeCookie(1, 77);
  const event::TraceEvent e = Attach(StackMode::kNative, Chain(kUserDeferred, {native}));
  EXPECT_EQ(e.user, event::UserStack::kDeferred);
  EXPECT_EQ(e.cookie, native);
  // User frames walked before native support (no deferred marker): inline.
  const event::TraceEvent walked = Attach(StackMode::kNative, Chain(kUser, kUserFrames));
  EXPECT_EQ(walked.user, event::UserStack::kInline);
  EXPECT_EQ(Frames(walked.user_stack), kUserFrames);
}

TEST_F(SampleStacksTest, DwarfSamplesWithoutRegistersOrStackAreCounted) {
  const event::TraceEvent no_regs = Attach(StackMode::kDwarf, Chain(kUser, {}));
  EXPECT_EQ(no_regs.user, event::UserStack::kNone);
  EXPECT_EQ(NoUserContext(), 1u);

  const uint64_t regs[3] = {1, 2, 3};
  SampleRecord with_regs;
  with_regs.regs_abi = PERF_SAMPLE_REGS_ABI_64;
  with_regs.regs = regs;
  with_regs.regs_mask = 7;
  const event::TraceEvent no_stack = Attach(StackMode::kDwarf, Chain(kUser, {}), with_regs);
  EXPECT_EQ(no_stack.user, event::UserStack::kMissing);
  EXPECT_EQ(NoUserContext(), 2u);
}

TEST(SampleStacksDepotTest, FramesAFullDepotRefusedRideAlong) {
  auto depot = stackdepot::Depot::Create({.pool_bytes = 4096, .max_bytes = 4096}).value();
  for (uint64_t i = 0;
       depot->Save(std::vector<uint64_t>{i, i + 1}, stackdepot::kCanAlloc) != stackdepot::kNoHandle;
       ++i) {
  }
  StackServices services;
  ASSERT_TRUE(services.InitDepot(depot.get()).ok());
  cookie::CookieAllocator cookies;
  cookie::ContextTracker tracker(&cookies);
  SourceCounters counters;
  SampleStacks stacks(StackMode::kFramePointer, &services, &tracker, &counters);
  std::vector<uint64_t> chain = {kKernel};
  chain.insert(chain.end(), kKernelFrames.begin(), kKernelFrames.end());
  chain.push_back(kUser);
  chain.insert(chain.end(), kUserFrames.begin(), kUserFrames.end());
  SampleRecord s;
  s.sid = {.pid = 7, .tid = 7};
  s.callchain = chain;
  event::TraceEvent e;
  stacks.Attach(
      s, [](uint32_t) { return std::shared_ptr<const unwind::AddressSpace>(); }, &e);
  EXPECT_EQ(e.kernel_stack, stackdepot::kNoHandle);
  EXPECT_EQ(std::vector<uint64_t>(e.kernel_pcs.begin(), e.kernel_pcs.end()), kKernelFrames);
  EXPECT_EQ(e.user, event::UserStack::kInline);
  EXPECT_EQ(e.user_stack, stackdepot::kNoHandle);
  EXPECT_EQ(std::vector<uint64_t>(e.user_pcs.begin(), e.user_pcs.end()), kUserFrames);
}

}  // namespace
}  // namespace dprof::tracer::internal
