// The one line `dprof record` keeps refreshed on stderr while it records, when stderr is a
// terminal: elapsed time, events, events per second, lost records, pending unwinds, file size.
#ifndef DPROF_CLI_STATUS_LINE_H_
#define DPROF_CLI_STATUS_LINE_H_

#include <cstdint>

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

// "512 B", "12.3 KiB", "4.5 MiB", "1.2 GiB".
std::string FormatBytes(uint64_t bytes);

}  // namespace dprof::cli

#endif  // DPROF_CLI_STATUS_LINE_H_
