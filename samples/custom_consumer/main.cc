// custom_consumer: registers its own deferred-unwind consumer next to the recorder's and prints
// each user stack once per cookie.
//
//   custom_consumer [SECONDS]
//
// The consumer (ProfilerOptions::unwind_consumers) is called by the same unwind engine, from the
// same unwinds, as the recording: once per cookie (one kernel entry), however many samples of
// that entry there were. It names each frame with dprof's Symbolizer. At the end the program
// compares its cookies with the recording's and prints how many deliveries each unwind served.
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "dprof/profile/symbolizer.h"
#include "dprof/profiler.h"
#include "dprof/unwind/address_space.h"
#include "samples/embed_workload/workload.h"

namespace {

class StackPrinter {
 public:
  StackPrinter() : space_(&binaries_) {
    absl::StatusOr<dprof::unwind::AddressSpace> space =
        dprof::unwind::AddressSpace::FromProc(getpid(), &binaries_);
    if (space.ok()) space_ = *std::move(space);
  }

  // The consumer: runs on unwind worker threads, several at once.
  void OnStack(const dprof::unwind::UnwindTrace& trace, dprof::cookie::Cookie cookie) {
    std::lock_guard lock(mu_);
    if (!seen_.insert(cookie).second) {
      ++repeats_;
      return;
    }
    std::string line;
    for (size_t i = 0; i < trace.pcs.size(); ++i) {
      const uint64_t pc = trace.pcs[i];
      const dprof::profile::Symbol symbol =
          symbolizer_.User(static_cast<uint32_t>(getpid()), space_.Find(pc), pc, i > 0);
      line += i == 0 ? "" : " <- ";
      line += symbol.frames.empty() || symbol.frames.front().function.empty()
                  ? dprof::profile::UnknownFrame(&symbol, pc)
                  : symbol.frames.front().function;
    }
    std::printf("cookie %016" PRIx64 ": %s\n", cookie, line.c_str());
  }

  absl::flat_hash_set<dprof::cookie::Cookie> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  uint64_t repeats() {
    std::lock_guard lock(mu_);
    return repeats_;
  }

 private:
  std::mutex mu_;
  dprof::unwind::BinaryCache binaries_;
  dprof::profile::Symbolizer symbolizer_{{}, &binaries_};
  dprof::unwind::AddressSpace space_;
  absl::flat_hash_set<dprof::cookie::Cookie> seen_;
  uint64_t repeats_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  StackPrinter printer;
  absl::StatusOr<std::unique_ptr<dprof::Profiler>> profiler = dprof::Profiler::Create(
      {.frequency = 99,
       .unwind_consumers = {[&printer](const dprof::unwind::UnwindTrace& trace,
                                       dprof::cookie::Cookie cookie) {
         printer.OnStack(trace, cookie);
       }},
       .notice = [](std::string_view message) {
         std::fprintf(stderr, "custom_consumer: %.*s\n", static_cast<int>(message.size()),
                      message.data());
       }});
  absl::Status s = profiler.ok() ? (*profiler)->Start() : profiler.status();
  if (!s.ok()) {
    std::fprintf(stderr, "custom_consumer: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  workload_run(seconds);
  absl::StatusOr<dprof::Profile> profile = (*profiler)->Stop();
  if (!profile.ok()) {
    std::fprintf(stderr, "custom_consumer: %s\n", std::string(profile.status().message()).c_str());
    return 1;
  }

  const absl::flat_hash_set<dprof::cookie::Cookie> printed = printer.seen();
  size_t in_both = 0;
  for (const auto& [cookie, entry] : profile->recording().user_stacks) {
    in_both += printed.contains(cookie);
  }
  const auto& counters = profile->recording().counters;
  auto counter = [&](const std::string& name) {
    auto it = counters.find(name);
    return it == counters.end() ? uint64_t{0} : it->second;
  };
  const uint64_t jobs_done = counter("engine.unwinds") + counter("engine.content hits");
  std::printf("custom_consumer: sampler %s\n",
              std::string(dprof::SamplerName((*profiler)->sampler())).c_str());
  std::printf("custom_consumer: %zu stacks printed, %" PRIu64 " cookies repeated\n", printed.size(),
              printer.repeats());
  std::printf("custom_consumer: the recording holds %zu cookies, %zu of them printed\n",
              profile->recording().user_stacks.size(), in_both);
  std::printf("custom_consumer: %.2f deliveries per unwind\n",
              jobs_done == 0 ? 0.0
                             : static_cast<double>(counter("engine.deliveries")) /
                                   static_cast<double>(jobs_done));
  return 0;
}
