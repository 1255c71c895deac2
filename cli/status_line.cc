#include "cli/status_line.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"

namespace dprof::cli {

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrFormat("%u B", bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = bytes / 1024.0;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, units[unit]);
}

void StatusLine::Update(uint64_t now_ns, const event::TracerStats& stats, uint64_t file_bytes) {
  if (!Due(now_ns)) return;
  const uint64_t events = stats.events();
  const double rate = (events - last_events_) * 1e9 / static_cast<double>(now_ns - last_ns_);
  last_ns_ = now_ns;
  last_events_ = events;
  const uint64_t done = stats.engine.done();
  const uint64_t jobs = stats.engine[unwind::EngineStat::kJobs];
  const std::string line = absl::StrFormat(
      "dprof record: %.1f s, %u events, %.0f events/s, %u lost, %u unwinds pending, %s",
      (now_ns - start_ns_) / 1e9, events, rate, stats.lost(), jobs > done ? jobs - done : 0,
      FormatBytes(file_bytes));
  // \r and "erase to the end of the line": the next update draws over this one.
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void NamingLine::Update(uint64_t now_ns, const profile::Symbolizer::Progress& progress) {
  if (!enabled_) return;
  if (progress.named == 0) start_ns_ = now_ns;
  if (progress.named >= progress.addresses) {
    if (drawn_) {
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
      drawn_ = false;
    }
    return;
  }
  if (now_ns < start_ns_ + kDelayNs || (drawn_ && now_ns < last_ns_ + kIntervalNs)) return;
  last_ns_ = now_ns;
  std::fprintf(stderr, "\rdprof: naming %zu stacks in %zu binaries… %zu%%\033[K", progress.stacks,
               progress.binaries, 100 * progress.named / progress.addresses);
  std::fflush(stderr);
  drawn_ = true;
}

std::function<void(const profile::Symbolizer::Progress&)> Draws(NamingLine* line) {
  return [line](const profile::Symbolizer::Progress& progress) {
    line->Update(event::MonotonicNs(), progress);
  };
}

void StatusLine::Clear() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace dprof::cli
