// dprof::tracer::RingBuffer — reads records out of one perf_event ring buffer.
//
// The kernel writes records into the data pages and then publishes data_head; the reader consumes
// records up to it and publishes data_tail to give the space back. dprof reads in place and hands
// each record to the caller as one contiguous span: a record that wraps around the end of the
// buffer is copied into a scratch buffer first (the only copy on this path).
//
// Guarantees:
//  - Records are delivered whole, in the order the kernel wrote them. A record whose bytes are
//    not all published yet (head stops inside it) stays for the next Read().
//  - A header that cannot be a record (size below 8, or larger than the buffer) means the buffer
//    is corrupt: everything up to head is discarded and counted, never misparsed.
//
// Context: one reader thread per buffer. Read() does not allocate once the scratch buffer has
// grown to the largest wrapped record.
#ifndef DPROF_TRACER_RING_BUFFER_H_
#define DPROF_TRACER_RING_BUFFER_H_

#include <linux/perf_event.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"

namespace dprof::tracer {

struct RingBufferStats {
  uint64_t records = 0;
  uint64_t wrapped = 0;        // records copied because they wrapped around the end
  uint64_t corrupt_bytes = 0;  // discarded after a malformed header
  uint64_t partial_waits = 0;  // Read() calls that stopped at an unfinished record
};

class RingBuffer {
 public:
  // `base` maps the metadata page (struct perf_event_mmap_page) followed by `data_size` bytes of
  // data; `data_size` is a power of two and `page_size` the metadata page's size.
  RingBuffer(void* base, size_t page_size, size_t data_size);

  // Calls `fn` with every complete record between tail and head, then returns their space to
  // the kernel. Returns the number of records delivered. The span is valid during the call.
  size_t Read(absl::FunctionRef<void(std::span<const uint8_t> record)> fn);

  // True when the kernel has published nothing the reader has not consumed.
  bool Empty() const;

  const RingBufferStats& stats() const { return stats_; }

 private:
  void CopyOut(uint64_t position, size_t size, uint8_t* out) const;

  perf_event_mmap_page* meta_;
  const uint8_t* data_;
  size_t size_;
  size_t mask_;
  std::vector<uint8_t> scratch_;
  RingBufferStats stats_;
};

}  // namespace dprof::tracer

#endif  // DPROF_TRACER_RING_BUFFER_H_
