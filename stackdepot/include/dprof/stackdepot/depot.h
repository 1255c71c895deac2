// dprof::stackdepot — a deduplicating store of stack traces with 32-bit handles.
//
// Every stack of every event dprof records is stored here once: kernel halves, user halves, whole
// stacks. Many sampler and unwinder threads save at once while report code fetches. Modelled on the
// kernel's lib/stackdepot.c.
//
// Guarantees:
//  - Save() of a trace already stored returns its handle without taking a lock: readers walk the
//    hash chains inside an RCU read-side section (dprof/rcu/rcu.h). A miss takes a lock to insert,
//    and looks again under it, so concurrent saves of one new trace store one record, one handle.
//  - A handle names the same trace for as long as the record lives: while the caller holds a
//    reference taken with kGet, or forever once the trace was saved without kGet (it is pinned).
//  - Records are variable-sized (a 3-frame trace costs 3 slots, not max_frames) and live in
//    fixed-size pools mapped on demand up to Options::max_bytes.
//  - The Put() that drops the last reference unlinks the record at once; its memory is reused only
//    after an RCU grace period that began after the unlink has completed, so a reader that found
//    the record just before never sees it change (a reader racing the free and the reuse).
//  - Running out of room is a clean, counted failure: handle 0. Save() never blocks on a grace
//    period and never crashes on exhaustion.
//  - Hot paths (Save hit, Fetch, Put that is not the last) neither allocate nor lock.
//
// Example:
//   auto depot = dprof::stackdepot::Depot::Create({}).value();
//   const uint64_t pcs[] = {0x401136, 0x4011d2, 0x7f12a0029d90};
//   Handle h = depot->Save(pcs, kCanAlloc);                 // pinned: valid for the depot's life
//   h = SetExtraBits(h, 2);                                 // caller-owned tag bits ride along
//   std::span<const uint64_t> frames = depot->Fetch(h);    // {0x401136, 0x4011d2, 0x7f12a0029d90}
//
//   Handle r = depot->Save(pcs, kGet | kCanAlloc);          // counted reference
//   depot->Put(r);                                          // evicted once the count drops to 0
#ifndef DPROF_STACKDEPOT_DEPOT_H_
#define DPROF_STACKDEPOT_DEPOT_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/rcu/grace_period.h"
#include "dprof/sync/mutex.h"

namespace dprof::stackdepot {

// Names one stored trace. 0 means "not stored". The top kHandleExtraBits bits belong to the
// caller (e.g. kernel / user / stitched); Fetch() and Put() ignore them.
using Handle = uint32_t;
inline constexpr Handle kNoHandle = 0;
inline constexpr int kHandleExtraBits = 4;
inline constexpr int kHandleRecordBits = 32 - kHandleExtraBits;
inline constexpr Handle kHandleRecordMask = (Handle{1} << kHandleRecordBits) - 1;

// Returns `handle` carrying `bits` (the low kHandleExtraBits of it) in its caller-owned bits.
// kNoHandle stays kNoHandle.
constexpr Handle SetExtraBits(Handle handle, uint32_t bits) {
  if ((handle & kHandleRecordMask) == 0) return kNoHandle;
  return (handle & kHandleRecordMask) | (bits << kHandleRecordBits);
}
constexpr uint32_t ExtraBits(Handle handle) { return handle >> kHandleRecordBits; }
// The handle without caller bits: equal for every tagging of the same record.
constexpr Handle RecordOf(Handle handle) { return handle & kHandleRecordMask; }

// Save() flags.
using SaveFlags = uint32_t;
// Take a reference the caller later drops with Put(). Without it the record is pinned for good.
inline constexpr SaveFlags kGet = 1u << 0;
// May map a new pool. Without it Save() only uses room the depot already has.
inline constexpr SaveFlags kCanAlloc = 1u << 1;

// Counters, indexed by Stat. A plain array: copy it, print it, diff it.
enum class Stat : int {
  kPools,          // pools mapped
  kRecordsInUse,   // records linked in the table
  kFreedPending,   // freed records still waiting for their grace period
  kReusable,       // freed records whose grace period is over, ready for reuse
  kHits,           // Save() calls that found the trace stored
  kMisses,         // Save() calls that stored a new record
  kFailures,       // Save() calls that returned kNoHandle, all reasons
  kFailCapacity,   //   ... because max_bytes is reached
  kFailNoAlloc,    //   ... because a new pool was needed and kCanAlloc was not given
  kFailNoMemory,   //   ... because mapping a pool failed
  kFailEmpty,      //   ... because the trace had no frames
  kTruncated,      // traces longer than max_frames, stored cut to max_frames
  kBadHandles,     // Fetch()/Put() of a handle that names no live record, or a Put() with no
                   // reference left to drop (use after Put, unbalanced Put): caller bugs
  kBytesInUse,     // bytes of live records
  kBytesReserved,  // bytes mapped: pools plus the hash table
  kCount,
};
inline constexpr int kNumStats = static_cast<int>(Stat::kCount);
std::string_view StatName(Stat stat);

struct DepotStats {
  std::array<uint64_t, kNumStats> values{};

