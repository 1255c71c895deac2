// Symbolization end to end on real recordings of samples/ programs: recorded with perf_event,
// symbolized when the recording finishes, read back from the file, and stitched into profiles
// whose frames carry the expected names, inline markers and source lines.
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "dprof/profile/folded.h"
#include "dprof/profile/process_history.h"
#include "dprof/profile/recorder.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/report.h"
#include "dprof/profile/symbolizer.h"
#include "dprof/profile/view.h"
#include "dprof/tracer/tracer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::profile {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using testing::SampleFile;
using ::testing::StartsWith;

// The line of samples/<file> that carries the comment "// @<marker>".
uint32_t MarkedLine(const std::string& file, const std::string& marker) {
  std::ifstream in(std::string(DPROF_SOURCE_DIR) + "/samples/" + file);
  std::string line;
  for (uint32_t n = 1; std::getline(in, line); ++n) {
    if (line.find("// @" + marker) != std::string::npos) return n;
  }
  ADD_FAILURE() << "no marker @" << marker << " in samples/" << file;
  return 0;
}

class SymbolizationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dprof-symbolization-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Records `command` to a file (DWARF unwinding), symbolizes it as the recording ends, and reads
  // the file back. A second recorder sees the same events and keeps all of them in memory: what
  // it names must be what the file (named from the events' sites only) names, and what it keeps
  // what the file holds.
  Recording RecordAndRead(const std::vector<std::string>& command) {
    const std::string path = (dir_ / "recording.dprof").string();
    auto depot = stackdepot::Depot::Create({});
    EXPECT_TRUE(depot.ok());
    auto recorder = Recorder::Create(path, depot->get(), {{"command", command[0]}}, {"cpu-clock"});
    EXPECT_TRUE(recorder.ok()) << recorder.status();
    if (!recorder.ok()) return {};
    std::unique_ptr<Recorder> in_memory =
        Recorder::CreateInMemory(depot->get(), {{"command", command[0]}}, {"cpu-clock"}, {});
    event::ForwardingSink both;
    both.Add(recorder->get());
    both.Add(in_memory.get());
    auto t = tracer::Tracer::Create({.target = {.command = command}, .depot = depot->get()}, &both);
    EXPECT_TRUE(t.ok()) << t.status();
    if (!t.ok()) return {};
    EXPECT_TRUE((*t)->Start().ok());
    EXPECT_TRUE((*t)->Run(std::chrono::seconds(60)).ok());
    Symbolizer symbolizer({.perf_map_dir = perf_map_dir_}, (*t)->binaries());
    EXPECT_TRUE((*recorder)->Finish(CountersOf((*t)->Stats()), &symbolizer).ok());
    Symbolizer second({.perf_map_dir = perf_map_dir_}, (*t)->binaries());
    EXPECT_TRUE(in_memory->Finish(CountersOf((*t)->Stats()), &second).ok());
    absl::StatusOr<Recording> kept = in_memory->TakeRecording();
    EXPECT_TRUE(kept.ok()) << kept.status();
    // A real recording for the reader's fuzz corpus (scripts/test.sh).
    const std::filesystem::path corpus = std::filesystem::path(DPROF_ARTIFACTS_DIR) / "recordings";
    std::filesystem::create_directories(corpus);
    std::filesystem::copy_file(
        path,
        corpus / (::testing::UnitTest::GetInstance()->current_test_info()->name() +
                  std::string(".dprof")),
        std::filesystem::copy_options::overwrite_existing);
    ReadReport report;
    absl::StatusOr<Recording> r = ReadRecording(path, &report);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(report.complete) << report.Summary();
    EXPECT_FALSE(r->symbols.empty());
    if (r.ok() && kept.ok()) ExpectSameRecording(*kept, *r);
    return r.ok() ? *std::move(r) : Recording{};
  }

  // `named` (the file, named from sites) holds all `kept` does, and names every address `kept`
  // names alike (it may name more: an address at a moment no event was).
  static void ExpectSameRecording(const Recording& kept, const Recording& named) {
    EXPECT_EQ(kept.metadata, named.metadata);
    EXPECT_EQ(kept.event_names, named.event_names);
    EXPECT_EQ(kept.events, named.events);
    EXPECT_EQ(kept.raw, named.raw);
    EXPECT_EQ(kept.stacks, named.stacks);
    EXPECT_EQ(kept.user_stacks, named.user_stacks);
    EXPECT_EQ(kept.mappings, named.mappings);
    EXPECT_EQ(kept.threads, named.threads);
    EXPECT_EQ(kept.tasks, named.tasks);
    EXPECT_EQ(kept.counters, named.counters);
    EXPECT_EQ(kept.thread_counters, named.thread_counters);
    EXPECT_FALSE(kept.symbols.empty());
    auto same = [&](const SymbolLookups& in_kept, const SymbolLookups& in_named, const char* what) {
      for (const auto& [site, index] : in_kept) {
        auto it = in_named.find(site);
        ASSERT_NE(it, in_named.end()) << what << " (" << site.first << ", 0x" << std::hex
                                      << site.second << ") is not named in the file";
        EXPECT_EQ(kept.symbols[index], named.symbols[it->second]) << what;
      }
    };
    same(kept.symbol_of, named.symbol_of, "symbol_of");
    same(kept.mapped_symbol_of, named.mapped_symbol_of, "mapped_symbol_of");
  }

  // Of the weight of the events that have a user stack (a loaded machine drops some snapshots;
  // those are counted, and tested, elsewhere), the share whose leaf frame satisfies `pred`.
  template <typename Pred>
  static double LeafShare(const View& p, Pred pred) {
    uint64_t weight = 0, unwound = 0;
    for (const View::Stack& s : p.stacks()) {
      if (p.frame(s.frames.front()).kind == View::FrameKind::kOrphan) continue;
      unwound += s.weight;
      if (pred(p.frame(s.frames.back()))) weight += s.weight;
    }
    return unwound == 0 ? 0 : static_cast<double>(weight) / unwound;
  }

  // The heaviest stacks, for failure messages.
  static std::string Top(const View& p) {
    std::ostringstream folded;
    WriteFolded(p, {}, folded);
    std::string text = folded.str();
    size_t cut = 0;
    for (int i = 0; i < 8 && cut != std::string::npos; ++i) cut = text.find('\n', cut + 1);
    return "heaviest stacks:\n" + text.substr(0, cut);
  }

  std::filesystem::path dir_;
  std::string perf_map_dir_ = "/tmp";
};

