// embed_self: a program that profiles itself with dprof's C++ API (dprof/profiler.h) and writes
// a flame graph.
//
//   embed_self [SECONDS] [OUTPUT.html|.svg]
//
// Two threads run the shared workload (hot_a twice as long as hot_b), one of them started after
// profiling began; dprof follows it and leaves its own threads out. Prints the sampler, the
// hot functions' shares and how many samples landed on dprof's threads (none should). Set
// DPROF_NO_PERF_EVENT=1 to see the timer-signal fallback.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "dprof/profile/report.h"
#include "dprof/profiler.h"
#include "samples/embed_workload/workload.h"

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  const std::string output = argc > 2 ? argv[2] : "embed_self.html";

  absl::StatusOr<std::unique_ptr<dprof::Profiler>> profiler =
      dprof::Profiler::Create({.frequency = 499, .notice = [](std::string_view message) {
                                 std::fprintf(stderr, "embed_self: %.*s\n",
                                              static_cast<int>(message.size()), message.data());
                               }});
  if (!profiler.ok()) {
    std::fprintf(stderr, "embed_self: %s\n", std::string(profiler.status().message()).c_str());
    return 1;
  }
  if (absl::Status s = (*profiler)->Start(); !s.ok()) {
    std::fprintf(stderr, "embed_self: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::thread worker(workload_run, seconds);  // started while profiling: followed
  workload_run(seconds);
  worker.join();
  const std::vector<pid_t> own = (*profiler)->own_threads();
  absl::StatusOr<dprof::Profile> profile = (*profiler)->Stop();
  if (!profile.ok()) {
    std::fprintf(stderr, "embed_self: %s\n", std::string(profile.status().message()).c_str());
    return 1;
  }
  if (absl::Status s = profile->WriteFlameGraph(output); !s.ok()) {
    std::fprintf(stderr, "embed_self: %s\n", std::string(s.message()).c_str());
    return 1;
  }

  const dprof::profile::View& stacks = profile->view();
  std::printf("embed_self: sampler %s\n",
              std::string(dprof::SamplerName((*profiler)->sampler())).c_str());
  std::printf("embed_self: %llu samples\n", static_cast<unsigned long long>(stacks.total_count()));
  for (const dprof::profile::FunctionWeight& f :
       dprof::profile::FunctionWeights(stacks, dprof::profile::ReportOptions::Sort::kSelf)) {
    if (f.name == "hot_a" || f.name == "hot_b") {
      std::printf("embed_self: %s %.1f%%\n", f.name.c_str(),
                  100.0 * static_cast<double>(f.self) / static_cast<double>(stacks.total_weight()));
    }
  }
  const absl::flat_hash_set<pid_t> own_set(own.begin(), own.end());
  uint64_t on_own = 0;
  for (const dprof::profile::Event& e : profile->recording().events) {
    on_own += own_set.contains(static_cast<pid_t>(e.tid));
  }
  std::printf("embed_self: samples of dprof's threads %llu\n",
              static_cast<unsigned long long>(on_own));
  std::printf("embed_self: wrote %s\n", output.c_str());
  return 0;
}
