// SymbolizeRecording: what a status line shows while a recording's addresses are named, and the
// old program's addresses of a sample taken inside an exec.
#include <unistd.h>

#include <string>
#include <vector>

#include "dprof/profile/process_history.h"
#include "dprof/profile/symbolizer.h"
#include "dprof/unwind/address_space.h"
#include "dprof/unwind/binary.h"
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

// A process forked from one that mapped libc execs: a sample in the kernel right after the exec's
// COMM record still holds the old program's registers, in libc's execve, and is named so, as perf
// names it; a sample of user code then is not.
TEST(SymbolizeRecordingTest, ASampleInsideAnExecNamesTheOldProgramsExecve) {
  const uint64_t pc = reinterpret_cast<uint64_t>(&execve);
  unwind::BinaryCache binaries;
  absl::StatusOr<unwind::AddressSpace> self = unwind::AddressSpace::FromProc(getpid(), &binaries);
  ASSERT_TRUE(self.ok()) << self.status();
  const unwind::Mapping* libc = self->Find(pc);
  ASSERT_NE(libc, nullptr);

  Recording r;
  r.mappings = {{.pid = 10,
                 .time_ns = 1,
                 .start = libc->start,
                 .end = libc->end,
                 .pgoff = libc->pgoff,
                 .prot = 5,
                 .path = libc->path}};
  r.tasks = {{.pid = 11, .ppid = 10, .tid = 11, .ptid = 10, .time_ns = 5}};
  r.threads = {{.pid = 11, .tid = 11, .time_ns = 10, .exec = true, .comm = "true"}};
  r.mappings.push_back({.pid = 11,
                        .time_ns = 11,
                        .start = 0x400000,
                        .end = 0x401000,
                        .prot = 5,
                        .path = "/bin/true"});
  r.stacks[0] = {pc};
  const Event in_kernel{
      .pid = 11, .tid = 11, .time_ns = 10, .user = event::UserStack::kInline, .user_stack = 0};
  Event in_user = in_kernel;
  in_user.user_mode = true;
  r.events = {in_kernel, in_user};

  Symbolizer symbolizer({.kallsyms = "", .live_processes = false}, &binaries);
  SymbolizeRecording(r, symbolizer);
  const ProcessHistory history(r);
  const Symbol* named = r.SymbolAt(11, history.MappingAt(11, 10, pc, true), pc);
  ASSERT_NE(named, nullptr);
  ASSERT_FALSE(named->frames.empty());
  EXPECT_NE(named->frames.back().function.find("execve"), std::string::npos)
      << named->frames.back().function;
  const Symbol* unnamed = r.SymbolAt(11, history.MappingAt(11, 10, pc, false), pc);
  ASSERT_NE(unnamed, nullptr);
  EXPECT_TRUE(unnamed->frames.empty() || unnamed->frames.back().function.empty());
}

}  // namespace
}  // namespace dprof::profile
