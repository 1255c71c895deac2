// The stack depot against the two obvious alternatives, in one binary so all run on the same
// machine at the same time:
//   Depot           dprof::stackdepot::Depot (lock-free lookups under RCU)
//   MutexMap        absl::flat_hash_map from trace to id, every call under one absl::Mutex
//   SharedMutexMap  the same map, lookups under a shared std::shared_mutex, inserts exclusive
// Each stores a trace once and hands out a 32-bit id, as the depot does.
//
//   BM_SaveHit/<impl>     Save() of traces already stored (the profiler's common case)
//   BM_SaveMiss/<impl>    Save() of new traces (insert)
//   BM_Fetch/<impl>       Fetch() of a stored trace by handle
//   BM_Memory16/<impl>    bytes per stored 16-frame trace (counter bytes_per_trace; the target is
//                         1.25 x 128 raw bytes + 32 = 192)
//   BM_SaveGetPut/Depot   Save(kGet) + Put() of a stored trace: the counted-reference path
//
// Run: build/bench/stackdepot_bench (scripts/bench.sh prints the ratios).
#include <malloc.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "benchmark/benchmark.h"
#include "dprof/stackdepot/depot.h"

namespace {

using dprof::stackdepot::Handle;
using Frames = std::span<const uint64_t>;

constexpr size_t kFrames = 16;
constexpr size_t kStoredTraces = 4096;

// Distinct, realistic-looking traces: outer frames shared by many, inner frames varying.
void FillTrace(uint64_t seed, std::span<uint64_t, kFrames> frames) {
  for (size_t i = 0; i < kFrames; ++i) {
    frames[i] = i < kFrames / 2 ? 0x55d0c0de0000 + (seed * 0x9e3779b97f4a7c15ull >> 48) * 16 + i
                                : 0x7f3a10000000 + i * 0x40;
  }
  frames[0] ^= seed << 20;  // the seed itself keeps every trace distinct
}

std::vector<uint64_t> Trace(uint64_t seed) {
  std::vector<uint64_t> frames(kFrames);
  FillTrace(seed, std::span<uint64_t, kFrames>(frames));
  return frames;
}

class DepotImpl {
 public:
  DepotImpl() : depot_(dprof::stackdepot::Depot::Create({}).value()) {}
  Handle Save(Frames f) { return depot_->Save(f, dprof::stackdepot::kCanAlloc); }
  Frames Fetch(Handle h) const { return depot_->Fetch(h); }
  dprof::stackdepot::Depot& depot() { return *depot_; }
  // Memory the depot maps itself (pools); malloc'd memory is measured by the caller.
  size_t MappedBytes() const {
    return depot_->Stats()[dprof::stackdepot::Stat::kPools] * depot_->options().pool_bytes;
  }

 private:
  std::unique_ptr<dprof::stackdepot::Depot> depot_;
};

struct FramesHash {
  using is_transparent = void;
  size_t operator()(Frames f) const {
    return absl::HashOf(absl::MakeConstSpan(f.data(), f.size()));
  }
};
struct FramesEq {
  using is_transparent = void;
  bool operator()(Frames a, Frames b) const {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
};

// The baselines' map: the key vector owns the frames; `records` views them by id (a vector's
// buffer does not move when the map rehashes and moves the vector). Not thread-safe by itself.
struct TraceMap {
  absl::flat_hash_map<std::vector<uint64_t>, Handle, FramesHash, FramesEq> map;
  std::vector<Frames> records;

  Handle Find(Frames f) const {
    auto it = map.find(f);
    return it != map.end() ? it->second : 0;
  }
  Handle Insert(Frames f) {
    const Handle id = static_cast<Handle>(records.size() + 1);
    auto [it, inserted] = map.emplace(std::vector<uint64_t>(f.begin(), f.end()), id);
    records.push_back(Frames(it->first));
    return id;
  }
};

// Every call under one exclusive absl::Mutex.
class MutexMapImpl {
 public:
  Handle Save(Frames f) {
    absl::MutexLock lock(&mu_);
    const Handle h = traces_.Find(f);
    return h != 0 ? h : traces_.Insert(f);
  }
  Frames Fetch(Handle h) const {
    absl::MutexLock lock(&mu_);
    return traces_.records[h - 1];
  }
  size_t MappedBytes() const { return 0; }

 private:
  mutable absl::Mutex mu_;
  TraceMap traces_;
};

// Lookups under a shared std::shared_mutex; an insert takes it exclusively and looks again.
class SharedMutexMapImpl {
 public:
  Handle Save(Frames f) {
    {
      std::shared_lock lock(mu_);
      if (const Handle h = traces_.Find(f)) return h;
    }
    std::unique_lock lock(mu_);
    const Handle h = traces_.Find(f);
    return h != 0 ? h : traces_.Insert(f);
  }
  Frames Fetch(Handle h) const {
    std::shared_lock lock(mu_);
    return traces_.records[h - 1];
  }
  size_t MappedBytes() const { return 0; }

