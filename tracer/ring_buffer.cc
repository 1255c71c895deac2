#include "dprof/tracer/ring_buffer.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace dprof::tracer {
namespace {

// data_head and data_tail are shared with the kernel, which accesses them with its own barriers;
// std::atomic_ref gives the matching acquire/release on our side.
__u64 LoadHead(perf_event_mmap_page* meta) {
  // Acquire; pairs with the kernel's smp_store_release of data_head in perf_output_put_handle()
  // after it wrote the records: every byte before head is visible once head is.
  return std::atomic_ref<__u64>(meta->data_head).load(std::memory_order_acquire);
}

void StoreTail(perf_event_mmap_page* meta, uint64_t tail) {
  // Release; pairs with the kernel's smp_mb() before it reads data_tail in perf_output_begin():
  // our reads of the records are done before the kernel may overwrite their space.
  std::atomic_ref<__u64>(meta->data_tail).store(tail, std::memory_order_release);
}

}  // namespace

RingBuffer::RingBuffer(void* base, size_t page_size, size_t data_size)
    : meta_(static_cast<perf_event_mmap_page*>(base)),
      data_(static_cast<const uint8_t*>(base) + page_size),
      size_(data_size),
      mask_(data_size - 1) {}

bool RingBuffer::Empty() const {
  return LoadHead(meta_) ==
         std::atomic_ref<__u64>(meta_->data_tail).load(std::memory_order_relaxed);
}

void RingBuffer::CopyOut(uint64_t position, size_t size, uint8_t* out) const {
  const size_t offset = position & mask_;
  const size_t first = std::min(size, size_ - offset);
  std::memcpy(out, data_ + offset, first);
  std::memcpy(out + first, data_, size - first);
}

size_t RingBuffer::Read(absl::FunctionRef<void(std::span<const uint8_t>)> fn) {
  const uint64_t head = LoadHead(meta_);
  // Only this reader writes data_tail.
  uint64_t tail = std::atomic_ref<__u64>(meta_->data_tail).load(std::memory_order_relaxed);
  size_t delivered = 0;
  while (tail < head) {
    const uint64_t available = head - tail;
    if (available < sizeof(perf_event_header)) {
      ++stats_.partial_waits;
      break;
    }
    perf_event_header header;
    CopyOut(tail, sizeof(header), reinterpret_cast<uint8_t*>(&header));
    if (header.size < sizeof(header) || header.size > size_) {
      stats_.corrupt_bytes += available;
      tail = head;
      break;
    }
    if (header.size > available) {
      ++stats_.partial_waits;
      break;
    }
    const size_t offset = tail & mask_;
    if (offset + header.size <= size_) {
      fn(std::span<const uint8_t>(data_ + offset, header.size));
    } else {
      scratch_.resize(std::max<size_t>(scratch_.size(), header.size));
      CopyOut(tail, header.size, scratch_.data());
      ++stats_.wrapped;
      fn(std::span<const uint8_t>(scratch_.data(), header.size));
    }
    tail += header.size;
    ++delivered;
  }
  stats_.records += delivered;
  StoreTail(meta_, tail);
  return delivered;
}

}  // namespace dprof::tracer
