// Which event a perf record belongs to: the perf ids of each event (one per CPU and thread it was
// opened on, or as a perf.data file lists them) and the record parser that knows each one's
// layout. Events opened without PERF_SAMPLE_IDENTIFIER (a perf.data file whose events all share
// one layout) have that one default layout, and are told apart by PERF_SAMPLE_ID when they carry
// it.
//
// Example:
//   EventIds ids;
//   ids.Add(/*id=*/5001, /*event=*/0, {.sample_type = attr.sample_type});
//   Record r;
//   ids.parser().Parse(bytes, &r);
//   std::optional<uint32_t> event = ids.EventOf(sample.sid.id);
//
// Context: a plain value.
#ifndef DPROF_TRACER_INTERNAL_EVENT_IDS_H_
#define DPROF_TRACER_INTERNAL_EVENT_IDS_H_

#include <cstdint>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "dprof/tracer/records.h"

namespace dprof::tracer::internal {

class EventIds {
 public:
  // False (nothing added) when the parser cannot lay out `layout` (RecordParser::AddEvent).
  bool Add(uint64_t id, uint32_t event, const EventLayout& layout) {
    if (!parser_.AddEvent(id, layout)) return false;
    event_of_id_[id] = event;
    return true;
  }
  // Records whose id names no event added follow `layout` and are `event`'s
  // (RecordParser::SetDefaultEvent): those of a source without PERF_SAMPLE_IDENTIFIER (ids named
  // with Name() say their event), and those perf synthesized into a file (id 0). False (nothing
  // set) when the parser cannot lay it out.
  bool SetDefault(const EventLayout& layout, uint32_t event) {
    if (!parser_.SetDefaultEvent(layout)) return false;
    default_event_ = event;
    return true;
  }
  void Name(uint64_t id, uint32_t event) { event_of_id_[id] = event; }

  // The event of perf id `id`.
  std::optional<uint32_t> EventOf(uint64_t id) const {
    auto it = event_of_id_.find(id);
    if (it == event_of_id_.end()) return default_event_;
    return it->second;
  }
  const RecordParser& parser() const { return parser_; }

 private:
  RecordParser parser_;
  absl::flat_hash_map<uint64_t, uint32_t> event_of_id_;
  std::optional<uint32_t> default_event_;  // SetDefault()
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_EVENT_IDS_H_
