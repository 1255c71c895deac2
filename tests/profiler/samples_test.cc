// The embedding samples, run as their users would: embed_self (C++ API), embed_c (C API) and
// custom_consumer, with perf_event, with the timer fallback forced by DPROF_NO_PERF_EVENT, and
// with perf_event_open really forbidden (a seccomp filter, as in a container).
#include <errno.h>

#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof {
namespace {

using ::dprof::testing::CliOptions;
using ::dprof::testing::CliResult;
using ::dprof::testing::RunDprof;
using ::dprof::testing::ScratchDir;
using ::testing::HasSubstr;

CliResult RunSample(const std::string& program, const std::vector<std::string>& args,
                    CliOptions options = {}) {
  options.program = program;
  return RunDprof(args, options);
}

// The number printed after `label` ("embed_self: hot_a 65.1%" → 65.1); -1 when absent.
double Number(const std::string& out, const std::string& label) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(label + " ([0-9.]+)"))) return -1;
  return std::atof(m[1].str().c_str());
}

// The shares a profile of the shared workload must show: hot_a twice hot_b, within what sampling
// alone moves a ratio of that many samples (a few hundred with timer signals on a busy machine).
void ExpectShares(const std::string& out, const std::string& program) {
  const double a = Number(out, program + ": hot_a"), b = Number(out, program + ": hot_b");
  const double samples = Number(out, program + ":");
  EXPECT_GT(a + b, 85) << out;
  ASSERT_GT(b, 0) << out;
  EXPECT_NEAR(a / b, 2.0, ::dprof::testing::RatioTolerance(samples * a / 100, samples * b / 100))
      << out;
}

void ExpectEmbedSelf(const CliResult& r, const std::string& sampler) {
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("embed_self: sampler " + sampler));
  EXPECT_GT(Number(r.out, "embed_self:"), 200) << r.out;  // samples
  ExpectShares(r.out, "embed_self");
  EXPECT_EQ(Number(r.out, "embed_self: samples of dprof's threads"), 0) << r.out;
}

TEST(SamplesTest, EmbedSelfWithPerfEvent) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("embed_self_perf");
  CliResult r = RunSample(EMBED_SELF, {"1.5", dir + "/self.html"});
  ExpectEmbedSelf(r, "perf_event");
  EXPECT_EQ(r.err, "");  // nothing to say: no fallback
}

TEST(SamplesTest, EmbedSelfFallsBackWhenToldTo) {
  const std::string dir = ScratchDir("embed_self_env");
  CliResult r =
      RunSample(EMBED_SELF, {"1.5", dir + "/self.svg"}, {.env = {"DPROF_NO_PERF_EVENT=1"}});
  ExpectEmbedSelf(r, "timer signal");
  // Said once, on stderr.
  EXPECT_THAT(r.err, HasSubstr("DPROF_NO_PERF_EVENT is set"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(SamplesTest, EmbedSelfFallsBackWhenPerfEventIsForbidden) {
  for (int err : {EACCES, ENOSYS}) {
    const std::string dir = ScratchDir("embed_self_seccomp");
    CliResult r = RunSample(EMBED_SELF, {"1.5", dir + "/self.html"}, {.perf_errno = err});
    ExpectEmbedSelf(r, "timer signal");
    EXPECT_THAT(r.err, HasSubstr("perf_event is not available"));
    EXPECT_THAT(r.err, HasSubstr(err == EACCES ? "permission denied" : "perf_event_open"));
  }
}

TEST(SamplesTest, EmbedCThroughTheCApi) {
  for (const std::string env : {"DPROF_NO_PERF_EVENT=0", "DPROF_NO_PERF_EVENT=1"}) {
    if (env.ends_with("0")) DPROF_REQUIRE_PERF_OR_SKIP();
    const std::string dir = ScratchDir("embed_c");
    CliResult r = RunSample(EMBED_C, {"1.5", dir + "/c.html"}, {.env = {env}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr(env.ends_with("1") ? "embed_c: sampler timer signal"
                                                    : "embed_c: sampler perf_event"));
    EXPECT_GT(Number(r.out, "embed_c:"), 100) << r.out;
    ExpectShares(r.out, "embed_c");
    EXPECT_THAT(r.out, HasSubstr("wrote " + dir + "/c.html and " + dir + "/c.html.folded"));
  }
}

TEST(SamplesTest, EmbedCReportsErrors) {
  // A recording file in a directory that does not exist: one line, the path named.
  const std::string dir = ScratchDir("embed_c_error");
  CliResult r = RunSample(EMBED_C, {"0.1", dir + "/missing/c.html"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("embed_c: cannot write " + dir + "/missing/c.html"));
}

void ExpectCustomConsumer(const CliResult& r, const std::string& sampler) {
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("custom_consumer: sampler " + sampler));
  // Every stack printed once per cookie, each a chain of the workload's functions.
  std::set<std::string> cookies;
  int lines = 0, hot = 0;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("cookie ")) continue;
    ++lines;
    EXPECT_TRUE(cookies.insert(line.substr(7, 16)).second) << "printed twice: " << line;
    // The main thread is sampled too while it starts and stops the profiler.
    if (line.find(" <- dprof::Profiler::") == std::string::npos) {
      EXPECT_THAT(line, HasSubstr(" <- workload_run <- main"));
    }
    hot += line.find("hot_a <- one_round") != std::string::npos ||
           line.find("hot_b <- one_round") != std::string::npos;
  }
  EXPECT_GT(lines, 10) << r.out;         // 99 Hz of the CPU time one loaded second gives
  EXPECT_GT(hot, lines * 0.8) << r.out;  // the rest: the workload reading the clock
  EXPECT_EQ(Number(r.out, "custom_consumer:"), lines);  // "N stacks printed"
  EXPECT_THAT(r.out, HasSubstr(", 0 cookies repeated"));
  // The recorder got the same cookies from the same unwinds: two deliveries per unwind.
  EXPECT_THAT(r.out, HasSubstr("the recording holds " + std::to_string(lines) + " cookies, " +
                               std::to_string(lines) + " of them printed"));
  EXPECT_THAT(r.out, HasSubstr("2.00 deliveries per unwind"));
}

TEST(SamplesTest, CustomConsumerSharesTheUnwinds) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  ExpectCustomConsumer(RunSample(CUSTOM_CONSUMER, {"1"}), "perf_event");
}

TEST(SamplesTest, CustomConsumerWithTimerSignals) {
  ExpectCustomConsumer(RunSample(CUSTOM_CONSUMER, {"1"}, {.env = {"DPROF_NO_PERF_EVENT=1"}}),
                       "timer signal");
}

}  // namespace
}  // namespace dprof
