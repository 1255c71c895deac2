// record_command: runs a command under the tracer, keeps nothing, and reports what it cost.
// The dprof side of bench/record_vs_perf.sh (until `dprof record` exists, issue 6).
//
//   record_command [--call-graph fp|dwarf|auto] [-F HZ] -- CMD [ARGS...]
//
// Prints on stderr one line: events, user stacks delivered, lost, dropped, and this process's
// own CPU seconds (reader and unwind workers; the command's are its own).
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dprof/tracer/tracer.h"

namespace {

class CountingSink : public dprof::tracer::TraceSink {
 public:
  void OnEvent(const dprof::tracer::TraceEvent&) override { ++events; }
  void OnUserStack(dprof::cookie::Cookie, const dprof::tracer::UserStackTrace&) override {
    stacks.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t events = 0;
  std::atomic<uint64_t> stacks{0};
};

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

int Usage() {
  std::fprintf(stderr, "usage: record_command [--call-graph MODE] [-F HZ] -- CMD [ARGS...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  dprof::tracer::TracerOptions options;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (i + 1 >= argc) return Usage();
    if (arg == "--call-graph") {
      auto mode = dprof::tracer::ParseCallGraph(argv[++i]);
      if (!mode.ok()) return Usage();
      options.call_graph = *mode;
    } else if (arg == "-F") {
      options.frequency = std::strtoull(argv[++i], nullptr, 10);
    } else {
      return Usage();
    }
  }
  if (i >= argc) return Usage();
  options.target.command.assign(argv + i, argv + argc);

  CountingSink sink;
  auto tracer = dprof::tracer::Tracer::Create(std::move(options), &sink);
  if (!tracer.ok()) {
    std::fprintf(stderr, "record_command: %s\n", std::string(tracer.status().message()).c_str());
    return 1;
  }
  absl::Status s = (*tracer)->Start();
  if (s.ok()) s = (*tracer)->Run();
  if (!s.ok()) {
    std::fprintf(stderr, "record_command: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const dprof::tracer::TracerStats stats = (*tracer)->Stats();
  std::fprintf(stderr,
               "record_command: events=%llu stacks=%llu lost=%llu lost_samples=%llu "
               "dropped=%llu unwinds=%llu self_cpu=%.3f\n",
               static_cast<unsigned long long>(sink.events),
               static_cast<unsigned long long>(sink.stacks.load()),
               static_cast<unsigned long long>(stats[dprof::tracer::TracerStat::kLost]),
               static_cast<unsigned long long>(stats[dprof::tracer::TracerStat::kLostSamples]),
               static_cast<unsigned long long>(stats[dprof::tracer::TracerStat::kDroppedSnapshots]),
               static_cast<unsigned long long>(stats.engine[dprof::unwind::EngineStat::kUnwinds]),
               CpuSeconds());
  return (*tracer)->ExitStatus().code;
}