// step() inlined into mix() inlined into accumulate(): three frames, the inner two marked inlined,
// each at the line of its call (the innermost at its own line).
TEST_F(SymbolizationTest, InlinedFunctionsUnfold) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const Recording r = RecordAndRead({SampleFile("inlined"), "0.6"});
  const View p = View::Build(r, {.kernel = false});
  ASSERT_GT(p.total_count(), 200u);
  const uint32_t step_line = MarkedLine("inlined/main.cc", "step");
  const uint32_t mix_line = MarkedLine("inlined/main.cc", "mix-calls-step");
  const uint32_t accumulate_line = MarkedLine("inlined/main.cc", "accumulate-calls-mix");
  uint64_t matched = 0, unwound = 0;
  for (const View::Stack& s : p.stacks()) {
    if (p.frame(s.frames.front()).kind == View::FrameKind::kOrphan) continue;
    unwound += s.weight;
    const size_t n = s.frames.size();
    if (n < 4) continue;
    const View::Frame& step = p.frame(s.frames[n - 1]);
    const View::Frame& mix = p.frame(s.frames[n - 2]);
    const View::Frame& accumulate = p.frame(s.frames[n - 3]);
    if (step.name != "(anonymous namespace)::step") continue;
    EXPECT_TRUE(step.inlined);
    EXPECT_THAT(step.file, EndsWith("samples/inlined/main.cc"));
    EXPECT_EQ(step.line, step_line);
    EXPECT_EQ(mix.name, "(anonymous namespace)::mix");
    EXPECT_TRUE(mix.inlined);
    EXPECT_EQ(mix.line, mix_line);
    EXPECT_EQ(accumulate.name, "accumulate");
    EXPECT_FALSE(accumulate.inlined);
    EXPECT_EQ(accumulate.line, accumulate_line);
    EXPECT_EQ(p.frame(s.frames[n - 4]).name, "main");
    matched += s.weight;
  }
  // Nearly all the time is in step()'s loop.
  EXPECT_GT(static_cast<double>(matched) / unwound, 0.8) << Top(p);
}

