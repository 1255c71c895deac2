// Flame graphs: the SVG's frames and tooltips, the folded diff, and the HTML page driven in
// headless Chromium (Debian's `chromium`): it renders, a click zooms, search reports the matching
// share, a tooltip shows weights; a page of 100k distinct stacks renders too; a screenshot is left
// in the build tree (tests/artifacts/flamegraph.png).
#include "dprof/profile/flamegraph.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_format.h"
#include "dprof/profile/folded.h"
#include "dprof/profile/view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/profile/recording_testing.h"

namespace dprof::profile {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FlameGraphSvgTest, FramesWithTooltips) {
  const Recording r = testing::SymbolizedRecording();
  std::ostringstream svg;
  WriteFlameGraphSvg(View::Build(r), {.title = "a <test>"}, svg);
  const std::string text = svg.str();
  EXPECT_THAT(text, HasSubstr("<svg "));
  EXPECT_THAT(text, HasSubstr(">a &lt;test&gt;</text>"));
  EXPECT_THAT(text, HasSubstr("<title>hot_a (3.000 ms, 60.00%)</title>"));
  EXPECT_THAT(text, HasSubstr("<title>all (5.000 ms, 100.00%)</title>"));
  EXPECT_THAT(text, HasSubstr("<title>do_syscall_64 (1.000 ms, 20.00%)</title>"));
  EXPECT_THAT(text, HasSubstr("</svg>"));
}

// A deep stack too narrow to draw (1 sample in 2,001) does not make the picture taller: the
// topmost frame drawn sits right under the title, with no band of empty rows above it. The
// subtitle says what the graph shows.
TEST(FlameGraphSvgTest, AsTallAsWhatIsDrawn) {
  Recording r;
  r.event_names = {"cpu-clock"};
  r.metadata["command"] = "deep";
  r.stacks[1] = {0xffffffff81000030, 0xffffffff81000020, 0xffffffff81000010};
  for (uint64_t i = 0; i < 60; ++i) r.stacks[2].push_back(0xffffffff81001000 + i * 16);
  for (uint64_t i = 0; i <= 2000; ++i) {
    r.events.push_back(Event{.pid = 1,
                             .tid = 1,
                             .time_ns = 1'000'000'000 + i * 1'000'000,
                             .weight = 1'000'000,
                             .kernel_stack = i == 1000 ? 2u : 1u});
  }
  const View view = View::Build(r);
  std::ostringstream svg;
  const std::string subtitle = FlameGraphSubtitle(r, view, r.event_names);
  EXPECT_EQ(subtitle, "cpu-clock: 2,001 samples in 2.00 s");
  WriteFlameGraphSvg(view, {.title = FlameGraphTitle(r), .subtitle = subtitle}, svg);
  const std::string text = svg.str();
  EXPECT_THAT(text, HasSubstr(">deep</text>"));
  EXPECT_THAT(text, HasSubstr(">cpu-clock: 2,001 samples in 2.00 s</text>"));
  // The frames' rows: "all" and the three frames of the wide stack.
  double top = 1e9, bottom = 0;
  size_t rects = 0;
  for (size_t at = text.find("<rect x="); at != std::string::npos;
       at = text.find("<rect x=", at + 1)) {
    const size_t y = text.find(" y=\"", at);
    const double v = std::atof(text.c_str() + y + 4);
    top = std::min(top, v);
    bottom = std::max(bottom, v);
    ++rects;
  }
  EXPECT_EQ(rects, 4u);
  EXPECT_EQ(top, 52) << "the first row under the title and subtitle";
  EXPECT_EQ(bottom - top, 3 * 16);
  EXPECT_THAT(text, HasSubstr(absl::StrFormat("height=\"%.0f\"", bottom + 16 + 10)));
}

TEST(FoldedDiffTest, BothWeightsOfEveryStack) {
  const Recording r = testing::SymbolizedRecording();
  std::ostringstream out;
  WriteFoldedDiff(View::Build(r, {.tids = {11}, .kernel = false}),
                  View::Build(r, {.tids = {10}, .kernel = false}), {}, out);
  EXPECT_EQ(out.str(),
            "main;work;hot_a 0 3\n"
            "[user stack never arrived: task exited or recording cut short] 0 1\n"
            "main;work;inlined_helper;hot_b 1 0\n");
}

class BrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("dprof-flamegraph-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(std::filesystem::exists(DPROF_CHROMIUM))
        << "headless Chromium is needed (" << DPROF_CHROMIUM << "): run scripts/deps.sh";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs Chromium headless on `page` with `flags`; its stdout.
  std::string Chromium(const std::filesystem::path& page, const std::string& flags) {
    const std::string command = std::string(DPROF_CHROMIUM) +
                                " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage" +
                                " --user-data-dir=" + (dir_ / "chromium").string() + " " + flags +
                                " file://" + page.string() + " 2>/dev/null";
    std::string out;
    if (FILE* pipe = popen(command.c_str(), "r")) {
      char buffer[1 << 14];
      size_t n;
      while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
      EXPECT_EQ(pclose(pipe), 0) << command;
    }
    return out;
  }

  // Writes `html` with a driver script before </body> that records what the page did in
  // <pre id="result">.
  std::filesystem::path PageWithDriver(std::string html, const std::string& driver) {
    const size_t body = html.rfind("</body>");
    html.insert(body,
                "<script>window.addEventListener('load', () => {" + driver + "});</script>\n");
    const std::filesystem::path page = dir_ / "page.html";
    std::ofstream(page) << html;
    return page;
  }

  static std::string Result(const std::string& dom) {
    const size_t begin = dom.find("<pre id=\"result\">");
    const size_t end = dom.find("</pre>", begin);
    if (begin == std::string::npos || end == std::string::npos) return "(no result in the page)";
    return dom.substr(begin + 17, end - begin - 17);
  }

  std::filesystem::path dir_;
};

