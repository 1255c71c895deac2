// Every unwinder shared by several threads (as the deferred engine's workers share one) gives the
// same frames as when it runs alone. Run under TSan too.
#include <latch>
#include <thread>
#include <vector>

#include "dprof/unwind/unwinder.h"
#include "gtest/gtest.h"
#include "tests/testing/unwind_testing.h"

namespace dprof::unwind {
namespace {

class UnwinderConcurrencyTest : public ::testing::TestWithParam<std::string> {};

std::unique_ptr<Unwinder> MakeUnwinder(const std::string& name) {
  if (name == "dwarf") return MakeDwarfUnwinder();
  if (name == "libdw") return MakeLibdwUnwinder();
  if (name == "libunwind") return MakeLibunwindUnwinder();
  return MakeFramePointerUnwinder();
}

TEST_P(UnwinderConcurrencyTest, SharedUnwinderAgreesWithItselfAlone) {
  BinaryCache binaries;
  std::vector<testing::LoadedCapture> captures;
  for (const std::string variant : {"fp", "nofp", "shlib"}) {
    for (int depth : {4, 30}) {
      absl::StatusOr<testing::LoadedCapture> c =
          testing::CaptureStack(testing::UnwindTarget(variant), depth, 65536, &binaries);
      ASSERT_TRUE(c.ok()) << c.status();
      captures.push_back(*std::move(c));
    }
  }
  std::unique_ptr<Unwinder> unwinder = MakeUnwinder(GetParam());
  // References from a fresh unwinder, on this thread alone.
  std::vector<std::vector<uint64_t>> expected;
  {
    std::unique_ptr<Unwinder> alone = MakeUnwinder(GetParam());
    for (const auto& c : captures) {
      std::vector<uint64_t> pcs(256);
      pcs.resize(alone->Unwind(c.snapshot(), pcs).frames);
      expected.push_back(pcs);
    }
  }
  constexpr int kThreads = 4, kRounds = 100;
  std::latch start(kThreads);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      std::vector<uint64_t> pcs(256);
      for (int round = 0; round < kRounds; ++round) {
        const size_t i = (t + round) % captures.size();
        const UnwindResult r = unwinder->Unwind(captures[i].snapshot(), pcs);
        if (std::vector<uint64_t>(pcs.begin(), pcs.begin() + r.frames) != expected[i]) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(AllUnwinders, UnwinderConcurrencyTest,
                         ::testing::Values("fp", "dwarf", "libdw", "libunwind"));

}  // namespace
}  // namespace dprof::unwind
