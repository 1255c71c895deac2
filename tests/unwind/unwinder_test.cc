// Every unwinder against real stacks: samples/unwind_target captures its own registers and stack
// in chain_c (main -> chain_a -> chain_b -> chain_c), built with frame pointers, without, and
// with the chain in a shared library. An unwinder must recover exactly the return addresses the
// program recorded, and those must name the chain's functions when symbolized with libdw.
#include "dprof/unwind/unwinder.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/unwind_testing.h"

namespace dprof::unwind {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

struct Case {
  std::string unwinder;  // "fp", "libdw", "libunwind"
  std::string variant;   // unwind_target build: "fp", "nofp", "shlib"

  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.unwinder << " on " << c.variant; }
};

std::unique_ptr<Unwinder> MakeUnwinder(const std::string& name, BinaryCache*) {
  if (name == "fp") return MakeFramePointerUnwinder();
  if (name == "dwarf") return MakeDwarfUnwinder();
  if (name == "libdw") return MakeLibdwUnwinder();
  if (name == "libunwind") return MakeLibunwindUnwinder();
  return nullptr;
}

std::vector<uint64_t> UnwindAll(Unwinder& unwinder, const Snapshot& snapshot, UnwindResult* result,
                                size_t max_frames = 256) {
  std::vector<uint64_t> pcs(max_frames);
  *result = unwinder.Unwind(snapshot, pcs);
  pcs.resize(result->frames);
  return pcs;
}

class UnwinderTest : public ::testing::TestWithParam<Case> {
 protected:
  // Runs this case's build of unwind_target with `depth` frames and makes this case's unwinder.
  testing::LoadedCapture Capture(int depth) {
    absl::StatusOr<testing::LoadedCapture> loaded =
        testing::CaptureStack(testing::UnwindTarget(GetParam().variant), depth, 65536, &binaries_);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    unwinder_ = MakeUnwinder(GetParam().unwinder, &binaries_);
    EXPECT_NE(unwinder_, nullptr);
    return loaded.ok() ? *std::move(loaded) : testing::LoadedCapture{};
  }

  BinaryCache binaries_;
  std::unique_ptr<Unwinder> unwinder_;
};

TEST_P(UnwinderTest, RecoversTheRecordedReturnAddresses) {
  const testing::LoadedCapture loaded = Capture(4);
  ASSERT_FALSE(HasFailure());
  UnwindResult result;
  const std::vector<uint64_t> pcs = UnwindAll(*unwinder_, loaded.snapshot(), &result);
  const std::vector<uint64_t>& expected = loaded.capture.expected;  // chain_b ... main's caller
  ASSERT_EQ(expected.size(), 4u);

  ASSERT_GE(pcs.size(), 1 + expected.size()) << StopReasonName(result.reason);
  EXPECT_EQ(pcs[0], loaded.capture.regs[kRip]);
  EXPECT_THAT(std::vector<uint64_t>(pcs.begin() + 1, pcs.begin() + 1 + expected.size()),
              ElementsAreArray(expected));
  const testing::Symbolizer symbols(*loaded.space);
  const std::vector<std::string> names =
      symbols.Functions(std::vector<uint64_t>(pcs.begin(), pcs.begin() + 4));
  EXPECT_THAT(names, ElementsAre("chain_c", "chain_b", "chain_a", "main"));
}

TEST_P(UnwinderTest, TruncatedStackEndsWithOutOfStack) {
  const testing::LoadedCapture loaded = Capture(4);
  ASSERT_FALSE(HasFailure());
  // Cut the copy in the middle of the slot that holds chain_b's return address into chain_a.
  const std::vector<uint8_t>& stack = loaded.capture.stack;
  const uint64_t into_a = loaded.capture.expected[1];
  size_t slot = 0;
  while (slot + 8 <= stack.size() &&
         std::memcmp(stack.data() + slot, &into_a, sizeof(into_a)) != 0) {
    slot += 8;
  }
  ASSERT_LT(slot + 8, stack.size()) << "chain_b's return address is not on the stack";
  Snapshot truncated = loaded.snapshot();
  truncated.stack = truncated.stack.first(slot + 4);
  UnwindResult result;
  const std::vector<uint64_t> pcs = UnwindAll(*unwinder_, truncated, &result);
  EXPECT_EQ(result.reason, StopReason::kOutOfStack) << StopReasonName(result.reason);
  // chain_c's pc and its return address into chain_b came from below the cut.
  ASSERT_EQ(pcs.size(), 2u);
  EXPECT_EQ(pcs[1], loaded.capture.expected[0]);
}

TEST_P(UnwinderTest, StopsAtTheFrameLimit) {
  const testing::LoadedCapture loaded = Capture(12);
  ASSERT_FALSE(HasFailure());
  UnwindResult result;
  const std::vector<uint64_t> pcs = UnwindAll(*unwinder_, loaded.snapshot(), &result, 5);
  EXPECT_EQ(result.reason, StopReason::kFrameLimit);
  EXPECT_EQ(pcs.size(), 5u);
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  return info.param.unwinder + "_on_" + info.param.variant;
}

// Every unwinder on every build it must handle.
INSTANTIATE_TEST_SUITE_P(FramePointer, UnwinderTest, ::testing::Values(Case{"fp", "fp"}), CaseName);
INSTANTIATE_TEST_SUITE_P(Dwarf, UnwinderTest,
                         ::testing::Values(Case{"dwarf", "fp"}, Case{"dwarf", "nofp"},
                                           Case{"dwarf", "shlib"}),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Libdw, UnwinderTest,
                         ::testing::Values(Case{"libdw", "fp"}, Case{"libdw", "nofp"},
                                           Case{"libdw", "shlib"}),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Libunwind, UnwinderTest,
                         ::testing::Values(Case{"libunwind", "fp"}, Case{"libunwind", "nofp"},
                                           Case{"libunwind", "shlib"}),
                         CaseName);

