// dprof::tracer::Tracefs — the kernel's tracepoints as tracefs lists them, and their formats.
//
// A tracepoint sample carries the tracepoint's fields as raw bytes (PERF_SAMPLE_RAW); their
// names, offsets, sizes and signedness come from tracefs's events/<system>/<name>/format file,
// parsed into an event::Tracepoint (dprof/event/tracepoint_format.h).
//
// Example:
//   absl::StatusOr<Tracefs> tracefs = Tracefs::Find();
//   absl::StatusOr<Tracepoint> tp = tracefs->Load("sched:sched_switch");
//   int64_t next_pid;
//   if (tp->ReadInt(sample.raw, "next_pid", &next_pid)) ...
//
// Context: Tracefs is a plain value; Find(), Load() and List() read tracefs and allocate.
#ifndef DPROF_TRACER_TRACEPOINT_H_
#define DPROF_TRACER_TRACEPOINT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dprof/event/tracepoint_format.h"

namespace dprof::tracer {

// The layout of a tracepoint's fields (event/tracepoint_format.h), under the tracer's name.
using event::ParseTracepointFormat;
using event::Tracepoint;
using event::TracepointField;

class Tracefs {
 public:
  // The mounted tracefs: /sys/kernel/tracing, else /sys/kernel/debug/tracing. FailedPrecondition
  // naming the mount command when neither is mounted.
  static absl::StatusOr<Tracefs> Find();
  explicit Tracefs(std::string root) : root_(std::move(root)) {}

  // "system:name". NotFound listing close matches when there is no such tracepoint;
  // PermissionDenied when tracefs may not be read.
  absl::StatusOr<Tracepoint> Load(std::string_view full_name) const;
  // Every "system:name" tracefs lists, sorted.
  std::vector<std::string> List() const;

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

// Up to `limit` entries of `candidates` closest to `name` (edit distance, and shared parts of
// "system:name"), best first; only plausible ones.
std::vector<std::string> CloseMatches(std::string_view name,
                                      const std::vector<std::string>& candidates, size_t limit = 5);

}  // namespace dprof::tracer

#endif  // DPROF_TRACER_TRACEPOINT_H_
