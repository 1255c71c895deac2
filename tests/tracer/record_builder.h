// Hand-built perf_event records, byte for byte as the kernel writes them.
#ifndef DPROF_TESTS_TRACER_RECORD_BUILDER_H_
#define DPROF_TESTS_TRACER_RECORD_BUILDER_H_

#include <linux/perf_event.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "dprof/tracer/records.h"

namespace dprof::testing {

class RecordBuilder {
 public:
  RecordBuilder(uint32_t type, uint16_t misc = 0) {
    perf_event_header h{.type = type, .misc = misc, .size = 0};
    Append(&h, sizeof(h));
  }
  RecordBuilder& U64(uint64_t v) { return Append(&v, 8); }
  RecordBuilder& U32(uint32_t v) { return Append(&v, 4); }
  RecordBuilder& U8(uint8_t v) { return Append(&v, 1); }
  RecordBuilder& Bytes(std::span<const uint8_t> b) { return Append(b.data(), b.size()); }
  // A NUL-terminated string padded to 8 bytes, as the kernel pads names.
  RecordBuilder& PaddedString(std::string_view s) {
    Append(s.data(), s.size());
    U8(0);
    while (bytes_.size() % 8 != 0) U8(0);
    return *this;
  }
  // The sample_id trailer of a non-sample record, for `sample_type`.
  RecordBuilder& Trailer(uint64_t sample_type, const event::SampleId& sid) {
    if (sample_type & PERF_SAMPLE_TID) U32(sid.pid).U32(sid.tid);
    if (sample_type & PERF_SAMPLE_TIME) U64(sid.time);
    if (sample_type & PERF_SAMPLE_CPU) U32(sid.cpu).U32(0);
    if (sample_type & PERF_SAMPLE_IDENTIFIER) U64(sid.id);
    return *this;
  }
  std::vector<uint8_t> Finish() {
    const uint16_t size = static_cast<uint16_t>(bytes_.size());
    std::memcpy(bytes_.data() + offsetof(perf_event_header, size), &size, 2);
    return bytes_;
  }

 private:
  // Not inlined: GCC 12 at -O3 (Release) sees through the vector's growth and warns, wrongly,
  // that the copy overflows it (-Wstringop-overflow).
  [[gnu::noinline]] RecordBuilder& Append(const void* p, size_t n) {
    const size_t at = bytes_.size();
    bytes_.resize(at + n);
    if (n != 0) std::memcpy(bytes_.data() + at, p, n);
    return *this;
  }
  std::vector<uint8_t> bytes_;
};

// A sample of IDENTIFIER | IP | TID | TIME | CPU | PERIOD | CALLCHAIN [| RAW], the tracer's
// layout without user registers.
inline std::vector<uint8_t> SampleBytes(const event::SampleId& sid, uint16_t misc, uint64_t period,
                                        std::vector<uint64_t> callchain,
                                        std::vector<uint8_t> raw = {}, bool with_raw = false) {
  RecordBuilder b(PERF_RECORD_SAMPLE, misc);
  b.U64(sid.id).U64(callchain.empty() ? 0 : callchain.back()).U32(sid.pid).U32(sid.tid);
  b.U64(sid.time).U32(sid.cpu).U32(0).U64(period);
  b.U64(callchain.size());
  for (uint64_t ip : callchain) b.U64(ip);
  if (with_raw) {
    // u32 size + data, padded so the record stays 8-byte aligned.
    while ((raw.size() + 4) % 8 != 0) raw.push_back(0);
    b.U32(static_cast<uint32_t>(raw.size())).Bytes(raw);
  }
  return b.Finish();
}

}  // namespace dprof::testing

#endif  // DPROF_TESTS_TRACER_RECORD_BUILDER_H_
