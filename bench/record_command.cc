// record_command: runs a command under the tracer and reports what it cost; keeps nothing, or
// with -o writes a recording (symbolized when the command ends). The dprof side of
// bench/record_vs_perf.sh and bench/views_vs_perf_script.sh (until `dprof record`, issue 6).
//
//   record_command [--call-graph fp|dwarf|auto] [-F HZ] [-o FILE] -- CMD [ARGS...]
//
// Prints on stderr one line: events, user stacks delivered, lost, dropped, and this process's
// own CPU seconds (reader and unwind workers; the command's are its own).
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "dprof/profile/recorder.h"
#include "dprof/profile/symbolizer.h"
#include "dprof/tracer/tracer.h"

namespace {

// Counts what the tracer produced, and passes it on to a recorder when there is one.
class CountingSink : public dprof::event::ForwardingSink {
 public:
  void OnEvent(const dprof::event::TraceEvent& e) override {
    ++events;
    ForwardingSink::OnEvent(e);
  }
  void OnUserStack(dprof::cookie::Cookie c, const dprof::event::UserStackTrace& t) override {
    stacks.fetch_add(1, std::memory_order_relaxed);
    ForwardingSink::OnUserStack(c, t);
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
  std::fprintf(stderr,
               "usage: record_command [--call-graph MODE] [-F HZ] [-o FILE] -- CMD [ARGS...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  dprof::tracer::TracerOptions options;
  std::string output;
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
    } else if (arg == "-o") {
      output = argv[++i];
    } else {
      return Usage();
    }
  }
  if (i >= argc) return Usage();
  options.target.command.assign(argv + i, argv + argc);

  CountingSink sink;
  std::unique_ptr<dprof::stackdepot::Depot> depot;
  std::unique_ptr<dprof::profile::Recorder> recorder;
  if (!output.empty()) {
    // The recorder reads stacks from the tracer's depot, made here to exist first.
    auto d = dprof::stackdepot::Depot::Create({});
    if (!d.ok()) return 1;
    depot = *std::move(d);
    auto r = dprof::profile::Recorder::Create(
        output, depot.get(), {{"command", options.target.command[0]}}, options.events);
    if (!r.ok()) {
      std::fprintf(stderr, "record_command: %s\n", std::string(r.status().message()).c_str());
      return 1;
    }
    recorder = *std::move(r);
    sink.Add(recorder.get());
    options.depot = depot.get();
  }
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
  const dprof::event::TracerStats stats = (*tracer)->Stats();
  if (recorder != nullptr) {
    dprof::profile::Symbolizer symbolizer({}, (*tracer)->binaries());
    if (absl::Status f = recorder->Finish(dprof::profile::CountersOf(stats), &symbolizer);
        !f.ok()) {
      std::fprintf(stderr, "record_command: %s\n", std::string(f.message()).c_str());
      return 1;
    }
  }
  std::fprintf(stderr,
               "record_command: events=%llu stacks=%llu lost=%llu lost_samples=%llu "
               "dropped=%llu unwinds=%llu self_cpu=%.3f\n",
               static_cast<unsigned long long>(sink.events),
               static_cast<unsigned long long>(sink.stacks.load()),
               static_cast<unsigned long long>(stats[dprof::event::TracerStat::kLost]),
               static_cast<unsigned long long>(stats[dprof::event::TracerStat::kLostSamples]),
               static_cast<unsigned long long>(stats[dprof::event::TracerStat::kDroppedSnapshots]),
               static_cast<unsigned long long>(stats.engine[dprof::unwind::EngineStat::kUnwinds]),
               CpuSeconds());
  return (*tracer)->ExitStatus().code;
}
