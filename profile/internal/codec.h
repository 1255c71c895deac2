// The byte encoding inside recording chunks: LEB128 varints, zigzag for signed deltas, and
// length-prefixed bytes. The decoder checks every read against the bytes left and never trusts a
// count it reads: a count the remaining bytes could not hold is an error, so no decoded input makes
// it allocate more than the input's size.
#ifndef DPROF_PROFILE_INTERNAL_CODEC_H_
#define DPROF_PROFILE_INTERNAL_CODEC_H_

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace dprof::profile::internal {

class Encoder {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void Signed(int64_t v) {
    Varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void Bytes(std::span<const uint8_t> b) {
    Varint(b.size());
    out_.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  void String(std::string_view s) {
    Varint(s.size());
    out_.append(s);
  }

  const std::string& data() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Decoder {
 public:
  explicit Decoder(std::span<const uint8_t> in) : in_(in) {}

  bool U8(uint8_t* v) {
    if (pos_ >= in_.size()) return false;
    *v = in_[pos_++];
    return true;
  }
  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      const uint8_t byte = in_[pos_++];
      if (shift == 63 && byte > 1) return false;  // beyond 64 bits
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  template <typename T>
  bool Uint(T* v) {
    uint64_t x;
    if (!Varint(&x) || x > static_cast<uint64_t>(static_cast<T>(~T{0}))) return false;
    *v = static_cast<T>(x);
    return true;
  }
  bool Signed(int64_t* v) {
    uint64_t x;
    if (!Varint(&x)) return false;
    *v = static_cast<int64_t>((x >> 1) ^ (~(x & 1) + 1));
    return true;
  }
  // Length-prefixed bytes, viewed in place.
  bool Bytes(std::span<const uint8_t>* b) {
    uint64_t n;
    if (!Varint(&n) || n > in_.size() - pos_) return false;
    *b = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool String(std::string* s) {
    std::span<const uint8_t> b;
    if (!Bytes(&b)) return false;
    s->assign(reinterpret_cast<const char*>(b.data()), b.size());
    return true;
  }
  // A count of elements that follow, each at least `min_bytes` long.
  bool Count(uint64_t* n, size_t min_bytes = 1) {
    return Varint(n) && *n <= (in_.size() - pos_) / (min_bytes == 0 ? 1 : min_bytes);
  }

  bool done() const { return pos_ == in_.size(); }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_CODEC_H_
