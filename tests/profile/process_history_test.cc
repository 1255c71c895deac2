// ProcessHistory on hand-built recordings: address spaces inherited at fork, replaced at exec,
// started over on pid reuse; mappings replaced over time; names that follow exec and creators.
#include "dprof/profile/process_history.h"

#include "gtest/gtest.h"

namespace dprof::profile {
namespace {

Mapping Map(uint32_t pid, uint64_t time_ns, uint64_t start, uint64_t end, std::string path) {
  return Mapping{
      .pid = pid, .time_ns = time_ns, .start = start, .end = end, .prot = 5, .path = path};
}

TaskChange Fork(uint32_t parent, uint32_t child, uint64_t time_ns) {
  return TaskChange{.pid = child, .ppid = parent, .tid = child, .ptid = parent, .time_ns = time_ns};
}

TaskChange NewThread(uint32_t pid, uint32_t creator, uint32_t tid, uint64_t time_ns) {
  return TaskChange{.pid = pid, .ppid = pid, .tid = tid, .ptid = creator, .time_ns = time_ns};
}

ThreadName Exec(uint32_t pid, uint64_t time_ns, std::string comm) {
  return ThreadName{.pid = pid, .tid = pid, .time_ns = time_ns, .exec = true, .comm = comm};
}

// A pre-fork server: the workers never exec and never map their program themselves.
TEST(ProcessHistoryTest, ForkedChildUsesItsParentsMappingsOfTheFork) {
  Recording r;
  r.threads = {Exec(10, 100, "server")};
  r.mappings = {Map(10, 101, 0x1000, 0x2000, "/srv/server"),      // 0
                Map(10, 102, 0x7000, 0x8000, "/lib/libc.so.6")};  // 1
  r.tasks = {Fork(10, 11, 200), Fork(11, 12, 300)};               // a worker, its own child
  // After the forks the parent loads a plugin where the grandchild has nothing: the children
  // never see it.
  r.mappings.push_back(Map(10, 400, 0x9000, 0xa000, "/srv/plugin.so"));  // 2
  const ProcessHistory h(r);
  EXPECT_EQ(h.MappingAt(11, 250, 0x1500), 0u);
  EXPECT_EQ(h.MappingAt(11, 500, 0x7500), 1u);
  EXPECT_EQ(h.MappingAt(12, 500, 0x1500), 0u) << "a grandchild inherits through its parent";
  EXPECT_EQ(h.MappingAt(10, 500, 0x9500), 2u);
  EXPECT_EQ(h.MappingAt(99, 500, 0x1500), kNoMapping) << "a process nothing describes";
  EXPECT_EQ(h.MappingAt(11, 500, 0x5000), kNoMapping);
}

// clone(CLONE_VM) without CLONE_THREAD: a new process sharing its parent's memory, which maps
// code later: the child's addresses there are the parent's mapping.
TEST(ProcessHistoryTest, SharedMemoryChildSeesItsParentsLaterMappings) {
  Recording r;
  r.mappings = {Map(10, 1, 0x1000, 0x2000, "/bin/app")};
  r.tasks = {Fork(10, 11, 10)};
  r.mappings.push_back(Map(10, 20, 0x5000, 0x6000, "/lib/late.so"));
  const ProcessHistory h(r);
  EXPECT_EQ(h.MappingAt(11, 30, 0x5500), 1u);
}

// A child's own mappings (after the fork) take precedence over what it inherited.
TEST(ProcessHistoryTest, ChildsOwnMappingsReplaceInheritedOnes) {
  Recording r;
  r.mappings = {Map(10, 1, 0x1000, 0x3000, "/bin/app")};
  r.tasks = {Fork(10, 11, 10)};
  r.mappings.push_back(Map(11, 20, 0x2000, 0x3000, "/lib/jit.so"));
  const ProcessHistory h(r);
  EXPECT_EQ(h.MappingAt(11, 15, 0x2500), 0u) << "before the child mapped over it";
  EXPECT_EQ(h.MappingAt(11, 25, 0x2500), 1u);
  EXPECT_EQ(h.MappingAt(11, 25, 0x1500), 0u);
  EXPECT_EQ(h.MappingAt(10, 25, 0x2500), 0u) << "the parent keeps its own";
}

// exec drops the old program: samples before it keep their mappings, samples after it see only
// the new program's, even where the old one had something mapped.
TEST(ProcessHistoryTest, ExecReplacesTheAddressSpace) {
  Recording r;
  r.threads = {Exec(10, 1, "bash")};
  r.mappings = {Map(10, 2, 0x1000, 0x2000, "/bin/bash")};
  r.tasks = {Fork(10, 11, 5)};                   // bash forks a child that
  r.threads.push_back(Exec(11, 10, "sha1sum"));  // execs sha1sum
  r.mappings.push_back(Map(11, 11, 0x4000, 0x5000, "/bin/sha1sum"));
  const ProcessHistory h(r);
  EXPECT_EQ(h.MappingAt(11, 7, 0x1500), 0u) << "bash's code, in the child before its exec";
  EXPECT_EQ(h.MappingAt(11, 12, 0x4500), 1u);
  EXPECT_EQ(h.MappingAt(11, 12, 0x1500), kNoMapping) << "bash is gone from the child";
  EXPECT_EQ(h.NameAt(11, 11, 7), "bash");
  EXPECT_EQ(h.NameAt(11, 11, 12), "sha1sum");
}

// Between the exec's COMM record and the kernel's switch to the new program's registers, a sample
// in the kernel still holds the old program's user addresses (its libc's execve); once the new
// program runs, or for a sample of user code, the old program is gone.
TEST(ProcessHistoryTest, SamplesInTheKernelDuringAnExecSeeTheOldProgram) {
  Recording r;
  r.threads = {Exec(10, 1, "bash")};
  r.mappings = {Map(10, 2, 0x1000, 0x2000, "/bin/bash"),                // 0
                Map(10, 3, 0x7000, 0x8000, "/lib/libc.so.6")};          // 1
  r.tasks = {Fork(10, 11, 5)};                                          // the child inherits libc
  r.threads.push_back(Exec(11, 10, "sha1sum"));                         // and execs at 10
  r.mappings.push_back(Map(11, 11, 0x4000, 0x5000, "/bin/sha1sum"));    // 2
  r.mappings.push_back(Map(11, 20, 0x7000, 0x7800, "/lib/libc.so.6"));  // 3, ld.so's
  r.mappings.push_back(Map(10, 30, 0x9000, 0xa000, "/lib/late.so"));    // 4, bash's, later
  const ProcessHistory h(r);
  for (uint64_t time : {10, 11, 15}) {
    EXPECT_EQ(h.MappingAt(11, time, 0x7500, true), 1u) << "in the kernel at " << time;
    EXPECT_EQ(h.MappingAt(11, time, 0x1500, true), 0u) << "in the kernel at " << time;
    EXPECT_EQ(h.MappingAt(11, time, 0x1500, false), kNoMapping) << "in user code at " << time;
  }
  EXPECT_EQ(h.MappingAt(11, 15, 0x7500, false), 3u) << "user code: only the new program's";
  EXPECT_EQ(h.MappingAt(11, 25, 0x7500, true), 3u) << "the new program's libc, once mapped";
  EXPECT_EQ(h.MappingAt(11, 11, 0x4500, true), 2u) << "the new program first";
  EXPECT_EQ(h.MappingAt(11, 40, 0x9500, true), kNoMapping)
      << "what the old program's parent mapped after the exec";
  EXPECT_EQ(h.MappingAt(10, 15, 0x7500, true), 1u) << "the parent keeps its own";
}

// A pid used again by an unrelated process starts over at that process's fork.
TEST(ProcessHistoryTest, ReusedPidStartsOver) {
  Recording r;
  r.mappings = {Map(20, 1, 0x1000, 0x2000, "/bin/old")};  // 0
  r.tasks = {{.exit = true, .pid = 20, .ppid = 20, .tid = 20, .ptid = 20, .time_ns = 5},
             Fork(30, 20, 10)};
  r.mappings.push_back(Map(30, 2, 0x8000, 0x9000, "/bin/new-parent"));  // 1
  const ProcessHistory h(r);
  EXPECT_EQ(h.MappingAt(20, 3, 0x1500), 0u);
  EXPECT_EQ(h.MappingAt(20, 12, 0x1500), kNoMapping) << "the old process's code is gone";
  EXPECT_EQ(h.MappingAt(20, 12, 0x8500), 1u) << "the new one has its parent's";
}

// dlclose() then dlopen() of another library at the same address: each sample gets the one
// mapped at its moment. A mapping read from /proc after a process's first sample still counts.
TEST(ProcessHistoryTest, LatestMappingAtTheMomentWins) {
  Recording r;
  r.mappings = {Map(10, 100, 0x1000, 0x9000, "/lib/a.so"),   // 0: reserved whole,
                Map(10, 101, 0x1000, 0x3000, "/lib/a.so"),   // 1: then its segments over it
                Map(10, 200, 0x1000, 0x3000, "/lib/b.so")};  // 2: a.so unloaded, b.so there
  const ProcessHistory h(r);
  EXPECT_EQ(h.MappingAt(10, 150, 0x2000), 1u);
  EXPECT_EQ(h.MappingAt(10, 150, 0x5000), 0u);
  EXPECT_EQ(h.MappingAt(10, 250, 0x2000), 2u);
  EXPECT_EQ(h.MappingAt(10, 50, 0x2000), 0u) << "before any: the earliest recorded";
}

// Threads take their creator's name of the moment they were made; renames and exec follow time.
TEST(ProcessHistoryTest, NamesFollowTimeAndCreators) {
  Recording r;
  r.threads = {Exec(10, 1, "app"),
               {.pid = 10, .tid = 10, .time_ns = 50, .comm = "app-main"},  // prctl(PR_SET_NAME)
               {.pid = 10, .tid = 11, .time_ns = 30, .comm = "pool"}};
  r.tasks = {NewThread(10, 10, 11, 20), NewThread(10, 11, 12, 40), NewThread(10, 10, 13, 60)};
  const ProcessHistory h(r);
  EXPECT_EQ(h.NameAt(10, 11, 25), "app") << "made by app, renamed later";
  EXPECT_EQ(h.NameAt(10, 11, 35), "pool");
  EXPECT_EQ(h.NameAt(10, 12, 45), "pool");
  EXPECT_EQ(h.NameAt(10, 13, 65), "app-main");
  EXPECT_EQ(h.NameAt(10, 14, 65), "app-main") << "never seen: its process's";
  EXPECT_EQ(h.NameAt(10, 10, 40), "app");
  EXPECT_EQ(h.NameAt(0, 0, 40), "swapper");
  EXPECT_EQ(h.NameAt(77, 77, 40), "");
  EXPECT_EQ(h.LatestNames().at(10), "app-main");
}

}  // namespace
}  // namespace dprof::profile
