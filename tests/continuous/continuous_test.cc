// The continuous profiler's parts that need no backend: Pyroscope's series names and URLs, one
// profile per service, OTLP requests decoded with the schema, the spool, and the output
// directory's bounds.
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "continuous/internal/otlp_profiles.pb.h"
#include "dprof/continuous/otlp.h"
#include "dprof/continuous/output_dir.h"
#include "dprof/continuous/pyroscope.h"
#include "dprof/continuous/service_profiles.h"
#include "dprof/continuous/spool.h"
#include "dprof/profile/view.h"
#include "gtest/gtest.h"
#include "tests/profile/recording_testing.h"

namespace dprof::continuous {
namespace {

TEST(PyroscopeTest, IngestUrlCarriesTheSeriesAndTheWindow) {
  EXPECT_EQ(PyroscopeIngestUrl("http://pyroscope:4040/",
                               {.service = "nginx",
                                .labels = {{"host_name", "web1"}, {"env", "prod east"}},
                                .from_unix_s = 1700000000,
                                .until_unix_s = 1700000010,
                                .sample_rate = 99}),
            "http://pyroscope:4040/ingest?name=nginx%7Benv%3Dprod%20east%2Chost_name%3Dweb1%7D"
            "&from=1700000000&until=1700000010&format=pprof&spyName=dprof&sampleRate=99");
  EXPECT_EQ(PyroscopeIngestUrl("https://p", {.service = "a.b-c_d~"}),
            "https://p/ingest?name=a.b-c_d~&from=0&until=0&format=pprof&spyName=dprof");
}

TEST(PyroscopeTest, NamesLoseTheSeriesSyntax) {
  EXPECT_EQ(PyroscopeName("a{b}c,d=e\"f\ng h"), "a_b_c_d_e_f_g h");
  EXPECT_EQ(PyroscopeIngestUrl("http://p", {.service = "x{y}", .labels = {{"k", "v,w"}}}),
            "http://p/ingest?name=x_y_%7Bk%3Dv_w%7D&from=0&until=0&format=pprof&spyName=dprof");
}

TEST(PyroscopeTest, PercentEncodingKeepsOnlyUnreservedBytes) {
  EXPECT_EQ(PercentEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(PercentEncode("a b/{}=,&\xff"), "a%20b%2F%7B%7D%3D%2C%26%FF");
}

TEST(ServiceProfilesTest, OneProfilePerProgramOrOneForAll) {
  const profile::Recording r = testing::MakeRecording(300);
  const uint64_t total = profile::View::Build(r).total_count();
  ASSERT_GT(total, 0u);

  absl::StatusOr<std::vector<ServiceProfile>> by_program = ServiceProfiles(r, {});
  ASSERT_TRUE(by_program.ok()) << by_program.status();
  std::set<std::string> services;
  uint64_t samples = 0;
  for (const ServiceProfile& p : *by_program) {
    services.insert(p.service);
    samples += p.samples;
    EXPECT_EQ(p.pprof.substr(0, 2), "\x1f\x8b") << "gzipped";
  }
  // Process 100 is named cpu_bound (and 101 is: a thread of 100 took that tid); 102 never was.
  EXPECT_EQ(services, (std::set<std::string>{"cpu_bound", "unknown"}));
  EXPECT_EQ(samples, total);

  // One profile per event (cpu-clock, the tracepoint, off-CPU time), never their sum.
  absl::StatusOr<std::vector<ServiceProfile>> one = ServiceProfiles(r, {.service = "batch"});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), r.event_names.size());
  std::set<uint32_t> events;
  samples = 0;
  for (const ServiceProfile& p : *one) {
    EXPECT_EQ(p.service, "batch");
    EXPECT_TRUE(events.insert(p.event).second);
    samples += p.samples;
    EXPECT_EQ(p.samples, profile::View::Build(r, {.events = {p.event}}).total_count());
  }
  EXPECT_EQ(samples, total);

