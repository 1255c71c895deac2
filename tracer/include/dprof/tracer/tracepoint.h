// dprof::tracer::Tracepoint — a kernel tracepoint, its id and its raw fields, from tracefs.
//
// A tracepoint sample carries the tracepoint's fields as raw bytes (PERF_SAMPLE_RAW); their
// names, offsets, sizes and signedness come from tracefs's events/<system>/<name>/format file.
//
// Example:
//   absl::StatusOr<Tracefs> tracefs = Tracefs::Find();
//   absl::StatusOr<Tracepoint> tp = tracefs->Load("sched:sched_switch");
//   int64_t next_pid;
//   if (tp->ReadInt(sample.raw, "next_pid", &next_pid)) ...
//
// Context: Tracepoint and Tracefs are plain values; const methods from any thread. Field(),
// ReadInt() and ReadString() neither allocate nor lock (async-signal-safe); everything else
// allocates (Find(), Load() and List() also read tracefs) and is not async-signal-safe.
#ifndef DPROF_TRACER_TRACEPOINT_H_
#define DPROF_TRACER_TRACEPOINT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dprof::tracer {

struct TracepointField {
  std::string name;
  std::string declaration;  // as tracefs prints it, e.g. "char prev_comm[16]"
  uint32_t offset = 0;
  uint32_t size = 0;
  bool is_signed = false;
  bool data_loc = false;  // __data_loc: a u32 of (length << 16 | offset) to the real bytes
};

struct Tracepoint {
  std::string system;
  std::string name;
  uint64_t id = 0;  // perf_event_attr.config for PERF_TYPE_TRACEPOINT
  std::vector<TracepointField> fields;

  std::string FullName() const { return system + ":" + name; }
  const TracepointField* Field(std::string_view field) const;
  // An integer field (1, 2, 4 or 8 bytes), sign-extended when signed. False when the field is
  // missing, not an integer, or beyond `raw`.
  bool ReadInt(std::span<const uint8_t> raw, std::string_view field, int64_t* value) const;
  // A char array or __data_loc string, up to its NUL. Empty when missing or beyond `raw`.
  std::string_view ReadString(std::span<const uint8_t> raw, std::string_view field) const;
};

// Parses the text of a format file.
absl::StatusOr<Tracepoint> ParseTracepointFormat(std::string_view system, std::string_view name,
                                                 std::string_view text);

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
