// What following processes costs: forks and exec as the views replay them (ProcessHistory), and
// the tracer's copy of a parent's address space when a forked child first maps something.
//
// The recording: a parent whose program and libraries make 200 executable mappings, then `forks`
// children forked from it (each a pre-fork server's worker with no mapping of its own), a
// grandchild under each tenth, and a quarter of them exec'ing a program of 20 mappings.
//
//   BM_HistoryBuild/forks:<n>    building the history of such a recording (per fork: /n)
//   BM_MappingAt/<who>           one lookup of an address of the parent's program, by the parent
//                                ("parent"), a forked child ("child") or a grandchild
//   BM_AddressSpaceFind          the baseline: one lookup in one process's address space (what a
//                                view did per address before processes were replayed)
//   BM_AddressSpaceCopy          the tracer's cost at a forked child's first own mapping: a copy of
//                                its parent's 200-mapping space
//
// Run: build/bench/process_history_bench (scripts/bench.sh history).
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "dprof/profile/process_history.h"
#include "dprof/unwind/address_space.h"

namespace {

using dprof::profile::Mapping;
using dprof::profile::ProcessHistory;
using dprof::profile::Recording;
using dprof::profile::TaskChange;
using dprof::profile::ThreadName;

constexpr uint32_t kParent = 100;
constexpr int kParentMappings = 200;
constexpr uint64_t kStep = 0x10000;

Mapping MappingOf(uint32_t pid, uint64_t time_ns, int i) {
  return Mapping{.pid = pid,
                 .time_ns = time_ns,
                 .start = 0x7f0000000000 + i * kStep,
                 .end = 0x7f0000000000 + i * kStep + kStep / 2,
                 .prot = 5,
                 .path = absl::StrCat("/usr/lib/lib", i, ".so")};
}

Recording Tree(int forks) {
  Recording r;
  r.threads.push_back({.pid = kParent, .tid = kParent, .time_ns = 1, .exec = true, .comm = "srv"});
  for (int i = 0; i < kParentMappings; ++i) r.mappings.push_back(MappingOf(kParent, 2, i));
  uint64_t t = 10;
  for (int c = 0; c < forks; ++c) {
    const uint32_t child = 1000 + c;
    r.tasks.push_back(
        TaskChange{.pid = child, .ppid = kParent, .tid = child, .ptid = kParent, .time_ns = t++});
    if (c % 10 == 0) {
      r.tasks.push_back(TaskChange{.pid = child + 100000,
                                   .ppid = child,
                                   .tid = child + 100000,
                                   .ptid = child,
                                   .time_ns = t++});
    }
    if (c % 4 == 3) {
      r.threads.push_back({.pid = child, .tid = child, .time_ns = t++, .exec = true, .comm = "x"});
      for (int i = 0; i < 20; ++i) r.mappings.push_back(MappingOf(child, t, i));
    }
  }
  return r;
}

void BM_HistoryBuild(benchmark::State& state) {
  const Recording r = Tree(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    ProcessHistory history(r);
    benchmark::DoNotOptimize(history.spaces());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));  // forks per second
}
BENCHMARK(BM_HistoryBuild)->ArgName("forks")->Arg(100)->Arg(10000);

void BM_MappingAt(benchmark::State& state, uint32_t pid) {
  const Recording r = Tree(1000);
  const ProcessHistory history(r);
  const uint64_t address = 0x7f0000000000 + 123 * kStep + 0x40;
  for (auto _ : state) benchmark::DoNotOptimize(history.MappingAt(pid, 1'000'000, address));
  if (history.MappingAt(pid, 1'000'000, address) != 123) state.SkipWithError("wrong mapping");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_MappingAt, parent, kParent);
BENCHMARK_CAPTURE(BM_MappingAt, child, 1000 + 10);
BENCHMARK_CAPTURE(BM_MappingAt, grandchild, 1000 + 100000);

dprof::unwind::AddressSpace ParentSpace() {
  dprof::unwind::AddressSpace space(nullptr);
  for (int i = 0; i < kParentMappings; ++i) {
    const Mapping m = MappingOf(kParent, 2, i);
    space.Map({.start = m.start, .end = m.end, .prot = m.prot, .path = m.path});
  }
  return space;
}

void BM_AddressSpaceFind(benchmark::State& state) {
  const dprof::unwind::AddressSpace space = ParentSpace();
  const uint64_t address = 0x7f0000000000 + 123 * kStep + 0x40;
  for (auto _ : state) benchmark::DoNotOptimize(space.Find(address));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AddressSpaceFind);

void BM_AddressSpaceCopy(benchmark::State& state) {
  const dprof::unwind::AddressSpace space = ParentSpace();
  for (auto _ : state) {
    dprof::unwind::AddressSpace copy(space);
    benchmark::DoNotOptimize(copy.mappings().data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AddressSpaceCopy);

}  // namespace

BENCHMARK_MAIN();
