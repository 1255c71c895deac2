// The files dprof writes and reads on a shared machine: outputs are new private files that
// nothing planted in a world-writable directory can take over (the attack runs as nobody, dprof
// as root), and a hostile recording (a path of it now a FIFO) cannot hang a view.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "dprof/profile/recording_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"
#include "tests/profile/recording_testing.h"

namespace dprof::testing {
namespace {

using ::testing::HasSubstr;

// Runs `fn` in a child process as uid/gid 65534 (nobody); whether it returned true.
bool AsNobody(const std::function<bool()>& fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    _exit(fn() ? 0 : 1);
  }
  int status = 0;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string Text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "the attack runs as nobody against root";
    dir_ = ScratchDir("shared");
    ASSERT_EQ(chmod(dir_.c_str(), 01777), 0);  // like /tmp
    ASSERT_TRUE(profile::WriteRecording(dir_ + "/in.dprof", SymbolizedRecording()).ok());
  }
  std::string dir_;
};

// Nobody plants the output and names dprof might use for it; root's flame graph is still a new
// file of root's, private, with the graph in it.
TEST_F(FilesTest, PlantedFilesDoNotTakeOverAnOutput) {
  const std::string out = dir_ + "/fg.html";
  ASSERT_TRUE(AsNobody([&] {
    for (const std::string& name : {out, out + ".partial"}) {
      std::ofstream(name) << "planted";
      if (chmod(name.c_str(), 0666) != 0) return false;
    }
    return true;
  }));
  const CliResult r = RunDprof({"flamegraph", "-i", dir_ + "/in.dprof", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st = {};
  ASSERT_EQ(stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_THAT(Text(out), HasSubstr("<html"));
  EXPECT_EQ(Text(out + ".partial"), "planted") << "not dprof's to use";
}

// A symbolic link at the output is refused, naming the output; its target is untouched.
TEST_F(FilesTest, PlantedSymlinkIsRefused) {
  const std::string out = dir_ + "/fg.html", target = dir_ + "/target";
  ASSERT_TRUE(AsNobody([&] {
    std::ofstream(target) << "precious";
    return symlink(target.c_str(), out.c_str()) == 0;
  }));
  const CliResult r =
      RunDprof({"export", "-i", dir_ + "/in.dprof", "--format", "speedscope", "-o", out});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("refusing to write " + out + ": it is a symbolic link"));
  EXPECT_EQ(Text(target), "precious");
}

// --mode sets the outputs' permissions; a bad mode is a usage error.
TEST_F(FilesTest, ModeIsChosen) {
  const std::string out = dir_ + "/shared.pb.gz";
  CliResult r = RunDprof(
      {"export", "-i", dir_ + "/in.dprof", "--format", "pprof", "-o", out, "--mode", "0644"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st = {};
  ASSERT_EQ(stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  r = RunDprof({"flamegraph", "-i", dir_ + "/in.dprof", "--mode", "rw-r--r--"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--mode takes an octal mode such as 0600 or 0644"));
}

// A recording cut before its symbols names addresses from this machine's files at the paths it
// holds: one of them a FIFO now. The view neither hangs nor fails.
TEST_F(FilesTest, HostileRecordingCannotHangAView) {
  profile::Recording r = SymbolizedRecording();
  r.symbols.clear();
  r.symbol_of.clear();
  const std::string fifo = dir_ + "/work";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (profile::Mapping& m : r.mappings) m.path = fifo;
  ASSERT_TRUE(profile::WriteRecording(dir_ + "/hostile.dprof", r).ok());
  const CliResult report = RunDprof({"report", "-i", dir_ + "/hostile.dprof"});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_THAT(report.err, HasSubstr("holds no symbols"));
  EXPECT_THAT(report.out, HasSubstr("[unknown]"));
}

// Bytes after a recording's end are said, once.
TEST_F(FilesTest, BytesAfterTheEndAreSaid) {
  std::ofstream(dir_ + "/in.dprof", std::ios::app | std::ios::binary) << std::string(100, 'x');
  const CliResult r = RunDprof({"report", "-i", dir_ + "/in.dprof"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("100 bytes after the recording's end were ignored"));
}

}  // namespace
}  // namespace dprof::testing
