// depot_demo — the stack depot on real stacks.
//
// Two threads run a recursive expression evaluator and capture their own call stack with
// backtrace() every few calls, the way a sampling profiler would. Every stack goes into one
// dprof::stackdepot::Depot; the demo then prints how many distinct stacks there were, how little
// memory they take deduplicated, and the hottest stacks by name.
#include <dlfcn.h>
#include <execinfo.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dprof/stackdepot/depot.h"

using dprof::stackdepot::Depot;
using dprof::stackdepot::Handle;
using dprof::stackdepot::kCanAlloc;
using dprof::stackdepot::Stat;

namespace {

constexpr int kThreads = 2;
constexpr int kSamplesPerThread = 100000;
constexpr int kMaxDepth = 64;

struct Sampler {
  Depot* depot;
  absl::flat_hash_map<Handle, uint64_t> counts;
  uint64_t frames_seen = 0;
  uint64_t state;  // xorshift: decides the shape of each expression
  int left = kSamplesPerThread;

  uint64_t Random() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }

  void Sample() {
    void* pcs[kMaxDepth];
    const int n = backtrace(pcs, kMaxDepth);
    // Drop Sample() itself: the stack is the evaluator's.
    const std::span<const uint64_t> frames(reinterpret_cast<const uint64_t*>(pcs) + 1, n - 1);
    ++counts[depot->Save(frames, kCanAlloc)];
    frames_seen += frames.size();
    --left;
  }
};

}  // namespace

// Exported (not static) so dladdr() names them.
extern "C" {
uint64_t demo_eval(Sampler& s, int depth);

uint64_t demo_add(Sampler& s, int depth) {
  return demo_eval(s, depth + 1) + demo_eval(s, depth + 1);
}

uint64_t demo_mul(Sampler& s, int depth) {
  const uint64_t v = demo_eval(s, depth + 1) * 3;
  if (s.Random() % 4 == 0) s.Sample();
  return v;
}

uint64_t demo_leaf(Sampler& s, int /*depth*/) {
  s.Sample();
  return s.Random() % 10;
}

uint64_t demo_eval(Sampler& s, int depth) {
  if (depth >= 6 || s.left <= 0) return demo_leaf(s, depth);
  switch (s.Random() % 3) {
    case 0:
      return demo_add(s, depth);
    case 1:
      return demo_mul(s, depth);
    default:
      return demo_leaf(s, depth);
  }
}

void demo_worker(Sampler* s) {
  uint64_t sink = 0;
  while (s->left > 0) sink += demo_eval(*s, 0);
  if (sink == 42) std::puts("");  // keeps the evaluation from being optimized away
}
}

namespace {

// "function+0xoffset" of a return address, or "" when it is not one of the demo's functions.
std::string NameOf(uint64_t pc) {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(pc - 1), &info) == 0 || info.dli_sname == nullptr ||
      !std::string_view(info.dli_sname).starts_with("demo_")) {
    return "";
  }
  char name[128];
  std::snprintf(name, sizeof(name), "%s+0x%" PRIx64, info.dli_sname,
                pc - reinterpret_cast<uint64_t>(info.dli_saddr));
  return name;
}

}  // namespace

int main() {
  auto depot_or = Depot::Create({});
  if (!depot_or.ok()) {
    std::fprintf(stderr, "depot_demo: %s\n", std::string(depot_or.status().message()).c_str());
    return 1;
  }
  Depot& depot = **depot_or;

  std::vector<Sampler> samplers;
  samplers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) samplers.push_back({&depot, {}, 0, 0x9e3779b97f4a7c15ull + t});
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (Sampler& s : samplers) threads.emplace_back(demo_worker, &s);
  for (std::thread& t : threads) t.join();

  absl::flat_hash_map<Handle, uint64_t> counts;
  uint64_t samples = 0, frames = 0;
  for (const Sampler& s : samplers) {
    for (const auto& [handle, count] : s.counts) counts[handle] += count;
    frames += s.frames_seen;
  }
  for (const auto& [handle, count] : counts) samples += count;

  const auto stats = depot.Stats();
  const double raw_kib = static_cast<double>(frames * sizeof(uint64_t)) / 1024.0;
  const double kept_kib = static_cast<double>(stats[Stat::kBytesInUse]) / 1024.0;
  std::printf("dprof depot demo: %d threads took %" PRIu64
              " stack samples of a recursive evaluator\n",
              kThreads, samples);
  std::printf("  distinct stacks  %" PRIu64 " (stored once each; %" PRIu64
              " saves found theirs already stored)\n",
              stats[Stat::kRecordsInUse], stats[Stat::kHits]);
  std::printf("  depot memory     %.1f KiB of records for %.1f KiB of raw frames (%.0fx smaller)\n",
              kept_kib, raw_kib, raw_kib / kept_kib);
  if (counts.contains(dprof::stackdepot::kNoHandle)) {
    std::printf("  not stored       %" PRIu64 " samples\n", counts[dprof::stackdepot::kNoHandle]);
  }

  std::vector<std::pair<uint64_t, Handle>> hottest;
  hottest.reserve(counts.size());
  for (const auto& [handle, count] : counts) hottest.emplace_back(count, handle);
  std::sort(hottest.rbegin(), hottest.rend());
  std::printf("hottest stacks (innermost first):\n");
  for (size_t i = 0; i < std::min<size_t>(3, hottest.size()); ++i) {
    std::printf("  %5.1f%%  ",
                100.0 * static_cast<double>(hottest[i].first) / static_cast<double>(samples));
    int shown = 0;
    for (uint64_t pc : depot.Fetch(hottest[i].second)) {
      const std::string name = NameOf(pc);
      if (!name.empty()) std::printf("%s%s", shown++ ? " <- " : "", name.c_str());
    }
    std::printf("\n");
  }
  return 0;
}
