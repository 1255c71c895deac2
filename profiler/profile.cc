#include <sstream>
#include <string>
#include <vector>

#include "dprof/profile/folded.h"
#include "dprof/profile/output_file.h"
#include "dprof/profile/pprof.h"
#include "dprof/profile/recording_writer.h"
#include "dprof/profile/speedscope.h"
#include "dprof/profiler.h"

namespace dprof {

Profile::Profile(profile::Recording recording)
    : recording_(std::move(recording)),
      view_(profile::View::Build(recording_, DefaultView(/*thread_root=*/false))) {}

profile::ViewOptions Profile::DefaultView(bool thread_root) const {
  return {.events = profile::DefaultEvents(recording_), .thread_root = thread_root};
}

profile::View Profile::MakeView(const profile::ViewOptions& options) const {
  return profile::View::Build(recording_, options);
}

absl::Status Profile::WriteFlameGraph(const std::string& path,
                                      const profile::FlameGraphOptions& options) const {
  profile::FlameGraphOptions o = options;
  if (o.title == profile::FlameGraphOptions{}.title) o.title = profile::FlameGraphTitle(recording_);
  const profile::ViewOptions shown = DefaultView(/*thread_root=*/true);
  const profile::View view = MakeView(shown);
  if (o.subtitle.empty()) {
    std::vector<std::string> events;
    for (uint32_t e : shown.events) {
      if (e < recording_.event_names.size()) events.push_back(recording_.event_names[e]);
    }
    o.subtitle = profile::FlameGraphSubtitle(recording_, view, events);
  }
  std::ostringstream out;
  profile::WriteFlameGraphFor(path, view, o, out);
  return profile::ReplaceFile(path, out.str());
}

absl::Status Profile::WriteFolded(const std::string& path) const {
  std::ostringstream out;
  profile::WriteFolded(MakeView(DefaultView(/*thread_root=*/true)), {.kernel_suffix = true}, out);
  return profile::ReplaceFile(path, out.str());
}

absl::Status Profile::WritePprof(const std::string& path) const {
  std::ostringstream out;
  if (absl::Status s = profile::WritePprof(recording_, view_, out); !s.ok()) return s;
  return profile::ReplaceFile(path, out.str());
}

absl::Status Profile::WriteSpeedscope(const std::string& path) const {
  std::ostringstream out;
  profile::ViewOptions options = DefaultView(/*thread_root=*/false);
  options.keep_events = true;
  profile::WriteSpeedscope(recording_, MakeView(options), profile::FlameGraphTitle(recording_),
                           out);
  return profile::ReplaceFile(path, out.str());
}

absl::Status Profile::WriteRecording(const std::string& path) const {
  return profile::WriteRecording(path, recording_);
}

void Profile::WriteReport(std::ostream& out, const profile::ReportOptions& options) const {
  profile::WriteReport(recording_, view_, options, out);
}

}  // namespace dprof