// The DWARF unwinders read the same CFI through different code: on builds without frame
// pointers they must agree on every frame, through libc's start code to the outermost frame.
TEST(DwarfUnwindersTest, AgreeFrameForFrame) {
  BinaryCache binaries;
  std::unique_ptr<Unwinder> unwinders[] = {MakeLibdwUnwinder(), MakeLibunwindUnwinder(),
                                           MakeDwarfUnwinder()};
  for (const std::string variant : {"nofp", "shlib"}) {
    for (int depth : {4, 20, 60}) {
      SCOPED_TRACE(variant + " at depth " + std::to_string(depth));
      absl::StatusOr<testing::LoadedCapture> loaded =
          testing::CaptureStack(testing::UnwindTarget(variant), depth, 65536, &binaries);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      UnwindResult reference_result;
      const std::vector<uint64_t> reference =
          UnwindAll(*unwinders[0], loaded->snapshot(), &reference_result);
      EXPECT_EQ(reference_result.reason, StopReason::kOutermost)
          << StopReasonName(reference_result.reason);
      for (auto& other : unwinders) {
        UnwindResult result;
        EXPECT_EQ(UnwindAll(*other, loaded->snapshot(), &result), reference) << other->name();
        EXPECT_EQ(result.reason, StopReason::kOutermost)
            << other->name() << ": " << StopReasonName(result.reason);
      }
      // chain_c, depth - 1 callers through main, then libc's start code.
      ASSERT_GT(reference.size(), static_cast<size_t>(depth));
      const testing::Symbolizer symbols(*loaded->space);
      EXPECT_EQ(symbols.FunctionAt(reference.back(), true), "_start");
      EXPECT_EQ(symbols.FunctionAt(reference[depth - 1], true), "main");
    }
  }
}

// The engine's content cache trusts the extent the DWARF unwinder reports: the copy cut there
// must unwind to the same frames (and report the same extent), and a copy that differs only
// beyond it must too. A truncated copy, whose reads fell past its end, reports the whole copy.
TEST(DwarfUnwinderTest, TheStackExtentDecidesTheResult) {
  BinaryCache binaries;
  std::unique_ptr<Unwinder> dwarf = MakeDwarfUnwinder();
  for (const std::string variant : {"nofp", "fp", "shlib"}) {
    for (int depth : {4, 20, 60}) {
      SCOPED_TRACE(variant + " at depth " + std::to_string(depth));
      absl::StatusOr<testing::LoadedCapture> loaded =
          testing::CaptureStack(testing::UnwindTarget(variant), depth, 65536, &binaries);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      const Snapshot whole = loaded->snapshot();
      UnwindResult result;
      const std::vector<uint64_t> frames = UnwindAll(*dwarf, whole, &result);
      ASSERT_EQ(result.reason, StopReason::kOutermost);
      ASSERT_NE(result.stack_extent, kWholeStack);
      ASSERT_LE(result.stack_extent, whole.stack.size());
      ASSERT_GT(result.stack_extent, 0u);

      Snapshot cut = whole;
      cut.stack = whole.stack.first(result.stack_extent);
      UnwindResult cut_result;
      EXPECT_EQ(UnwindAll(*dwarf, cut, &cut_result), frames);
      EXPECT_EQ(cut_result.reason, StopReason::kOutermost);
      EXPECT_EQ(cut_result.stack_extent, result.stack_extent);

      std::vector<uint8_t> changed(whole.stack.begin(), whole.stack.end());
      std::fill(changed.begin() + result.stack_extent, changed.end(), 0xee);
      Snapshot beyond = whole;
      beyond.stack = changed;
      UnwindResult beyond_result;
      EXPECT_EQ(UnwindAll(*dwarf, beyond, &beyond_result), frames);

      // One word short of the extent: a read falls past the copy's end.
      Snapshot shorter = whole;
      shorter.stack = whole.stack.first(result.stack_extent - 8);
      UnwindResult shorter_result;
      UnwindAll(*dwarf, shorter, &shorter_result);
      EXPECT_EQ(shorter_result.stack_extent, kWholeStack);
    }
  }
}

// Without frame pointers rbp is an ordinary register: the frame-pointer unwinder may return a
// short or wrong stack, but it must stop by itself, cleanly, for a reason it names.
TEST(FramePointerUnwinderTest, EndsCleanlyWithoutFramePointers) {
  BinaryCache binaries;
  for (const std::string variant : {"nofp", "shlib"}) {
    absl::StatusOr<testing::LoadedCapture> loaded =
        testing::CaptureStack(testing::UnwindTarget(variant), 12, 65536, &binaries);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    std::unique_ptr<Unwinder> unwinder = MakeFramePointerUnwinder();
    UnwindResult result;
    const std::vector<uint64_t> pcs = UnwindAll(*unwinder, loaded->snapshot(), &result);
    ASSERT_GE(pcs.size(), 1u) << variant;
    EXPECT_EQ(pcs[0], loaded->capture.regs[kRip]) << variant;
    EXPECT_NE(result.reason, StopReason::kFrameLimit) << variant;
  }
}

}  // namespace
}  // namespace dprof::unwind
