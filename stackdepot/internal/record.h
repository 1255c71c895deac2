// Record layout, record ids and size classes of the stack depot. Internal to stackdepot/.
#ifndef DPROF_STACKDEPOT_INTERNAL_RECORD_H_
#define DPROF_STACKDEPOT_INTERNAL_RECORD_H_

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "dprof/stackdepot/depot.h"

namespace dprof::stackdepot::internal {

// A record id is the handle without caller bits: (pool index + 1) in the high bits, the record's
// offset in its pool in 8-byte units in the low kOffsetBits. Pool index + 1 keeps id 0 free to
// mean "none" in handles, bucket heads and chain links.
inline constexpr int kOffsetBits = 17;
inline constexpr int kPoolBits = kHandleRecordBits - kOffsetBits;
inline constexpr size_t kRecordAlign = 8;
inline constexpr size_t kMaxPoolBytes = (size_t{1} << kOffsetBits) * kRecordAlign;  // 1 MiB
inline constexpr size_t kMinPoolBytes = size_t{4} << 10;
inline constexpr size_t kMaxPools = (size_t{1} << kPoolBits) - 1;  // 2047
inline constexpr size_t kMaxFramesLimit = 65535;

constexpr uint32_t MakeId(size_t pool_index, size_t offset) {
  return static_cast<uint32_t>(((pool_index + 1) << kOffsetBits) | (offset / kRecordAlign));
}
// Pool index + 1; 0 for a malformed id.
constexpr size_t PoolOf(uint32_t id) { return id >> kOffsetBits; }
constexpr size_t OffsetOf(uint32_t id) {
  return (id & ((uint32_t{1} << kOffsetBits) - 1)) * kRecordAlign;
}

// `refs` holds a count in its low 31 bits and a pinned bit. 0 means dead: a record whose refs is 0
// can never be taken again. A pinned record is never freed; a saturated count pins it too.
inline constexpr uint32_t kPinned = uint32_t{1} << 31;
inline constexpr uint32_t kCountMask = kPinned - 1;

// A stored trace. Lives at a fixed place in a pool and is reused in place by traces of the same
// size class once a grace period after its unlink has passed.
//
// What readers may touch when: FindAndTake() reads next, hash, size and the frames of any record it
// reaches inside an RCU read-side section, live or freed-but-not-yet-reused, then takes a
// reference only if refs is not 0. All of those stay unchanged from the unlink until reuse, which
// waits for a grace period. Resolve() reads refs and id_or_free_next of whatever a caller's handle
// names; both are atomics, so even a stale or forged handle causes no data race.
struct Record {
  std::atomic<uint32_t> next;  // id of the next record in the hash chain; 0 ends it
  uint32_t hash;
  std::atomic<uint32_t> refs;
  uint16_t size;  // frames stored
  uint8_t size_class;
  uint8_t unused = 0;
  // While linked: the record's own id, so that Resolve() rejects a handle that does not name the
  // start of a record. Once freed: the free-list link. Written only under the insert lock.
  std::atomic<uint32_t> id_or_free_next;
  uint32_t free_stamp;  // GracePeriodTracker state at unlink (insert lock only)

  uint64_t* frames() { return reinterpret_cast<uint64_t*>(this + 1); }
  const uint64_t* frames() const { return reinterpret_cast<const uint64_t*>(this + 1); }
};
static_assert(sizeof(Record) == 24 && alignof(Record) <= kRecordAlign);

// Size classes bound the frame capacity a record of n frames gets: exact up to 16 frames, then
// eight classes per power of two, so no record carries more than 1/8 unused frame slots.
// A freed record is reused only by a trace of its own class.
inline constexpr size_t kExactClasses = 16;
inline constexpr int kClassesPerDoubling = 8;

constexpr int SizeClassOf(size_t frames) {
  if (frames <= kExactClasses) return static_cast<int>(frames) - 1;
  // frames - 1 is in [2^log2, 2^(log2+1)).
  const int log2 = static_cast<int>(std::bit_width(frames - 1)) - 1;
  const size_t step = size_t{1} << (log2 - 3);
  const size_t steps = (frames - (size_t{1} << log2) + step - 1) / step;  // 1..8
  return static_cast<int>(kExactClasses) + (log2 - 4) * kClassesPerDoubling +
         static_cast<int>(steps) - 1;
}

constexpr size_t ClassFrames(int size_class) {
  if (size_class < static_cast<int>(kExactClasses)) return static_cast<size_t>(size_class) + 1;
  const int k = size_class - static_cast<int>(kExactClasses);
  const int log2 = 4 + k / kClassesPerDoubling;
  const size_t step = size_t{1} << (log2 - 3);
  return (size_t{1} << log2) + static_cast<size_t>(k % kClassesPerDoubling + 1) * step;
}

constexpr size_t ClassBytes(int size_class) {
  return sizeof(Record) + ClassFrames(size_class) * sizeof(uint64_t);
}

}  // namespace dprof::stackdepot::internal

#endif  // DPROF_STACKDEPOT_INTERNAL_RECORD_H_