TEST_F(SymbolizationTest, CxxNamesAreDemangled) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const Recording r = RecordAndRead({SampleFile("cxx_names"), "0.6"});
  const View p = View::Build(r, {.kernel = false});
  ASSERT_GT(p.total_count(), 200u);
  const double doubles = LeafShare(p, [](const View::Frame& f) {
    return f.name == "shapes::detail::Accumulator<double>::Add(double)";
  });
  const double integers = LeafShare(p, [](const View::Frame& f) {
    return f.name == "shapes::detail::Accumulator<unsigned long>::Add(unsigned long)";
  });
  EXPECT_GT(doubles, 0.1);
  EXPECT_GT(integers, 0.02);
  EXPECT_GT(doubles + integers, 0.8) << Top(p);
  // Their callers: a lambda in main, through a function template in an anonymous namespace.
  bool drive = false, lambda = false;
  for (const View::Frame& f : p.frames()) {
    drive |= f.name.starts_with("(anonymous namespace)::Drive<");
    lambda |= f.name == "main::{lambda()#1}::operator()() const";
  }
  EXPECT_TRUE(drive) << Top(p);
  EXPECT_TRUE(lambda) << Top(p);
}

TEST_F(SymbolizationTest, LibraryLoadedWithDlopen) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const Recording r =
      RecordAndRead({SampleFile("dlopen"), SampleFile("libdlopen_plugin.so"), "0.6"});
  const View p = View::Build(r, {.kernel = false});
  ASSERT_GT(p.total_count(), 200u);
  EXPECT_GT(LeafShare(p,
                      [](const View::Frame& f) {
                        return f.name == "plugin_hot" && !f.deleted &&
                               f.module.ends_with("libdlopen_plugin.so");
                      }),
            0.8)
      << Top(p);
  // Most of it on the loop's two lines, its body and its control (the rest on the function's
  // entry and exit); how the samples split between the two depends on the CPU.
  const uint32_t body = MarkedLine("dlopen/plugin.cc", "plugin-hot");
  const uint32_t control = MarkedLine("dlopen/plugin.cc", "plugin-loop");
  EXPECT_GT(LeafShare(p, [&](const View::Frame& f) { return f.line == body; }), 0.1) << Top(p);
  EXPECT_GT(LeafShare(p, [&](const View::Frame& f) { return f.line == body || f.line == control; }),
            0.8)
      << Top(p);
}

// Deleted once loaded, and the process gone by the time the recording ends: named through the
// files the tracer kept open, and marked deleted.
TEST_F(SymbolizationTest, DeletedLibraryStaysNamed) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const Recording r =
      RecordAndRead({SampleFile("dlopen"), SampleFile("libdlopen_plugin.so"), "0.6", "--deleted"});
  const View p = View::Build(r, {.kernel = false});
  ASSERT_GT(p.total_count(), 200u);
  EXPECT_GT(LeafShare(p,
                      [](const View::Frame& f) {
                        return f.name == "plugin_hot" && f.deleted &&
                               f.module.ends_with("/libdlopen_plugin.so");
                      }),
            0.8)
      << Top(p);
}

// A library unloaded, and another loaded where it was: samples before name the first, samples
// after the second (one address, two files, told apart by the time of each sample).
TEST_F(SymbolizationTest, LibraryReloadedAtTheSameAddress) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string first = SampleFile("libdlopen_plugin.so");
  const std::string second = SampleFile("libdlopen_plugin_stripped.so");
  const Recording r = RecordAndRead({SampleFile("dlopen"), first, "0.4", "--then", second});
  // The kernel put the second where the first was.
  const Mapping* a = nullptr;
  const Mapping* b = nullptr;
  for (const Mapping& m : r.mappings) {
    if ((m.prot & PROT_EXEC) != 0 && m.path == first) a = &m;
    if ((m.prot & PROT_EXEC) != 0 && m.path == second) b = &m;
  }
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(a->start < b->end && b->start < a->end) << "mapped apart: nothing to tell apart";
  // plugin_hot's samples, by file, in time order: all of the first's before any of the second's.
  const ProcessHistory history(r);
  uint64_t in_first = 0, in_second = 0, last_first = 0, first_second = ~uint64_t{0};
  for (const Event& e : r.events) {
    const StitchedStack s = Stitch(r, e);
    if (s.user.empty()) continue;
    const uint64_t pc = s.user.front();
    const Symbol* symbol = r.SymbolAt(e.pid, history.MappingAt(e.pid, e.time_ns, pc), pc);
    if (symbol == nullptr || symbol->frames.empty() ||
        symbol->frames.back().function != "plugin_hot") {
      continue;
    }
    if (symbol->module == first) {
      ++in_first;
      last_first = std::max(last_first, e.time_ns);
    } else if (symbol->module == second) {
      ++in_second;
      first_second = std::min(first_second, e.time_ns);
    }
  }
  EXPECT_GT(in_first, 100u);
  EXPECT_GT(in_second, 100u);
  EXPECT_LT(last_first, first_second);
}