 private:
  mutable std::shared_mutex mu_;
  TraceMap traces_;
};

// One store per benchmark run, shared by its threads, made in Setup() and dropped in Teardown().
template <typename Impl>
struct Shared {
  static inline std::unique_ptr<Impl> impl;
  static inline std::vector<std::vector<uint64_t>> traces;
  static inline std::vector<Handle> handles;

  static void SetupStored(const benchmark::State&) {
    impl = std::make_unique<Impl>();
    traces.clear();
    handles.clear();
    for (uint64_t s = 0; s < kStoredTraces; ++s) {
      traces.push_back(Trace(s));
      handles.push_back(impl->Save(traces.back()));
    }
  }
  static void SetupEmpty(const benchmark::State&) { impl = std::make_unique<Impl>(); }
  static void Teardown(const benchmark::State&) {
    impl.reset();
    traces.clear();
    handles.clear();
  }
};

template <typename Impl>
void BM_SaveHit(benchmark::State& state) {
  using S = Shared<Impl>;
  size_t i = state.thread_index() * 977;
  for (auto _ : state) {
    benchmark::DoNotOptimize(S::impl->Save(S::traces[i++ % kStoredTraces]));
  }
  state.SetItemsProcessed(state.iterations());
}

template <typename Impl>
void BM_SaveMiss(benchmark::State& state) {
  using S = Shared<Impl>;
  uint64_t seed = (uint64_t{1} << 40) * (state.thread_index() + 1);
  std::array<uint64_t, kFrames> trace;
  for (auto _ : state) {
    FillTrace(seed++, trace);  // a few ns, the same for every implementation
    benchmark::DoNotOptimize(S::impl->Save(trace));
  }
  state.SetItemsProcessed(state.iterations());
}

template <typename Impl>
void BM_Fetch(benchmark::State& state) {
  using S = Shared<Impl>;
  size_t i = state.thread_index() * 977;
  for (auto _ : state) {
    Frames f = S::impl->Fetch(S::handles[i++ % kStoredTraces]);
    benchmark::DoNotOptimize(f.data()[f.size() - 1]);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SaveGetPut(benchmark::State& state) {
  using S = Shared<DepotImpl>;
  size_t i = state.thread_index() * 977;
  dprof::stackdepot::Depot& depot = S::impl->depot();
  for (auto _ : state) {
    const Handle h = depot.Save(S::traces[i++ % kStoredTraces], dprof::stackdepot::kGet);
    depot.Put(h);
  }
  state.SetItemsProcessed(state.iterations());
}

size_t MallocBytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

template <typename Impl>
void BM_Memory16(benchmark::State& state) {
  const size_t n = state.range(0);
  double per_trace = 0;
  for (auto _ : state) {
    const size_t before = MallocBytes();
    auto impl = std::make_unique<Impl>();
    for (uint64_t s = 0; s < n; ++s) benchmark::DoNotOptimize(impl->Save(Trace(s)));
    per_trace = static_cast<double>(MallocBytes() - before + impl->MappedBytes()) / n;
  }
  state.counters["bytes_per_trace"] = per_trace;
  state.counters["target_bytes"] = 1.25 * kFrames * sizeof(uint64_t) + 32;
}

// Registers `fn` under `name`, run on one and on two threads sharing the store `setup` makes.
void RegisterThreaded(const std::string& name, void (*fn)(benchmark::State&),
                      void (*setup)(const benchmark::State&),
                      void (*teardown)(const benchmark::State&), int64_t iterations = 0) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), fn)->Setup(setup)->Teardown(teardown);
  if (iterations != 0) b->Iterations(iterations);
  b->Threads(1)->Threads(2)->UseRealTime();
}

template <typename Impl>
void RegisterImpl(const std::string& name) {
  using S = Shared<Impl>;
  RegisterThreaded("BM_SaveHit/" + name, BM_SaveHit<Impl>, S::SetupStored, S::Teardown);
  RegisterThreaded("BM_SaveMiss/" + name, BM_SaveMiss<Impl>, S::SetupEmpty, S::Teardown, 200000);
  RegisterThreaded("BM_Fetch/" + name, BM_Fetch<Impl>, S::SetupStored, S::Teardown);
  benchmark::RegisterBenchmark(("BM_Memory16/" + name).c_str(), BM_Memory16<Impl>)
      ->Arg(100000)
      ->Arg(1000000)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  RegisterImpl<DepotImpl>("Depot");
  RegisterImpl<MutexMapImpl>("MutexMap");
  RegisterImpl<SharedMutexMapImpl>("SharedMutexMap");
  RegisterThreaded("BM_SaveGetPut/Depot", BM_SaveGetPut, Shared<DepotImpl>::SetupStored,
                   Shared<DepotImpl>::Teardown);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
