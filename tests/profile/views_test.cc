// The views on a recording with known symbols (testing::SymbolizedRecording): the profile's
// stacks and totals, folded stacks, the text report with its stats block, and pprof decoded by an
// independent decoder (protoc --decode with the schema) whose totals match the report's.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dprof/profile/folded.h"
#include "dprof/profile/pprof.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/report.h"
#include "dprof/profile/speedscope.h"
#include "dprof/profile/view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/profile/recording_testing.h"

namespace dprof::profile {
namespace {

using ::testing::HasSubstr;

TEST(ProfileTest, StitchesSymbolizesAndMerges) {
  const Recording r = testing::SymbolizedRecording();
  const View p = View::Build(r);
  // 3 events main;work;hot_a (one through a cookie), 1 main;work;hot_b, 1 orphan in the kernel.
  EXPECT_EQ(p.total_count(), 5u);
  EXPECT_EQ(p.total_weight(), 5'000'000u);
  EXPECT_EQ(p.unit(), WeightUnit::kNanoseconds);
  // Folded: samples by default, as flamegraph.pl reads the numbers; or the weights.
  const std::string orphan =
      "[user stack never arrived: task exited or recording cut short];do_syscall_64_[k];"
      "[unknown] ([kernel.kallsyms]+0x99)_[k] ";
  std::ostringstream folded, ns, us;
  WriteFolded(p, {.kernel_suffix = true}, folded);
  EXPECT_EQ(folded.str(), "main;work;hot_a 3\n" + orphan + "1\nmain;work;inlined_helper;hot_b 1\n");
  WriteFolded(p, {.kernel_suffix = true, .value = FoldedValue::kWeight}, ns);
  EXPECT_EQ(ns.str(), "main;work;hot_a 3000000\n" + orphan +
                          "1000000\nmain;work;inlined_helper;hot_b 1000000\n");
  WriteFolded(p, {.kernel_suffix = true, .value = FoldedValue::kMicroseconds}, us);
  EXPECT_EQ(us.str(),
            "main;work;hot_a 3000\n" + orphan + "1000\nmain;work;inlined_helper;hot_b 1000\n");
  EXPECT_EQ(p.stitch_counts().orphaned(Orphan::kNeverDelivered), 1u);
}

TEST(ProfileTest, FiltersAndThreadRoot) {
  const Recording r = testing::SymbolizedRecording();
  std::ostringstream folded;
  WriteFolded(View::Build(r, {.tids = {11}, .kernel = false, .thread_root = true}), {}, folded);
  EXPECT_EQ(folded.str(), "worker;main;work;inlined_helper;hot_b 1\n");
  EXPECT_EQ(View::Build(r, {.comms = {"nobody"}}).total_count(), 0u);
}

// A view holding off-CPU time folds to microseconds: its intervals are no samples of equal
// weight. Each line rounds once, so the lines add up to the view's time within half a
// microsecond a line.
TEST(ProfileTest, OffCpuTimeFoldsToMicroseconds) {
  ReadReport report;
  absl::StatusOr<Recording> r = ReadRecording(
      (std::filesystem::path(DPROF_GOLDEN_DIR) / "v2-0.3.0-blocking.dprof").string(), &report);
  ASSERT_TRUE(r.ok()) << r.status();
  const View off = View::Build(*r, {.events = {2}, .thread_root = true});
  ASSERT_EQ(r->event_names[2], kOffCpuEvent);
  ASSERT_EQ(off.unit(), WeightUnit::kOffCpuNanoseconds);
  EXPECT_EQ(ResolveFoldedValue(off, FoldedValue::kAuto), FoldedValue::kMicroseconds);
  std::ostringstream folded;
  WriteFolded(off, {}, folded);
  uint64_t sum = 0, lines = 0;
  for (absl::string_view line : absl::StrSplit(folded.str(), '\n', absl::SkipEmpty())) {
    uint64_t v = 0;
    ASSERT_TRUE(absl::SimpleAtoi(line.substr(line.rfind(' ') + 1), &v)) << line;
    sum += v;
    ++lines;
  }
  ASSERT_GT(lines, 0u);
  EXPECT_GT(sum, 50'000u) << "four sleeps of 20 ms";
  EXPECT_LE(sum * 1000, off.total_weight() + lines * 500);
  EXPECT_GE(sum * 1000 + lines * 500, off.total_weight());
  // The on-CPU samples of the same recording count samples.
  const View on = View::Build(*r, {.events = {0}});
  EXPECT_EQ(ResolveFoldedValue(on, FoldedValue::kAuto), FoldedValue::kCount);
}

// A thread never renamed has its creator's name (the kernel copies it at clone), else its
// process's; the idle task is swapper.
TEST(ProfileTest, ThreadNamesInheritTheirCreators) {
  Recording r;
  r.threads = {{.pid = 10, .tid = 10, .comm = "app"}, {.pid = 10, .tid = 11, .comm = "pool"}};
  r.tasks = {{.pid = 10, .ppid = 10, .tid = 12, .ptid = 11},  // made by "pool"
             {.pid = 10, .ppid = 10, .tid = 13, .ptid = 12},  // by 12, named by inheritance
             {.exit = true, .pid = 10, .ppid = 10, .tid = 13, .ptid = 12}};
  r.events = {{.pid = 10, .tid = 14}, {.pid = 20, .tid = 21}};  // 14: no fork seen
  const auto names = ThreadNames(r);
  EXPECT_EQ(names.at(12), "pool");
  EXPECT_EQ(names.at(13), "pool");
  EXPECT_EQ(names.at(14), "app");
  EXPECT_FALSE(names.contains(21)) << "process 20 was never named";
  EXPECT_EQ(names.at(0), "swapper");
}

TEST(ReportTest, TopFunctionsAndStats) {
  const Recording r = testing::SymbolizedRecording();
  const View p = View::Build(r);
  std::vector<FunctionWeight> rows = FunctionWeights(p, ReportOptions::Sort::kSelf);
  ASSERT_GE(rows.size(), 3u);
  EXPECT_EQ(rows[0].name, "hot_a");
  EXPECT_EQ(rows[0].self, 3'000'000u);
  rows = FunctionWeights(p, ReportOptions::Sort::kTotal);
  EXPECT_EQ(rows[0].name, "main");
  EXPECT_EQ(rows[0].total, 4'000'000u);
  std::ostringstream out;
  WriteReport(r, p, {.top = 3}, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("60.00%"));  // hot_a's self share
  EXPECT_THAT(text, HasSubstr("hot_a"));
  EXPECT_THAT(text, HasSubstr("5 samples, 5.0 ms"));
  EXPECT_THAT(text, HasSubstr("unwinds 3 done of 4 requested (3 jobs; sharing: 1.33 events"));
  EXPECT_THAT(text, HasSubstr("lost records 2"));
  EXPECT_THAT(text, HasSubstr("orphans 1\n"));  // the one event whose cookie never arrived
  EXPECT_THAT(text, HasSubstr("1 [user stack never arrived"));
}

// Rows by perf's --sort keys: threads (comm, pid, tid) from the stacks of a profile built by
// thread, modules and functions from the frames; self from the leaf, total once per stack.
TEST(ReportTest, RowsBySortKeys) {
  const Recording r = testing::SymbolizedRecording();
  const View p = View::Build(r, {.by_thread = true});
  auto rows = [&](std::vector<ReportKey> keys, ReportOptions::Sort sort) {
    std::vector<std::string> out;
    for (const ReportRow& row : ReportRows(p, keys, sort)) {
      out.push_back(absl::StrCat(absl::StrJoin(row.keys, "/"), " ", row.self, " ", row.total, " ",
                                 row.self_count));
    }
    return out;
  };
  using K = ReportKey;
  using ::testing::ElementsAre;
  EXPECT_THAT(rows({K::kComm}, ReportOptions::Sort::kSelf),
              ElementsAre("app 4000000 4000000 4", "worker 1000000 1000000 1"));
  EXPECT_THAT(rows({K::kTid, K::kPid}, ReportOptions::Sort::kSelf),
              ElementsAre("10/10 4000000 4000000 4", "11/10 1000000 1000000 1"));
  EXPECT_THAT(rows({K::kComm, K::kSym}, ReportOptions::Sort::kSelf),
              ElementsAre("app/hot_a 3000000 3000000 3",
                          "app/[unknown] ([kernel.kallsyms]+0x99) 1000000 1000000 1",
                          "worker/hot_b 1000000 1000000 1",
                          "app/[user stack never arrived: task exited or recording cut short] 0 "
                          "1000000 0",
                          "app/do_syscall_64 0 1000000 0", "app/main 0 3000000 0",
                          "app/work 0 3000000 0", "worker/inlined_helper 0 1000000 0",
                          "worker/main 0 1000000 0", "worker/work 0 1000000 0"));
  // Ordered by total: work's 4 ms of stacks, each counted once though it has several frames
  // there; the pseudo-frame of a missing user stack has no module.
  EXPECT_THAT(
      rows({K::kDso}, ReportOptions::Sort::kTotal),
      ElementsAre("work 4000000 4000000 4", " 0 1000000 0", "[kernel.kallsyms] 1000000 1000000 1"));
  EXPECT_EQ(ParseReportKey("dso"), K::kDso);
  EXPECT_EQ(ParseReportKey("module"), K::kDso);
  EXPECT_EQ(ParseReportKey("symbol"), std::nullopt);
}

// The call paths under each row, as a tree with each branch's share of the whole: from the
// function up to the root (callee), from the root down (caller), and with rows by total weight
// from the function down into what it called.
TEST(ReportTest, CallGraphs) {
  const Recording r = testing::SymbolizedRecording();
  const View p = View::Build(r, {.kernel = false});
  auto report = [&](ReportOptions o) {
    o.header = false;
    o.stats = false;
    o.top = 1;
    std::ostringstream out;
    WriteReport(r, p, o, out);
    return out.str();
  };
  EXPECT_EQ(report({.call_graph = ReportOptions::CallGraph::kCallee}),
            "    Self    Total    Self time  Function  Module\n"
            "  60.00%   60.00%       3.0 ms  hot_a     work\n"
            "            60.00%  hot_a\n"
            "                    work\n"
            "                    main\n"
            "\n");
  EXPECT_EQ(report({.call_graph = ReportOptions::CallGraph::kCaller}),
            "    Self    Total    Self time  Function  Module\n"
            "  60.00%   60.00%       3.0 ms  hot_a     work\n"
            "            60.00%  main\n"
            "                    work\n"
            "                    hot_a\n"
            "\n");
  // main by total: what it called, branching at work; the orphan (20%) is left out by the limit.
  EXPECT_EQ(report({.sort = ReportOptions::Sort::kTotal,
                    .percent_limit = 30,
                    .call_graph = ReportOptions::CallGraph::kCaller}),
            "    Self    Total   Total time  Function  Module\n"
            "   0.00%   80.00%       4.0 ms  main      work\n"
            "            80.00%  main\n"
            "                    work\n"
            "              60.00%  hot_a\n"
            "\n");
}

// The columns: -n's samples, --no-children's single weight, a width that long names are cut to
// with an ellipsis (never misaligned), and the header's units.
TEST(ReportTest, ColumnsAndWidth) {
  const Recording r = testing::SymbolizedRecording();
  const View p = View::Build(r);
  auto report = [&](ReportOptions o) {
    o.stats = false;
    std::ostringstream out;
    WriteReport(r, p, o, out);
    return out.str();
  };
  std::string text = report({.total_column = false, .samples_column = true, .top = 2});
  EXPECT_THAT(text, HasSubstr("(cpu-clock; 5 samples, 5.0 ms)\n"
                              "    Self  Samples    Self time  Function                            "
                              "Module\n"
                              "  60.00%        3       3.0 ms  hot_a                               "
                              "work\n"));
  // Each row's module starts in the header's Module column, counted in characters.
  auto characters = [](const std::string& line) {
    std::vector<std::string> out;
    for (char c : line) {
      if ((c & 0xC0) != 0x80 || out.empty()) out.emplace_back();
      out.back() += c;
    }
    return out;
  };
  for (size_t width : {60, 44}) {
    text = report({.width = width, .top = 0});
    EXPECT_THAT(text, HasSubstr("\u2026")) << "long names cut";
    std::istringstream lines(text);
    size_t module = 0;
    for (std::string line; std::getline(lines, line);) {
      const std::vector<std::string> c = characters(line);
      EXPECT_LE(c.size(), width) << line;
      if (line.starts_with("#")) continue;
      if (module == 0) {
        ASSERT_NE(line.find("Mod"), std::string::npos) << line;
        module = characters(line.substr(0, line.find("Mod"))).size();
        continue;
      }
      if (c.size() <= module) continue;  // a pseudo-frame: no module
      EXPECT_EQ(c[module - 2] + c[module - 1], "  ") << line;
      EXPECT_NE(c[module], " ") << line;
    }
  }
  // Counted events say so.
  Recording faults = r;
  faults.event_names = {"page-faults"};
  std::ostringstream out;
  WriteReport(faults, View::Build(faults), {.stats = false}, out);
  EXPECT_THAT(out.str(), HasSubstr("(page-faults; 5 samples, 5000000 events)"));
  EXPECT_THAT(out.str(), HasSubstr("Self events"));
}

// Every user frame nothing names is counted by why: the report says where to look.
TEST(ReportTest, UnnamedFramesByReason) {
  Recording r;
  r.event_names = {"cpu-clock"};
  r.mappings = {{.pid = 10, .start = 0x1000, .end = 0x2000, .prot = 5, .path = "/app/work"},
                {.pid = 10, .start = 0x5000, .end = 0x6000, .prot = 7, .path = "//anon"},
                {.pid = 10, .start = 0x7000, .end = 0x8000, .prot = 5, .path = "/lib/libz.so.1"},
                {.pid = 10, .start = 0x9000, .end = 0xa000, .prot = 5, .path = "/tmp/gone.so"}};
  r.symbols = {{.module = "/app/work", .offset = 0x10, .frames = {{.function = "main"}}},
               {.module = "//anon", .offset = 0x5010},
               {.module = "/lib/libz.so.1", .offset = 0x10},
               {.module = "/tmp/gone.so", .offset = 0x10, .deleted = true}};
  r.mapped_symbol_of = {{{0, 0x1010}, 0}, {{1, 0x5010}, 1}, {{2, 0x7010}, 2}, {{3, 0x9010}, 3}};
  // main, then each kind of unnamed frame once; 0x3010 is in no mapping.
  r.stacks[1] = {0x3010, 0x9010, 0x7010, 0x5010, 0x1010};
  r.user_stacks[1] = {.stack = 1};
  for (uint64_t t : {1'000'000'000, 1'500'000'000}) {
    r.events.push_back({.pid = 10,
                        .tid = 10,
                        .time_ns = t,
                        .weight = 1,
                        .user = event::UserStack::kDeferred,
                        .cookie = 1});
  }
  const View p = View::Build(r);
  const UnnamedCounts& u = p.unnamed_counts();
  EXPECT_EQ(u.user_frames, 10u);
  EXPECT_EQ(u.unnamed(), 8u);
  for (Unnamed why :
       {Unnamed::kUnmapped, Unnamed::kAnonymous, Unnamed::kNoSymbols, Unnamed::kDeleted}) {
    EXPECT_EQ(u[why], 2u) << UnnamedReason(why);
  }
  EXPECT_EQ(u.first_pid, 10u);
  EXPECT_EQ(u.first_time_ns, 1'000'000'000u);
  std::ostringstream out;
  WriteReport(r, p, {.functions = false}, out);
  EXPECT_THAT(out.str(), HasSubstr("unnamed user frames 8 of 10 (80.00%)"));
  EXPECT_THAT(out.str(), HasSubstr("2 no mapping (first: pid 10 at 0.000 s)"));
  EXPECT_THAT(out.str(), HasSubstr("2 anonymous executable memory\n"));
  EXPECT_THAT(out.str(), HasSubstr("2 no symbols (libz.so.1 2)"));
  EXPECT_THAT(out.str(), HasSubstr("2 deleted file (gone.so 2)"));
}

TEST(SpeedscopeTest, FramesSamplesAndWeights) {
  const Recording r = testing::SymbolizedRecording();
  std::ostringstream out;
  WriteSpeedscope(r, View::Build(r, {.tids = {11}, .keep_events = true}), "app \"<1>\"", out);
  EXPECT_EQ(out.str(),
            R"({"$schema":"https://www.speedscope.app/file-format-schema.json",)"
            R"("exporter":"dprof","name":"app \"\u003c1>\"","activeProfileIndex":0,)"
            R"("shared":{"frames":[{"name":"main"},{"name":"work"},)"
            R"({"name":"inlined_helper","file":"work.cc"},{"name":"hot_b","file":"work.cc"}]},)"
            R"("profiles":[{"type":"sampled","name":"worker 10/11","unit":"nanoseconds",)"
            R"("startValue":0,"endValue":1000000,"samples":[[0,1,2,3]],"weights":[1000000]}]})"
            "\n");
}

// speedscope's frames are functions: one function seen at two lines is one frame.
TEST(SpeedscopeTest, OneFramePerFunction) {
  Recording r = testing::SymbolizedRecording();
  r.stacks[4] = {0x1110 + 4, 0x2010, 0x3010};  // hot_b at another line, inlined as before
  r.symbol_of[{10, 0x1114}] = static_cast<uint32_t>(r.symbols.size());
  r.symbols.push_back(
      {.module = "/app/work",
       .offset = 0x1114,
       .frames = {{.function = "hot_b", .file = "work.cc", .line = 8, .inlined = true},
                  {.function = "inlined_helper", .file = "work.cc", .line = 13}}});
  Event e = r.events[3];
  e.user_stack = 4;
  r.events.push_back(e);
  std::ostringstream out;
  WriteSpeedscope(r, View::Build(r, {.tids = {11}, .keep_events = true}), "app", out);
  EXPECT_THAT(out.str(), HasSubstr(R"({"name":"inlined_helper","file":"work.cc"},)"
                                   R"({"name":"hot_b","file":"work.cc"}]},)"));
  EXPECT_THAT(out.str(), HasSubstr(R"("samples":[[0,1,2,3]],"weights":[2000000]})"));
}

// One profile per thread, the heaviest first, each over the view's whole time: a clock sample
// covers the period before it, time no event covers is an empty (idle) stack, jitter shorter
// than a period is closed, and equal stacks in a row are one sample.
TEST(SpeedscopeTest, ThreadsInTimeOrder) {
  Recording r = testing::SymbolizedRecording();
  // Thread 10: hot_a at 2, 3.0004 (late by jitter) and 4 ms, the orphan at 10 ms; thread 11:
  // hot_b at 6 ms. Each weighs 1 ms, so the view spans 1..10 ms.
  const uint64_t times[] = {2'000'000, 3'000'400, 4'000'000, 6'000'000, 10'000'000};
  for (size_t i = 0; i < r.events.size(); ++i) r.events[i].time_ns = times[i];
  std::swap(r.events[0], r.events[4]);  // the recording's order is not time order
  std::ostringstream out;
  WriteSpeedscope(r, View::Build(r, {.keep_events = true}), "app", out);
  const std::string json = out.str();
  EXPECT_THAT(json, HasSubstr(R"("profiles":[{"type":"sampled","name":"app 10/10",)"
                              R"("unit":"nanoseconds","startValue":0,"endValue":9000000,)"));
  EXPECT_THAT(json, HasSubstr(R"(,"weights":[3000000,5000000,1000000]})"));
  EXPECT_THAT(json,
              HasSubstr(R"({"type":"sampled","name":"worker 10/11","unit":"nanoseconds",)"
                        R"("startValue":0,"endValue":9000000,)"
                        R"("samples":[[],[3,4,6,7],[]],"weights":[4000000,1000000,4000000]})"));
  EXPECT_THAT(json, HasSubstr(R"("samples":[[3,4,5],[],[0,1,2]],)"));
}

// Counts (a tracepoint, page faults) have no duration: a thread's events follow one another in
// time order with their counts, and nothing is idle.
TEST(SpeedscopeTest, CountsInTimeOrder) {
  Recording r = testing::SymbolizedRecording();
  r.event_names = {"page-faults"};
  const uint64_t times[] = {5, 1, 2, 3, 4};
  for (size_t i = 0; i < r.events.size(); ++i) {
    r.events[i].time_ns = times[i];
    r.events[i].weight = 1;
  }
  std::ostringstream out;
  WriteSpeedscope(r, View::Build(r, {.keep_events = true}), "app", out);
  EXPECT_THAT(out.str(), HasSubstr(R"("name":"app 10/10","unit":"none","startValue":0,)"
                                   R"("endValue":4,"samples":[[0,1,2],[5,6,7],[0,1,2]],)"
                                   R"("weights":[2,1,1]})"));
  EXPECT_THAT(out.str(), HasSubstr(R"("name":"worker 10/11","unit":"none","startValue":0,)"
                                   R"("endValue":1,)"));
}

// An empty view still gives speedscope a profile to show.
TEST(SpeedscopeTest, NothingShown) {
  const Recording r = testing::SymbolizedRecording();
  std::ostringstream out;
  WriteSpeedscope(r, View::Build(r, {.tids = {99}, .keep_events = true}), "app", out);
  EXPECT_THAT(
      out.str(),
      HasSubstr(R"("profiles":[{"type":"sampled","name":"app",)"
                R"("unit":"none","startValue":0,"endValue":0,"samples":[],"weights":[]}]})"));
}

std::string Gunzip(const std::string& gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buffer[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof(buffer);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - z.avail_out);
  }
  inflateEnd(&z);
  EXPECT_EQ(rc, Z_STREAM_END);
  return out;
}

// protoc's text rendering of `bytes` as perftools.profiles.Profile.
std::string Decode(const std::string& bytes) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("dprof-pprof-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "profile.pb", std::ios::binary) << bytes;
  const std::string command = std::string(DPROF_PROTOC) + " --decode=perftools.profiles.Profile" +
                              " -I " + DPROF_PROTO_DIR + " profile.proto < " +
                              (dir / "profile.pb").string() + " 2>&1";
  std::string text;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
    EXPECT_EQ(pclose(pipe), 0) << text;
  }
  std::filesystem::remove_all(dir);
  return text;
}

// The top-level `name { ... }` blocks of protoc's text output (they close with "}" at column 0).
std::vector<std::string> Blocks(const std::string& text, const std::string& name) {
  std::vector<std::string> blocks;
  const std::string open = name + " {\n";
  for (size_t at = text.find(open); at != std::string::npos; at = text.find(open, at + 1)) {
    if (at != 0 && text[at - 1] != '\n') continue;  // nested, not top-level
    const size_t close = text.find("\n}\n", at);
    blocks.push_back(text.substr(at, close == std::string::npos ? std::string::npos : close - at));
  }
  return blocks;
}

// The numbers after every `key` ("value: ") in `block`.
std::vector<uint64_t> Values(const std::string& block, const std::string& key) {
  std::vector<uint64_t> values;
  for (size_t at = block.find(key); at != std::string::npos; at = block.find(key, at + 1)) {
    values.push_back(std::stoull(block.substr(at + key.size())));
  }
  return values;
}

TEST(PprofTest, DecodedByProtocWithTotalsOfTheReport) {
  const Recording r = testing::SymbolizedRecording();
  const View p = View::Build(r);
  std::ostringstream gz;
  ASSERT_TRUE(WritePprof(r, p, gz).ok());
  const std::string text = Decode(Gunzip(gz.str()));
  ASSERT_THAT(text, HasSubstr("sample {")) << text;

  // Sum each sample's two values: events, then nanoseconds.
  uint64_t events = 0, weight = 0;
  ASSERT_EQ(Blocks(text, "sample").size(), p.stacks().size()) << text;
  for (const std::string& sample : Blocks(text, "sample")) {
    const std::vector<uint64_t> values = Values(sample, "value: ");
    ASSERT_EQ(values.size(), 2u) << sample;
    events += values[0];
    weight += values[1];
  }
  EXPECT_EQ(events, p.total_count());
  EXPECT_EQ(weight, p.total_weight());
  // The report's total, from its header line.
  std::ostringstream report;
  WriteReport(r, p, {}, report);
  EXPECT_THAT(report.str(), HasSubstr(absl::StrCat(events, " samples, 5.0 ms")));

  EXPECT_THAT(text, HasSubstr("string_table: \"cpu\""));
  EXPECT_THAT(text, HasSubstr("string_table: \"nanoseconds\""));
  EXPECT_THAT(text, HasSubstr("string_table: \"hot_b\""));
  // The inlined call: one location with two lines (hot_b inside inlined_helper), and the build-id
  // of work's module.
  size_t inlined = 0;
  for (const std::string& location : Blocks(text, "location")) {
    inlined += Values(location, "function_id: ").size() == 2;
  }
  EXPECT_EQ(inlined, 1u) << text;
  EXPECT_THAT(text, HasSubstr("string_table: \"0a0b0c\""));
}

}  // namespace
}  // namespace dprof::profile
