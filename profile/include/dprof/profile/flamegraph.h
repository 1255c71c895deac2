// dprof::profile::WriteFlameGraph{Html,Svg} — flame graphs of a profile.
//
// HTML: one self-contained interactive page (no network fetches) drawn on a canvas, readable with
// hundreds of thousands of distinct stacks: click a frame to zoom, Reset, search with the share
// of the weight that matches, tooltips with weights and percentages, an icicle toggle.
// SVG: the same graph as a static picture for documents, with a tooltip (<title>) per frame;
// frames narrower than 0.1% of the width are left out, and the picture is as tall as the deepest
// frame drawn.
//
// Frames merge by function name along each path; children are ordered by name. With a `base`
// profile the graph is differential: widths are this profile's, colors say how each frame's
// share of the total changed since the base (red grew, blue shrank).
//
// Example:
//   std::ofstream out("flamegraph.html");
//   WriteFlameGraphHtml(View::Build(recording, {.thread_root = true}), {.title = "app"}, out);
//
// Context: any thread; reads the profiles and keeps no state between calls (concurrent calls need
// their own `out`). Not async-signal-safe (allocates).
#ifndef DPROF_PROFILE_FLAMEGRAPH_H_
#define DPROF_PROFILE_FLAMEGRAPH_H_

#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "dprof/profile/view.h"

namespace dprof::profile {

struct FlameGraphOptions {
  std::string title = "Flame Graph";
  std::string subtitle = {};  // under the title: FlameGraphSubtitle()
  bool reverse = false;        // merge stacks from their leaves: each hot function with its callers
  bool icicle = false;         // hang the stacks from the top (the page can toggle it)
  const View* base = nullptr;  // differential against this profile
};

void WriteFlameGraphHtml(const View& profile, const FlameGraphOptions& options, std::ostream& out);
void WriteFlameGraphSvg(const View& profile, const FlameGraphOptions& options, std::ostream& out);
// The SVG picture when `path` (where it is going) ends in .svg, else the HTML page.
void WriteFlameGraphFor(std::string_view path, const View& profile,
                        const FlameGraphOptions& options, std::ostream& out);
// A recording's flame graph title: its command.
std::string FlameGraphTitle(const Recording& recording);
// What a flame graph of `profile` shows: "cpu-clock: 2,001 samples in 1.00 s" — the events
// shown, how many samples (tracepoint hits, off-CPU intervals) it holds, and the time from the
// recording's first event to its last.
std::string FlameGraphSubtitle(const Recording& recording, const View& profile,
                               std::span<const std::string> events);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_FLAMEGRAPH_H_