  EXPECT_TRUE(ServiceProfiles(profile::Recording{}, {})->empty()) << "no sample, no profile";
}

TEST(OutputDirTest, KeepsTheNewestWithinItsBoundsAndTouchesNothingElse) {
  const std::string dir = ::testing::TempDir() + "/output-dir-test";
  std::filesystem::remove_all(dir);
  absl::StatusOr<std::unique_ptr<OutputDir>> out = OutputDir::Open(dir, {.max_files = 3});
  ASSERT_TRUE(out.ok()) << out.status();
  std::ofstream(dir + "/notes.txt") << "mine";
  constexpr uint64_t kStart = 1'700'000'000'000'000'000;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*out)->Write(i % 2 ? "web/1" : "db", kStart + i * 10'000'000'000ull, "x").ok());
  }
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.insert(e.path().filename().string());
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"notes.txt", "db-20231114T221400Z.pb.gz",
                                   "web_1-20231114T221350Z.pb.gz", "db-20231114T221340Z.pb.gz"}));
  EXPECT_EQ(OutputDir::FileName(".hidden", kStart), "_.hidden-20231114T221320Z.pb.gz");

  EXPECT_FALSE(OutputDir::Open("/proc/version/x", {}).ok());
}

TEST(OtlpTest, ARequestDecodesWithTheSchemaAndFollowsItsRules) {
  const profile::Recording r = testing::SymbolizedRecording();
  absl::StatusOr<std::string> bytes =
      OtlpProfilesRequest(r, {.start_unix_ns = 1'000'000'000,
                              .end_unix_ns = 3'000'000'000,
                              .unix_minus_monotonic_ns = 0,
                              .attributes = {{"host.name", "web1"}}});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  dprof::otlp::ExportProfilesServiceRequest request;
  ASSERT_TRUE(request.ParseFromString(*bytes));
  const dprof::otlp::ProfilesDictionary& d = request.dictionary();
  // Every table starts with its zero entry.
  ASSERT_GT(d.string_table_size(), 0);
  EXPECT_EQ(d.string_table(0), "");
  for (int size : {d.mapping_table_size(), d.location_table_size(), d.function_table_size(),
                   d.link_table_size(), d.attribute_table_size(), d.stack_table_size()}) {
    EXPECT_GE(size, 1);
  }
  EXPECT_EQ(d.stack_table(0).location_indices_size(), 0);
  EXPECT_EQ(d.location_table(0).lines_size(), 0);

  ASSERT_EQ(request.resource_profiles_size(), 1);
  const auto& resource = request.resource_profiles(0);
  std::map<std::string, std::string> attributes;
  for (const auto& kv : resource.resource().attributes()) {
    attributes[kv.key()] = kv.value().string_value();
  }
  EXPECT_EQ(attributes,
            (std::map<std::string, std::string>{{"service.name", "app"}, {"host.name", "web1"}}));
  ASSERT_EQ(resource.scope_profiles_size(), 1);
  EXPECT_EQ(resource.scope_profiles(0).scope().name(), "dprof");
  ASSERT_EQ(resource.scope_profiles(0).profiles_size(), 1) << "one event recorded";
  const dprof::otlp::Profile& p = resource.scope_profiles(0).profiles(0);
  EXPECT_EQ(d.string_table(p.sample_type().type_strindex()), "cpu");
  EXPECT_EQ(d.string_table(p.period_type().unit_strindex()), "nanoseconds");
  EXPECT_EQ(p.time_unix_nano(), 1'000'000'000u);
  EXPECT_EQ(p.duration_nano(), 2'000'000'000u);

  // The samples: as many events as the recording has, hot_a the leaf of three of them, every
  // index in range, stacks leaf first.
  std::map<std::string, size_t> leaf_events;
  size_t events = 0;
  int64_t weight = 0;
  for (const auto& sample : p.samples()) {
    ASSERT_GT(sample.stack_index(), 0);
    ASSERT_LT(sample.stack_index(), d.stack_table_size());
    ASSERT_EQ(sample.values_size(), sample.timestamps_unix_nano_size()) << "paired by index";
    for (int64_t v : sample.values()) weight += v;
    events += sample.timestamps_unix_nano_size();
    const auto& stack = d.stack_table(sample.stack_index());
    ASSERT_GT(stack.location_indices_size(), 0);
    for (int l : stack.location_indices()) {
      ASSERT_GT(l, 0);
      ASSERT_LT(l, d.location_table_size());
      EXPECT_LT(d.location_table(l).mapping_index(), d.mapping_table_size());
      for (const auto& line : d.location_table(l).lines()) {
        ASSERT_GT(line.function_index(), 0);
        ASSERT_LT(line.function_index(), d.function_table_size());
      }
    }
    const auto& leaf = d.location_table(stack.location_indices(0));
    if (leaf.lines_size() > 0) {
      leaf_events[d.string_table(
          d.function_table(leaf.lines(0).function_index()).name_strindex())] +=
          sample.timestamps_unix_nano_size();
    }
  }
  EXPECT_EQ(events, r.events.size());
  EXPECT_EQ(weight, 5'000'000);
  EXPECT_EQ(leaf_events["hot_a"], 3u);
  EXPECT_EQ(leaf_events["hot_b"], 1u) << "the innermost inlined call leads the leaf's lines";
}

TEST(OtlpTest, NothingSampledIsAnEmptyRequest) {
  absl::StatusOr<std::string> bytes = OtlpProfilesRequest(profile::Recording{}, {});
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(bytes->empty());
}

TEST(OtlpTest, TheHttpRequestIsGzippedProtobuf) {
  absl::StatusOr<Outgoing> r = OtlpHttpRequest("http://collector:4318/", "abc", "window 3");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url, "http://collector:4318/v1development/profiles");
  EXPECT_EQ(r->headers, (std::vector<std::string>{"Content-Type: application/x-protobuf",
                                                  "Content-Encoding: gzip"}));
  EXPECT_EQ(r->body.substr(0, 2), "\x1f\x8b");
  EXPECT_EQ(r->what, "window 3");
}

TEST(SpoolTest, OldestFirstAcrossReopeningWithinItsBound) {
  const std::string dir = ::testing::TempDir() + "/spool-test";
  std::filesystem::remove_all(dir);
  auto request = [](int i) {
    return Outgoing{
        .url = "http://h/" + std::to_string(i),
        .headers = {"Content-Type: a", "Content-Encoding: gzip"},
        .body = std::string(100, static_cast<char>('a' + i)) + std::string("\n\x1f\0end", 7),
        .what = "profile " + std::to_string(i)};
  };
  // The oldest, then out of the spool (as once delivered).
  auto take = [](Spool& spool) {
    std::optional<Outgoing> r = spool.Oldest();
    spool.RemoveOldest();
    return r;
  };
  {
    absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(dir, 1000);
    ASSERT_TRUE(spool.ok()) << spool.status();
    absl::StatusOr<std::unique_ptr<Spool>> second = Spool::Open(dir, 1000);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.status().message().find("another dprof agent uses it"), std::string::npos);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*spool)->Put(request(i)).ok());
    EXPECT_EQ((*spool)->size(), 3u);
    EXPECT_EQ((*spool)->Oldest(), request(0)) << "left in the spool until removed";
    EXPECT_EQ((*spool)->size(), 3u);
    EXPECT_EQ(take(**spool), request(0));
  }
  // A later run finds the rest, in order; a file that is no spooled request is counted.
  std::ofstream(dir + "/00000000000000000000.req") << "not a request";
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(dir, 1000);
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ((*spool)->size(), 3u);
  EXPECT_EQ(take(**spool), request(1));
  EXPECT_EQ((*spool)->unreadable(), 1u);
  EXPECT_EQ(take(**spool), request(2));
  EXPECT_EQ(take(**spool), std::nullopt);

  // Past the bound the oldest go, counted; the newest always stays.
  for (int i = 0; i < 12; ++i) ASSERT_TRUE((*spool)->Put(request(i)).ok());
  EXPECT_LE((*spool)->bytes(), 1000u);
  EXPECT_EQ((*spool)->dropped() + (*spool)->size(), 12u);
  EXPECT_GT((*spool)->dropped(), 0u);
  std::optional<Outgoing> oldest = take(**spool);
  ASSERT_TRUE(oldest.has_value());
  EXPECT_EQ(*oldest, request(static_cast<int>((*spool)->dropped())));
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".req") continue;
    EXPECT_EQ(std::filesystem::status(e.path()).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  EXPECT_FALSE(Spool::Open("/proc/version/x", 1000).ok());

  // A smaller bound than the files there: the oldest go at once.
  spool->reset();
  absl::StatusOr<std::unique_ptr<Spool>> smaller = Spool::Open(dir, 1);
  ASSERT_TRUE(smaller.ok());
  EXPECT_EQ((*smaller)->size(), 1u);
  EXPECT_GT((*smaller)->dropped(), 0u);
}

}  // namespace
}  // namespace dprof::continuous
