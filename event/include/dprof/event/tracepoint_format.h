// dprof::event::Tracepoint — the layout of a kernel tracepoint's raw fields.
//
// A tracepoint's event carries its fields as raw bytes (PERF_SAMPLE_RAW); their names, offsets,
// sizes and signedness come from the tracepoint's format file (tracefs's
// events/<system>/<name>/format, or the copy a perf.data file or a dprof recording keeps). Part
// of the event contract: the tracer reads formats, recordings keep them, views print the fields.
//
// Example:
//   absl::StatusOr<Tracepoint> tp = ParseTracepointFormat("sched", "sched_switch", text);
//   int64_t next_pid;
//   if (tp->ReadInt(event.raw, "next_pid", &next_pid)) ...
//
// Context: plain values; const methods from any thread. Field(), ReadInt() and ReadString()
// neither allocate nor lock (async-signal-safe).
#ifndef DPROF_EVENT_TRACEPOINT_FORMAT_H_
#define DPROF_EVENT_TRACEPOINT_FORMAT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dprof::event {

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

}  // namespace dprof::event

#endif  // DPROF_EVENT_TRACEPOINT_FORMAT_H_
