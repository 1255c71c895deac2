// Recordings written by earlier versions of dprof read forever: each file under golden/ (made by
// the version its name says, never rewritten) must still read complete and give exactly the
// folded stacks it gave then (golden/<name>.folded: `dprof export --format folded` of that
// version).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "dprof/profile/folded.h"
#include "dprof/profile/profile.h"
#include "dprof/profile/recording_reader.h"
#include "gtest/gtest.h"

namespace dprof::profile {
namespace {

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, ReadsAsItDidThen) {
  const std::filesystem::path dir = DPROF_GOLDEN_DIR;
  ReadReport report;
  absl::StatusOr<Recording> r = ReadRecording((dir / (GetParam() + ".dprof")).string(), &report);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(report.complete) << report.Summary();
  EXPECT_FALSE(r->symbols.empty());
  std::ostringstream folded;
  WriteFolded(Profile::Build(*r, {.events = DefaultEvents(*r), .thread_root = true}),
              {.kernel_suffix = true}, folded);
  EXPECT_EQ(folded.str(), ReadText(dir / (GetParam() + ".folded")));
}

// v1: format version 1 as dprof 0.1.0 wrote it before user symbols were keyed by mapping (every
// symbol under its pid): cpu_bound_nofp with two threads, and forker's pre-fork workers.
INSTANTIATE_TEST_SUITE_P(Files, GoldenTest, ::testing::Values("v1-cpu_bound", "v1-forker"));

}  // namespace
}  // namespace dprof::profile
