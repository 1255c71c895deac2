// Symbols from debuginfod: a stripped copy of a sample program, and a real debuginfod server
// (Debian's) on 127.0.0.1 indexing its debug file. Without DEBUGINFOD_URLS the program's frames
// stay [unknown] (module+offset) and the report says once that debuginfod would name them; with
// it, dprof names them through libdw's debuginfod client, and the recording keeps the names after
// the server is gone.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

int Shell(const std::string& command) { return std::system(command.c_str()); }

TEST(DebuginfodTest, StrippedProgramNamedThroughALocalServer) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  ASSERT_EQ(access(DPROF_DEBUGINFOD, X_OK), 0)
      << "debuginfod is needed (" << DPROF_DEBUGINFOD << "): run scripts/deps.sh";
  const std::string dir = ScratchDir("debuginfod");
  std::filesystem::create_directories(dir + "/srv");
  const std::string program = SampleProgram("cpu_bound", "nofp");
  ASSERT_EQ(Shell("objcopy --only-keep-debug " + program + " " + dir + "/srv/prog.debug"), 0);
  ASSERT_EQ(Shell("strip -g -s " + program + " -o " + dir + "/prog"), 0);

  // No server: unnamed, with the hint.
  CliResult r = RunDprof({"record", "-q", "-o", "plain.dprof", "--", "./prog", "0.3", "2"},
                         {.cwd = dir, .env = {"DEBUGINFOD_URLS="}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunDprof({"report", "-i", "plain.dprof", "--no-kernel"},
               {.cwd = dir, .env = {"DEBUGINFOD_URLS="}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("[unknown] (prog+0x"));
  EXPECT_THAT(r.out, Not(HasSubstr("hot_a")));
  const std::string hint = "debuginfod can name them: set DEBUGINFOD_URLS";
  EXPECT_THAT(r.out, HasSubstr(hint));
  EXPECT_EQ(r.out.find(hint), r.out.rfind(hint)) << "one hint";

  // A server that has the debug file.
  const std::string port = std::to_string(20000 + getpid() % 20000);
  const std::string url = "DEBUGINFOD_URLS=http://127.0.0.1:" + port;
  CliProcess server({"-p", port, "-F", "srv", "-d", dir + "/db.sqlite"},
                    {.cwd = dir, .program = DPROF_DEBUGINFOD});
  const std::string build_id = [&] {
    const CliResult notes = RunDprof({"-n", dir + "/prog"}, {.program = "readelf"});
    const size_t at = notes.out.find("Build ID: ");
    return at == std::string::npos ? std::string() : notes.out.substr(at + 10, 40);
  }();
  ASSERT_EQ(build_id.size(), 40u);
  // Each probe with a cache of its own: the client remembers a miss for 10 minutes.
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    served = RunDprof({"debuginfo", build_id},
                      {.program = DPROF_DEBUGINFOD "-find",
                       .env = {url, "DEBUGINFOD_CACHE_PATH=" + dir + "/probe" +
                                        std::to_string(i)}})
                 .exit_code == 0;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(served) << "debuginfod on port " << port << " never served " << build_id;

  r = RunDprof({"record", "-q", "-o", "named.dprof", "--", "./prog", "0.3", "2"},
               {.cwd = dir, .env = {url, "DEBUGINFOD_CACHE_PATH=" + dir + "/cache"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  kill(server.pid(), SIGTERM);
  server.Finish();
  // The server is gone: the recording has kept what it named.
  r = RunDprof({"report", "-i", "named.dprof", "--no-kernel"}, {.cwd = dir, .env = {url}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("hot_a +prog\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("hot_b +prog\n"));
  EXPECT_THAT(r.out, Not(HasSubstr(hint)));
  EXPECT_TRUE(std::filesystem::exists(dir + "/cache/" + build_id + "/debuginfo"));
}

}  // namespace
}  // namespace dprof::testing