constexpr char kDriver[] = R"(
  const g = window.dprofFlameGraph, r = {drawn: g.drawn()};
  const canvas = document.getElementById('chart');
  const at = g.locate('work');
  r.located = at !== null;
  canvas.dispatchEvent(new MouseEvent('click', {clientX: at.clientX, clientY: at.clientY, bubbles: true}));
  r.focused = g.focused();
  canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: at.clientX, clientY: at.clientY, bubbles: true}));
  r.tooltip = document.getElementById('tooltip').textContent;
  const search = document.getElementById('search');
  search.value = 'hot_';
  search.dispatchEvent(new Event('input'));
  r.matched = document.getElementById('matched').textContent;
  document.getElementById('reset').click();
  r.reset = g.focused();
  const pre = document.createElement('pre');
  pre.id = 'result';
  pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
)";

TEST_F(BrowserTest, ZoomSearchAndTooltipWork) {
  const Recording r = testing::SymbolizedRecording();
  std::ostringstream html;
  WriteFlameGraphHtml(View::Build(r), {.title = "views test"}, html);
  EXPECT_THAT(html.str(), Not(HasSubstr("http://")));  // nothing fetched from anywhere
  EXPECT_THAT(html.str(), Not(HasSubstr("src=")));
  const std::filesystem::path page = PageWithDriver(html.str(), kDriver);
  const std::string result =
      Result(Chromium(page, "--window-size=1200,600 --virtual-time-budget=5000 --dump-dom"));
  EXPECT_THAT(result, HasSubstr("\"located\":true")) << result;
  EXPECT_THAT(result, HasSubstr("\"focused\":\"work\"")) << result;
  EXPECT_THAT(result, HasSubstr("\"tooltip\":\"work\\n4.0 ms (80.00% of all, 100.00% of zoom)\""))
      << result;
  EXPECT_THAT(result, HasSubstr("\"matched\":\"Matched: 80.00%\"")) << result;  // hot_a + hot_b
  EXPECT_THAT(result, HasSubstr("\"reset\":\"all\"")) << result;

  // A picture of the page, kept for people to look at.
  const std::filesystem::path shot = std::filesystem::path(DPROF_ARTIFACTS_DIR) / "flamegraph.png";
  std::filesystem::create_directories(shot.parent_path());
  std::filesystem::remove(shot);
  const std::filesystem::path plain = dir_ / "plain.html";
  std::ofstream(plain) << html.str();
  Chromium(plain, "--window-size=1200,400 --screenshot=" + shot.string());
  ASSERT_TRUE(std::filesystem::exists(shot));
  EXPECT_GT(std::filesystem::file_size(shot), 5000u);
  std::ifstream png(shot, std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
}

// 100k distinct stacks: the page loads and draws (narrow subtrees are skipped, not drawn).
TEST_F(BrowserTest, HundredThousandDistinctStacksRender) {
  Recording r;
  r.event_names = {"cpu-clock"};
  for (uint32_t i = 0; i < 100'000; ++i) {
    const StackId id = i + 1;
    r.stacks[id] = {0x100000 + i, 0x200000 + i % 5000, 0x300000 + i % 50, 0x400000 + i % 5,
                    0x500000};
    r.events.push_back(Event{.pid = 1,
                             .tid = 1,
                             .weight = 1000 + i % 7,
                             .user = event::UserStack::kInline,
                             .user_stack = id});
  }
  const View p = View::Build(r);
  ASSERT_EQ(p.stacks().size(), 100'000u);
  std::ostringstream html;
  WriteFlameGraphHtml(p, {}, html);
  const std::filesystem::path page = PageWithDriver(html.str(), R"(
    const pre = document.createElement('pre');
    pre.id = 'result';
    pre.textContent = JSON.stringify({drawn: window.dprofFlameGraph.drawn()});
    document.body.appendChild(pre);
  )");
  const std::string result =
      Result(Chromium(page, "--window-size=1200,600 --virtual-time-budget=20000 --dump-dom"));
  ASSERT_THAT(result, HasSubstr("\"drawn\":")) << result;
  const int drawn = std::stoi(result.substr(result.find(':') + 1));
  EXPECT_GT(drawn, 10);       // the visible frames
  EXPECT_LT(drawn, 100'000);  // not every sliver
}

}  // namespace
}  // namespace dprof::profile
