// The depot image: Depot::Serialize() and Depot::Load().
//
// Layout, little-endian:
//   header  "DPSD" | u16 version (1) | u16 0 | u32 pool_bytes | u32 record count
//   record  u32 id | u32 frame count n | n x u64 frames        (ascending id order)
// An id is a handle without caller bits; Load() puts every record back at the place its id names,
// so handles stored elsewhere in a recording stay valid.
#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <span>
#include <vector>

#include "absl/strings/str_format.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/sync/mutex.h"
#include "stackdepot/internal/asan.h"
#include "stackdepot/internal/record.h"

namespace dprof::stackdepot {

using internal::ClassBytes;
using internal::SizeClassOf;

namespace {

constexpr char kMagic[4] = {'D', 'P', 'S', 'D'};
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderBytes = 16;
constexpr size_t kRecordHeaderBytes = 8;

template <typename T>
void Append(std::string& out, T value) {
  static_assert(std::endian::native == std::endian::little, "the image is little-endian");
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

// Reads little-endian integers off the front of an image; fails instead of reading past its end.
class ImageReader {
 public:
  explicit ImageReader(std::string_view data) : data_(data) {}

  template <typename T>
  bool Read(T* value) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(value, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  size_t left() const { return data_.size() - pos_; }
  size_t pos() const { return pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

std::string Depot::Serialize() const {
  // Frames are copied while ForEach() holds the insert lock: once it returns, a concurrent Put()
  // may free a record and a later Save() reuse its place.
  struct Entry {
    uint32_t id;
    size_t first;  // index of its first frame in `frames`
    size_t size;
  };
  std::vector<Entry> entries;
  std::vector<uint64_t> frames;
  ForEach([&](Handle id, std::span<const uint64_t> record) {
    entries.push_back({id, frames.size(), record.size()});
    frames.insert(frames.end(), record.begin(), record.end());
  });
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.id < b.id; });

  std::string out;
  out.reserve(kHeaderBytes + entries.size() * kRecordHeaderBytes + frames.size() * 8);
  out.append(kMagic, sizeof(kMagic));
  Append<uint16_t>(out, kVersion);
  Append<uint16_t>(out, 0);
  Append<uint32_t>(out, static_cast<uint32_t>(options_.pool_bytes));
  Append<uint32_t>(out, static_cast<uint32_t>(entries.size()));
  for (const Entry& e : entries) {
    Append<uint32_t>(out, e.id);
    Append<uint32_t>(out, static_cast<uint32_t>(e.size));
    out.append(reinterpret_cast<const char*>(&frames[e.first]), e.size * sizeof(uint64_t));
  }
  return out;
}

absl::Status Depot::Load(std::string_view image) {
  sync::MutexLock lock(&mu_);
  if (pool_count_ != 0) {
    return absl::FailedPreconditionError(
        "stack depot: Load() needs an empty depot; create a new one to load an image into");
  }
  absl::Status status = LoadLocked(image);
  if (!status.ok()) ResetLocked();
  return status;
}

absl::Status Depot::LoadLocked(std::string_view image) {
  ImageReader in(image);
  char magic[4];
  uint16_t version = 0, reserved = 0;
  uint32_t pool_bytes = 0, count = 0;
  if (image.size() < kHeaderBytes) {
    return absl::DataLossError(
        absl::StrFormat("stack depot image: %d bytes is shorter than its %d-byte header",
                        image.size(), kHeaderBytes));
  }
  for (char& c : magic) in.Read(&c);
  in.Read(&version);
  in.Read(&reserved);
  in.Read(&pool_bytes);
  in.Read(&count);
  if (std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError("stack depot image: bad magic; this is not a depot image");
  }
  if (version != kVersion || reserved != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("stack depot image: version %d (reserved %d), this build reads version %d",
                        version, reserved, kVersion));
  }
  if (pool_bytes != options_.pool_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "stack depot image: written with %d-byte pools, this depot has %d; create the depot "
        "with Options::pool_bytes = %d",
        pool_bytes, options_.pool_bytes, pool_bytes));
  }

  std::vector<uint64_t> frames;
  uint32_t previous = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t id = 0, n = 0;
    if (!in.Read(&id) || !in.Read(&n)) {
      return absl::DataLossError(
          absl::StrFormat("stack depot image: truncated in record %d of %d (at byte %d of %d)",
                          i + 1, count, in.pos(), image.size()));
    }
    const size_t pool = internal::PoolOf(id);
    const size_t offset = internal::OffsetOf(id);
    if (n == 0 || n > options_.max_frames) {
      return absl::DataLossError(
          absl::StrFormat("stack depot image: record %d has %d frames; this depot stores 1 to %d",
                          i + 1, n, options_.max_frames));
    }
    if (id <= previous || pool == 0 || pool > max_pools_ ||
        offset + ClassBytes(SizeClassOf(n)) > options_.pool_bytes ||
        (pool == pool_count_ && offset < bump_offset_)) {
      return absl::DataLossError(absl::StrFormat(
          "stack depot image: record %d has handle 0x%08x, out of order, overlapping or beyond "
          "this depot's %d pools",
          i + 1, id, max_pools_));
    }
    if (in.left() / sizeof(uint64_t) < n) {
      return absl::DataLossError(absl::StrFormat(
          "stack depot image: truncated in the frames of record %d of %d", i + 1, count));
    }
    frames.resize(n);
    for (uint64_t& f : frames) in.Read(&f);
    const uint32_t hash = HashOf(frames);
    if (FindAndTake(table_[hash & table_mask_], frames, hash, /*flags=*/0) != 0) {
      return absl::DataLossError(
          absl::StrFormat("stack depot image: record %d repeats an earlier trace", i + 1));
    }
    if (pool > pool_count_) {
      // Only pools that hold a record are mapped: a short corrupt image naming pool 2047 costs one
      // pool, not max_bytes. Handles into the skipped ones resolve to nothing.
      if (!MapPoolLocked(pool - 1)) {
        return absl::ResourceExhaustedError("stack depot image: out of memory mapping a pool");
      }
      // Handles in a recording may name records the image lacks (a corrupt file). Gaps between
      // loaded records stay readable zeroes, which Fetch() refuses as no record, rather than
      // poisoned space.
      internal::AsanUnpoison(pools_[pool - 1].load(std::memory_order_relaxed), options_.pool_bytes);
      pool_count_ = pool;
      bump_offset_ = 0;
    }
    const size_t bytes = ClassBytes(SizeClassOf(n));
    new (pools_[pool - 1].load(std::memory_order_relaxed) + offset) internal::Record{};
    bump_offset_ = offset + bytes;
    LinkLocked(id, frames, hash, internal::kPinned);
    previous = id;
  }
  if (in.left() != 0) {
    return absl::DataLossError(absl::StrFormat(
        "stack depot image: %d bytes follow the last of its %d records", in.left(), count));
  }
  return absl::OkStatus();
}

}  // namespace dprof::stackdepot
