// The one line `dprof record` keeps refreshed on stderr while it records, when stderr is a
// terminal: elapsed time, events, events per second, lost records, pending unwinds, file size.
#ifndef DPROF_CLI_STATUS_LINE_H_
#define DPROF_CLI_STATUS_LINE_H_

#include <cstdint>
#include <functional>

#include "dprof/profile/symbolizer.h"
#include "dprof/tracer/tracer.h"

namespace dprof::cli {

class StatusLine {
 public:
  // Draws only when `enabled` (stderr is a terminal), at most every `interval_ns`.
  StatusLine(bool enabled, uint64_t start_ns, uint64_t interval_ns = 250'000'000)
      : enabled_(enabled), start_ns_(start_ns), interval_ns_(interval_ns), last_ns_(start_ns) {}

  // Whether Update() would draw at `now_ns`.
  bool Due(uint64_t now_ns) const { return enabled_ && now_ns >= last_ns_ + interval_ns_; }
  // Redraws the line when it is due. Context: the tracer's reader thread.
  void Update(uint64_t now_ns, const event::TracerStats& stats, uint64_t file_bytes);
  // Erases the line, so what follows starts on a clean one.
  void Clear();

 private:
  bool enabled_;
  uint64_t start_ns_;
  uint64_t interval_ns_;
  uint64_t last_ns_;
  uint64_t last_events_ = 0;
  bool drawn_ = false;
};

// "dprof: naming 3570 stacks in 14 binaries… 40%" while a recording's addresses are named at its
// end, drawn once that has taken half a second, and erased when it ends.
class NamingLine {
 public:
  // Draws only when `enabled` (stderr is a terminal).
  explicit NamingLine(bool enabled) : enabled_(enabled) {}
  // Context: the thread finishing the recording (ProfilerOptions::naming_progress).
  void Update(uint64_t now_ns, const profile::Symbolizer::Progress& progress);

 private:
  static constexpr uint64_t kDelayNs = 500'000'000;
  static constexpr uint64_t kIntervalNs = 250'000'000;
  bool enabled_;
  uint64_t start_ns_ = 0;
  uint64_t last_ns_ = 0;
  bool drawn_ = false;
};

// A naming progress callback (Symbolizer::Options::progress, ProfilerOptions::naming_progress)
// that draws `line`, which must outlive it.
std::function<void(const profile::Symbolizer::Progress&)> Draws(NamingLine* line);

// "512 B", "12.3 KiB", "4.5 MiB", "1.2 GiB".
std::string FormatBytes(uint64_t bytes);

}  // namespace dprof::cli

#endif  // DPROF_CLI_STATUS_LINE_H_
