// The unwinders on the same real snapshots, and the deferred engine's paths.
//
// Snapshots come from samples/unwind_target (main -> chain_a -> chain_b -> chain_recurse ... ->
// chain_c), captured at depths 5, 20 and 60 (frames from chain_c to main; libc's start code adds
// three more), from the build with frame pointers, which every unwinder can walk, and from the
// build without, which only the DWARF unwinders can.
//
//   BM_Unwind/<unwinder>/<build>/depth:<n>   one unwind of a snapshot, caches warm
//   BM_Engine/<path>                         one Request() through the DeferredUnwinder to the
//                                            callback: "unwind" (the dwarf unwinder, every
//                                            snapshot new) or "content_hit" (identical snapshots)
//
// Run: build/bench/unwind_bench (scripts/bench.sh runs it with the other benchmarks).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "dprof/unwind/deferred_unwinder.h"
#include "dprof/unwind/unwinder.h"
#include "tests/testing/unwind_testing.h"

namespace {

using namespace dprof::unwind;

struct Capture {
  std::string build;
  int depth;
  dprof::testing::LoadedCapture loaded;
};

BinaryCache* binaries = nullptr;
std::vector<Capture>* captures = nullptr;

std::unique_ptr<Unwinder> MakeUnwinder(const std::string& name) {
  if (name == "fp") return MakeFramePointerUnwinder();
  if (name == "dwarf") return MakeDwarfUnwinder();
  if (name == "libdw") return MakeLibdwUnwinder();
  return MakeLibunwindUnwinder();
}

void BM_Unwind(benchmark::State& state, const std::string& unwinder_name, const Capture* capture) {
  std::unique_ptr<Unwinder> unwinder = MakeUnwinder(unwinder_name);
  const Snapshot snapshot = capture->loaded.snapshot();
  std::vector<uint64_t> pcs(256);
  UnwindResult result = unwinder->Unwind(snapshot, pcs);  // warm the caches
  const DwarfRuleStats before = DwarfRuleStatsOfThisThread();
  for (auto _ : state) {
    result = unwinder->Unwind(snapshot, pcs);
    benchmark::DoNotOptimize(result);
  }
  if (unwinder_name == "dwarf") {
    // Where the timed unwinds found their rules: the thread's cache, else the binary's table.
    const DwarfRuleStats after = DwarfRuleStatsOfThisThread();
    const double lookups = static_cast<double>(state.iterations() * result.frames);
    state.counters["cache_hit_pct"] =
        lookups == 0 ? 0 : 100.0 * static_cast<double>(after.cache_hits - before.cache_hits) /
                               lookups;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["frames"] = static_cast<double>(result.frames);
  state.counters["ns_per_frame"] =
      benchmark::Counter(static_cast<double>(state.iterations() * result.frames),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  // The DWARF unwinders follow libc's CFI to _start; frame pointers end where libc has none.
  if (unwinder_name != "fp" && result.reason != StopReason::kOutermost) {
    state.SkipWithError(
        ("did not reach the outermost frame: " + std::string(StopReasonName(result.reason)))
            .c_str());
  }
}

// Requests user-mode events (each its own context) for one work and waits for every delivery.
// With `vary`, each snapshot differs (in rax, which no unwind reads), so each is unwound.
void BM_Engine(benchmark::State& state, bool vary) {
  const Capture& capture = captures->back();  // the deepest, no frame pointers
  auto engine = DeferredUnwinder::Create(
                    {.unwinder = MakeDwarfUnwinder(), .workers = 1, .queue_capacity = 512})
                    .value();
  const UnwindWork work =
      engine->Register([](const UnwindTrace& t, uint64_t) { benchmark::DoNotOptimize(t.pcs); })
          .value();
  const Snapshot s = capture.loaded.snapshot();
  TaskContext context{.pid = s.pid,
                      .tid = s.tid,
                      .user_mode = true,
                      .regs = s.regs,
                      .stack_address = s.stack_address,
                      .stack = s.stack,
                      .space = std::make_shared<AddressSpace>(*capture.loaded.space)};
  uint64_t n = 0;
  for (auto _ : state) {
    ++n;
    if (vary) context.regs.Set(kRax, n);
    benchmark::DoNotOptimize(engine->Request(work, context));
    if (n % 256 == 0) engine->Flush();  // stay below the queue's capacity
  }
  engine->Flush();
  const EngineStats stats = engine->Stats();
  state.SetItemsProcessed(state.iterations());
  state.counters["unwinds"] = static_cast<double>(stats[EngineStat::kUnwinds]);
  state.counters["content_hits"] = static_cast<double>(stats[EngineStat::kContentHits]);
  if (stats[EngineStat::kDrops] != 0) state.SkipWithError("requests were dropped");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  BinaryCache cache;
  binaries = &cache;
  std::vector<Capture> all;
  for (const std::string build : {"fp", "nofp"}) {
    for (int depth : {5, 20, 60}) {
      absl::StatusOr<dprof::testing::LoadedCapture> loaded =
          dprof::testing::CaptureStack(dprof::testing::UnwindTarget(build), depth, 65536, binaries);
      if (!loaded.ok()) {
        std::fprintf(stderr, "unwind_bench: %s\n", std::string(loaded.status().message()).c_str());
        return 1;
      }
      all.push_back({build, depth, *std::move(loaded)});
    }
  }
  captures = &all;
  for (const Capture& c : all) {
    for (const std::string unwinder : {"fp", "dwarf", "libdw", "libunwind"}) {
      if (unwinder == "fp" && c.build != "fp") continue;  // frame pointers need them
      benchmark::RegisterBenchmark(
          ("BM_Unwind/" + unwinder + "/" + c.build + "/depth:" + std::to_string(c.depth)).c_str(),
          BM_Unwind, unwinder, &c);
    }
  }
  benchmark::RegisterBenchmark("BM_Engine/unwind", BM_Engine, true)->UseRealTime();
  benchmark::RegisterBenchmark("BM_Engine/content_hit", BM_Engine, false)->UseRealTime();
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