  uint64_t operator[](Stat stat) const { return values[static_cast<int>(stat)]; }
  // One "name value" pair per line.
  std::string ToString() const;
};

struct Options {
  // Longest trace stored; longer ones are cut (and counted). 1..65535.
  size_t max_frames = 256;
  // Bytes per pool: a power of two from 4 KiB to 1 MiB (a handle addresses 8-byte units in 17
  // bits).
  size_t pool_bytes = size_t{1} << 20;
  // Pools are mapped on demand until their total reaches this. At most 2047 pools.
  size_t max_bytes = size_t{256} << 20;
  // log2 of the number of hash buckets (4 bytes each); 0 picks one bucket per 512 bytes of
  // max_bytes, so a full depot of typical 16-frame traces has chains of about three.
  int table_bits = 0;
  // Test hook: replaces the trace hash, e.g. to force collisions. nullptr = the built-in hash.
  uint32_t (*hash)(std::span<const uint64_t> frames) = nullptr;
};

namespace internal {
struct Record;
class StatCounters;
}  // namespace internal

class Depot {
 public:
  // Fails with InvalidArgument when an option is out of range.
  static absl::StatusOr<std::unique_ptr<Depot>> Create(const Options& options);

  // No call may be running on the depot. Waits for the grace-period callback. Context: may block.
  ~Depot();
  Depot(const Depot&) = delete;
  Depot& operator=(const Depot&) = delete;

  // Stores `frames` (cut to max_frames) unless stored already; returns its handle, or kNoHandle
  // when it could not (counted by reason). With kGet the caller owns a reference.
  // Context: any thread. A hit is lock-free and allocation-free; a miss takes the insert lock and,
  // with kCanAlloc, may map a pool. Never waits for a grace period.
  Handle Save(std::span<const uint64_t> frames, SaveFlags flags) ABSL_LOCKS_EXCLUDED(mu_);

  // The frames stored under `handle`; empty when it names no live record (counted in
  // kBadHandles): never mapped, not a record's start, or freed. Valid while the record lives (see
  // the guarantees above). A handle kept after its record was freed and its place reused names
  // the new trace; that caller bug cannot be detected.
  // Context: any thread; lock-free, wait-free.
  std::span<const uint64_t> Fetch(Handle handle) const;

  // Drops a reference taken with kGet. The last one unlinks the record.
  // Context: any thread; lock-free unless it drops the last reference (then takes the insert lock).
  void Put(Handle handle) ABSL_LOCKS_EXCLUDED(mu_);

  // Calls visit(handle, frames) for every live record, in no particular order. Holds the insert
  // lock throughout, so `frames` stays intact during the call even if another thread drops the
  // last reference; keep it longer only for records you hold a reference on or that are pinned.
  // `visit` must not call Save() or Put() on this depot.
  // Context: any thread; blocks inserts while it runs.
  void ForEach(absl::FunctionRef<void(Handle, std::span<const uint64_t>)> visit) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Counters. Context: any thread; takes the insert lock briefly.
  DepotStats Stats() const ABSL_LOCKS_EXCLUDED(mu_);

  // Every live record with its handle, in a versioned little-endian image (for the recording file).
  // Context: any thread; holds the insert lock while it copies.
  std::string Serialize() const ABSL_LOCKS_EXCLUDED(mu_);

  // Recreates the records of a Serialize() image under their original handles, pinned. Needs an
  // empty depot with the image's pool size, and no concurrent Save(). Rejects a corrupt, truncated
  // or foreign image with an error naming what was wrong; the depot is then left empty.
  absl::Status Load(std::string_view image) ABSL_LOCKS_EXCLUDED(mu_);

  const Options& options() const { return options_; }

 private:
  struct FreeLists;

  explicit Depot(const Options& options);

  internal::Record* RecordAt(uint32_t id) const;
  internal::Record* Resolve(Handle handle) const;
  uint32_t FindAndTake(const std::atomic<uint32_t>& bucket, std::span<const uint64_t> frames,
                       uint32_t hash, SaveFlags flags) const;
  Handle Insert(std::atomic<uint32_t>& bucket, std::span<const uint64_t> frames, uint32_t hash,
                SaveFlags flags) ABSL_LOCKS_EXCLUDED(mu_);
  // Returns the id of a record of `size_class` to fill, or 0 with the failure counted.
  uint32_t AllocLocked(int size_class, bool can_alloc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Maps and publishes pool `index`. The caller advances pool_count_ and the bump offset.
  bool MapPoolLocked(size_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LinkLocked(uint32_t id, std::span<const uint64_t> frames, uint32_t hash, uint32_t refs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Free(uint32_t id);
  void ReclaimLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadLocked(std::string_view image) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ResetLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t HashOf(std::span<const uint64_t> frames) const;

  const Options options_;
  const size_t max_pools_;
  const uint32_t table_mask_;
  // Bucket heads: record ids, 0 = empty. Release-stored by LinkLocked()/Free(); acquire-loaded by
  // FindAndTake().
  std::unique_ptr<std::atomic<uint32_t>[]> table_;
  // Pool base addresses, published with release by MapPoolLocked() before any record in the pool
  // is linked; acquire-loaded by RecordAt().
  std::unique_ptr<std::atomic<char*>[]> pools_;
  std::unique_ptr<internal::StatCounters> counters_;
  rcu::GracePeriodTracker grace_;

  // The insert lock: serializes inserts, unlinks, pool mapping and the free lists. Readers never
  // take it. A std::mutex so that ThreadSanitizer sees it (see grace_period.h).
  mutable sync::Mutex mu_;
  // Pools [0, pool_count_) are in use; all are mapped except where Load() skipped one no record
  // of its image lives in.
  size_t pool_count_ ABSL_GUARDED_BY(mu_) = 0;
  size_t pools_mapped_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bump_offset_ ABSL_GUARDED_BY(mu_) = 0;  // next free byte in pool pool_count_ - 1
  // Freed records. Stats() (const) moves the expired ones to the reusable lists.
  std::unique_ptr<FreeLists> free_ ABSL_GUARDED_BY(mu_);
  uint64_t records_in_use_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_in_use_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dprof::stackdepot

#endif  // DPROF_STACKDEPOT_DEPOT_H_
