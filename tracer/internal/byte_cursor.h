// Bounds-checked little-endian reads over bytes a file gave (perf.data headers, features, tracing
// data): every read says whether the bytes were there, and a failed read moves nothing.
//
// Example:
//   ByteCursor c(section);
//   uint64_t offset = 0, size = 0;
//   if (!c.U64(&offset) || !c.U64(&size)) return absl::OutOfRangeError("...");
//
// Context: a plain value over bytes it does not own.
#ifndef DPROF_TRACER_INTERNAL_BYTE_CURSOR_H_
#define DPROF_TRACER_INTERNAL_BYTE_CURSOR_H_

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace dprof::tracer::internal {

class ByteCursor {
 public:
  explicit ByteCursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  bool U8(uint8_t* v) { return Read(v, 1); }
  bool U32(uint32_t* v) { return Read(v, 4); }
  bool U64(uint64_t* v) { return Read(v, 8); }
  bool Bytes(uint64_t n, std::span<const uint8_t>* out) {
    if (n > left()) return false;
    *out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // perf_header_string: a u32 length, then that many bytes holding a NUL-terminated string.
  bool String(std::string* s) {
    const size_t start = pos_;
    uint32_t len = 0;
    std::span<const uint8_t> raw;
    if (!U32(&len) || !Bytes(len, &raw)) {
      pos_ = start;
      return false;
    }
    const auto* chars = reinterpret_cast<const char*>(raw.data());
    s->assign(chars, strnlen(chars, raw.size()));
    return true;
  }
  // A NUL-terminated string, the NUL consumed; false when no NUL comes before the end.
  bool CString(std::string_view* s) {
    const auto* chars = reinterpret_cast<const char*>(bytes_.data() + pos_);
    const size_t n = strnlen(chars, left());
    if (n == left()) return false;
    *s = std::string_view(chars, n);
    pos_ += n + 1;
    return true;
  }
  size_t left() const { return bytes_.size() - pos_; }

 private:
  template <typename T>
  bool Read(T* v, size_t n) {
    if (n > left()) return false;
    std::memcpy(v, bytes_.data() + pos_, n);
    pos_ += n;
    return true;
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_BYTE_CURSOR_H_
