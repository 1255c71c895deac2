// dprof::tracer::EventQueue — merges the records of many ring buffers into one time order.
//
// Each ring buffer is in time order on its own, but a task's events can sit in several (it
// migrates between CPUs' buffers; its sched_switch and its timer samples come from different
// events). The tracer drains every buffer in rounds, pushes each record here stamped with its
// time, and pops what is older than a horizon: the moment the previous round began, before which
// every buffer has already been read dry (perf's "finished round" rule). At the end it pops all.
//
// Records are copied in, into 8-byte-aligned buffers that are reused, so steady state does not
// allocate. The visitor may take a record's buffer (swap it with another): a sample's stack copy
// then moves on to the unwind engine without a second copy. A record that outlives the queue (in
// a mapped file) is kept where it lies instead. Ties keep arrival order.
//
// Context: one thread.
#ifndef DPROF_TRACER_EVENT_QUEUE_H_
#define DPROF_TRACER_EVENT_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"

namespace dprof::tracer {

class EventQueue {
 public:
  using Buffer = std::vector<uint64_t>;
  // `record` lies in `buffer`, which the visitor may swap with another of any size: the queue
  // reuses whichever it is left with. `buffer` is null for a record pushed by PushLasting.
  using Visitor =
      absl::FunctionRef<void(uint64_t time, std::span<const uint8_t> record, Buffer* buffer)>;

  // Copies `record` in, to be delivered in order of `time`.
  void Push(uint64_t time, std::span<const uint8_t> record);
  // Keeps `record` where it lies, to be delivered in order of `time`: it must stay valid and
  // unchanged until delivered (and as long as the visitor holds on to it).
  void PushLasting(uint64_t time, std::span<const uint8_t> record);

  // Delivers, oldest first, every record stamped at or before `horizon`. Returns how many.
  size_t PopUntil(uint64_t horizon, Visitor fn);
  size_t PopAll(Visitor fn) { return PopUntil(std::numeric_limits<uint64_t>::max(), fn); }

  size_t size() const { return heap_.size(); }
  // Bytes of records waiting.
  size_t bytes() const { return bytes_; }
  // The oldest waiting time; max when empty.
  uint64_t oldest() const;

 private:
  struct Entry {
    uint64_t time;
    uint64_t seq;
    Buffer* buffer;         // null: a lasting record
    const uint8_t* record;  // in *buffer, or where a lasting one lies
    size_t size;
  };
  static bool Later(const Entry& a, const Entry& b) {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }

  std::vector<Entry> heap_;  // a min-heap by (time, seq)
  std::vector<std::unique_ptr<Buffer>> buffers_;
  std::vector<Buffer*> free_;
  uint64_t seq_ = 0;
  size_t bytes_ = 0;
};

}  // namespace dprof::tracer

#endif  // DPROF_TRACER_EVENT_QUEUE_H_
