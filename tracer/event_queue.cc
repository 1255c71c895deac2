#include "dprof/tracer/event_queue.h"

#include <algorithm>
#include <cstring>

namespace dprof::tracer {

void EventQueue::Push(uint64_t time, std::span<const uint8_t> record) {
  Buffer* buffer;
  if (free_.empty()) {
    buffers_.push_back(std::make_unique<Buffer>());
    buffer = buffers_.back().get();
  } else {
    buffer = free_.back();
    free_.pop_back();
  }
  buffer->resize((record.size() + 7) / 8);
  std::memcpy(buffer->data(), record.data(), record.size());
  heap_.push_back(
      {time, seq_++, buffer, reinterpret_cast<const uint8_t*>(buffer->data()), record.size()});
  std::push_heap(heap_.begin(), heap_.end(), Later);
  bytes_ += record.size();
}

void EventQueue::PushLasting(uint64_t time, std::span<const uint8_t> record) {
  heap_.push_back({time, seq_++, nullptr, record.data(), record.size()});
  std::push_heap(heap_.begin(), heap_.end(), Later);
  bytes_ += record.size();
}

size_t EventQueue::PopUntil(uint64_t horizon, Visitor fn) {
  size_t popped = 0;
  while (!heap_.empty() && heap_.front().time <= horizon) {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    const Entry e = heap_.back();
    heap_.pop_back();
    bytes_ -= e.size;
    // A taken buffer holds the record's bytes still (swapped, not moved): the span stays valid.
    fn(e.time, std::span<const uint8_t>(e.record, e.size), e.buffer);
    if (e.buffer != nullptr) free_.push_back(e.buffer);
    ++popped;
  }
  return popped;
}

uint64_t EventQueue::oldest() const {
  return heap_.empty() ? std::numeric_limits<uint64_t>::max() : heap_.front().time;
}

}  // namespace dprof::tracer