TEST_F(SymbolizationTest, JitCodeNamedByItsPerfMap) {
  DPROF_REQUIRE_PERF_OR_SKIP();
#if !defined(__x86_64__)
  GTEST_SKIP() << "samples/jit generates x86-64 code";
#endif
  const Recording r = RecordAndRead({SampleFile("jit"), "0.6"});
  for (const ThreadName& t : r.threads) {
    std::filesystem::remove("/tmp/perf-" + std::to_string(t.pid) + ".map");
  }
  const View p = View::Build(r, {.kernel = false});
  ASSERT_GT(p.total_count(), 200u);
  EXPECT_GT(LeafShare(p,
                      [](const View::Frame& f) {
                        return f.name == "jit_hot_loop" && f.module.starts_with("/tmp/perf-");
                      }),
            0.8)
      << Top(p);
}

// Kernel frames are named from kallsyms; a recording keeps the names (no [unknown] frames in the
// kernel half when kallsyms shows addresses).
TEST_F(SymbolizationTest, KernelFramesAreNamed) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const Recording r = RecordAndRead({testing::SampleProgram("blocking", "nofp"), "write", "256"});
  const View p = View::Build(r, {.user = false});
  ASSERT_GT(p.total_count(), 0u);
  size_t named = 0, kernel = 0;
  for (const View::Frame& f : p.frames()) {
    if (f.kind != View::FrameKind::kKernel) continue;
    ++kernel;
    named += !f.name.starts_with("[unknown]");
    EXPECT_EQ(f.module, "[kernel.kallsyms]");
  }
  EXPECT_GT(kernel, 0u);
  EXPECT_EQ(named, kernel);
}

// Every way one process makes another (samples/forker all): pre-fork workers that never exec, a
// grandchild, orphans, vfork, posix_spawn, clone with and without CLONE_VM, exec. Each process's
// code is named as the parent's is, and names follow exec.
TEST_F(SymbolizationTest, EveryProcessOfATreeIsNamed) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  constexpr double kSeconds = 0.3;
  const Recording r = RecordAndRead({SampleFile("forker"), "all", std::to_string(kSeconds)});
  const View p = View::Build(r, {.kernel = false});
  ASSERT_GT(p.total_count(), 1000u);
  EXPECT_GT(LeafShare(p, [](const View::Frame& f) { return !f.name.starts_with("[unknown]"); }),
            0.97)
      << Top(p);
  // Each burns kSeconds of wall time per process; on a loaded machine it gets less of the CPU.
  const std::map<std::string, int> processes = {{"worker_burn", 5}, {"grandchild_burn", 1},
                                                {"exec_burn", 3},   {"pre_exec_burn", 1},
                                                {"clone_burn", 1},  {"clone_vm_burn", 1}};
  std::map<std::string, uint64_t> total;
  for (const FunctionWeight& w : FunctionWeights(p, ReportOptions::Sort::kTotal)) {
    if (processes.contains(w.name)) total[w.name] = w.total;
  }
  for (const auto& [function, count] : processes) {
    EXPECT_GT(total[function], count * kSeconds * 0.25e9) << function << "\n" << Top(p);
  }

  // The process that execs: "forker" before, "exe" (it execs /proc/self/exe) after.
  const ProcessHistory history(r);
  std::map<std::string, std::set<std::string>> comms_of;  // by function
  for (const Event& e : r.events) {
    const StitchedStack s = Stitch(r, e);
    for (uint64_t pc : s.user) {
      const Symbol* symbol = r.SymbolAt(e.pid, history.MappingAt(e.pid, e.time_ns, pc), pc);
      if (symbol == nullptr) continue;
      for (const SymbolFrame& f : symbol->frames) {
        if (f.function == "pre_exec_burn" || f.function == "exec_burn") {
          comms_of[f.function].insert(history.NameAt(e.pid, e.tid, e.time_ns));
        }
      }
    }
  }
  EXPECT_EQ(comms_of["pre_exec_burn"], std::set<std::string>{"forker"});
  EXPECT_EQ(comms_of["exec_burn"], (std::set<std::string>{"forker", "exe"}))
      << "vfork and posix_spawn exec the program by its path, exec mode by /proc/self/exe";
}

}  // namespace
}  // namespace dprof::profile
