// SymbolizeRecording's progress: what a status line shows while a recording's addresses are named.
#include <vector>

#include "dprof/profile/symbolizer.h"
#include "gtest/gtest.h"
#include "tests/profile/recording_testing.h"

namespace dprof::profile {
namespace {

TEST(SymbolizeRecordingTest, TellsItsProgressFromStartToEnd) {
  Recording r = testing::MakeRecording(2000);
  std::vector<Symbolizer::Progress> told;
  Symbolizer symbolizer(
      {.kallsyms = "", .progress = [&](const Symbolizer::Progress& p) { told.push_back(p); }});
  SymbolizeRecording(r, symbolizer);

  ASSERT_GE(told.size(), 2u);
  const Symbolizer::Progress& first = told.front();
  EXPECT_EQ(first.named, 0u);
  // Every address named, and told once at the end.
  EXPECT_EQ(first.addresses, r.symbol_of.size() + r.mapped_symbol_of.size());
  EXPECT_EQ(told.back().named, first.addresses);
  EXPECT_GT(first.stacks, 0u);
  EXPECT_GT(first.binaries, 0u);
  for (size_t i = 1; i < told.size(); ++i) {
    EXPECT_GT(told[i].named, told[i - 1].named);
    EXPECT_EQ(told[i].addresses, first.addresses);
    EXPECT_EQ(told[i].stacks, first.stacks);
    EXPECT_EQ(told[i].binaries, first.binaries);
  }
  // Between the start and the end, every 256 addresses.
  EXPECT_EQ(told.size(), 2 + (first.addresses - 1) / 256);
}

TEST(SymbolizeRecordingTest, NothingToNameIsToldAsDone) {
  Recording r;
  std::vector<Symbolizer::Progress> told;
  Symbolizer symbolizer(
      {.kallsyms = "", .progress = [&](const Symbolizer::Progress& p) { told.push_back(p); }});
  SymbolizeRecording(r, symbolizer);
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told.back().addresses, 0u);
  EXPECT_EQ(told.back().named, 0u);
}

}  // namespace
}  // namespace dprof::profile
