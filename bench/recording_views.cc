// recording_views: reads a recording and writes one of its views to stdout: the dprof side of
// bench/views_vs_perf_script.sh (until `dprof report` and `dprof flamegraph`, issue 6).
//
//   recording_views folded|html|report FILE
#include <cstdio>
#include <iostream>
#include <string>

#include "dprof/profile/flamegraph.h"
#include "dprof/profile/folded.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/report.h"
#include "dprof/profile/view.h"

int main(int argc, char** argv) {
  using namespace dprof::profile;
  const std::string view = argc == 3 ? argv[1] : "";
  if (view != "folded" && view != "html" && view != "report") {
    std::fprintf(stderr, "usage: recording_views folded|html|report FILE\n");
    return 2;
  }
  ReadReport report;
  absl::StatusOr<Recording> r = ReadRecording(argv[2], &report);
  if (!r.ok()) {
    std::fprintf(stderr, "recording_views: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  std::ios::sync_with_stdio(false);
  const View p = View::Build(*r, {.thread_root = view != "report"});
  if (view == "folded") {
    WriteFolded(p, {}, std::cout);
  } else if (view == "html") {
    WriteFlameGraphHtml(p, {.title = argv[2]}, std::cout);
  } else {
    WriteReport(*r, p, {}, std::cout);
  }
  std::cout.flush();
  return std::cout ? 0 : 1;
}
