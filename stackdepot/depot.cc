#include "dprof/stackdepot/depot.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <new>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dprof/rcu/rcu.h"
#include "dprof/sync/mutex.h"
#include "stackdepot/internal/asan.h"
#include "stackdepot/internal/record.h"
#include "stackdepot/internal/stat_counters.h"

namespace dprof::stackdepot {

using internal::ClassBytes;
using internal::ClassFrames;
using internal::kCountMask;
using internal::kPinned;
using internal::Record;
using internal::SizeClassOf;

namespace {

// 64x64 -> 128-bit multiply, high half folded into the low: the mixing step of wyhash.
inline uint64_t Fold(uint64_t a, uint64_t b) {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

uint32_t DefaultHash(std::span<const uint64_t> frames) {
  constexpr uint64_t kP0 = 0xa0761d6478bd642full;
  constexpr uint64_t kP1 = 0xe7037ed1a0b428dbull;
  constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ull;
  uint64_t h = kP0 ^ frames.size();
  size_t i = 0;
  for (; i + 1 < frames.size(); i += 2) h = Fold(frames[i] ^ kP1 ^ h, frames[i + 1] ^ kP2);
  if (i < frames.size()) h = Fold(frames[i] ^ kP1 ^ h, kP2);
  h = Fold(h ^ kP0, kP1 ^ frames.size());
  return static_cast<uint32_t>(h ^ (h >> 32));
}

// Takes a reference (kGet) or pins the record (otherwise) unless it is dead.
bool TryTake(Record& record, SaveFlags flags) {
  // Relaxed: the record's contents were published by its chain link (release/acquire); the count
  // only decides liveness, and the modification order of refs alone settles a race with the Put()
  // that drops the last reference: either it sees our increment, or we see its 0.
  uint32_t refs = record.refs.load(std::memory_order_relaxed);
  for (;;) {
    if (refs == 0) return false;  // the last reference is gone; Free() is unlinking it
    uint32_t want;
    if (flags & kGet) {
      if ((refs & kCountMask) == kCountMask) return true;  // saturated, hence immortal
      want = refs + 1;
    } else {
      if (refs & kPinned) return true;
      want = refs | kPinned;
    }
    if (record.refs.compare_exchange_weak(refs, want, std::memory_order_relaxed)) return true;
  }
}

int DefaultTableBits(size_t max_bytes) {
  return std::clamp(static_cast<int>(std::bit_width(max_bytes / 512)) - 1, 8, 26);
}

}  // namespace

struct Depot::FreeLists {
  // Freed records in unlink order, hence in nondecreasing grace-period stamp order: the ones whose
  // grace period is over form a prefix. Linked through Record::id_or_free_next.
  uint32_t pending_head = 0;
  uint32_t pending_tail = 0;
  uint64_t pending_count = 0;
  // Per size class, a stack of records ready for reuse.
  std::vector<uint32_t> reusable;
  uint64_t reusable_count = 0;
};

std::string_view StatName(Stat stat) {
  static constexpr std::string_view kNames[kNumStats] = {
      "pools",      "records_in_use", "freed_pending", "reusable",      "hits",
      "misses",     "failures",       "fail_capacity", "fail_no_alloc", "fail_no_memory",
      "fail_empty", "truncated",      "bad_handles",   "bytes_in_use",  "bytes_reserved",
  };
  return kNames[static_cast<int>(stat)];
}

std::string DepotStats::ToString() const {
  std::string out;
  for (int i = 0; i < kNumStats; ++i) {
    out.append(StatName(static_cast<Stat>(i)));
    absl::StrAppend(&out, " ", values[i], "\n");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Depot>> Depot::Create(const Options& options) {
  using internal::kMaxFramesLimit;
  using internal::kMaxPoolBytes;
  using internal::kMaxPools;
  using internal::kMinPoolBytes;
  if (options.max_frames < 1 || options.max_frames > kMaxFramesLimit) {
    return absl::InvalidArgumentError(
        absl::StrFormat("stack depot: max_frames %d is out of range; use 1 to %d",
                        options.max_frames, kMaxFramesLimit));
  }
  if (!std::has_single_bit(options.pool_bytes) || options.pool_bytes < kMinPoolBytes ||
      options.pool_bytes > kMaxPoolBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("stack depot: pool_bytes %d is not a power of two from %d to %d",
                        options.pool_bytes, kMinPoolBytes, kMaxPoolBytes));
  }
  const size_t largest = ClassBytes(SizeClassOf(options.max_frames));
  if (largest > options.pool_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "stack depot: a %d-frame record needs %d bytes, more than pool_bytes %d; raise "
        "pool_bytes or lower max_frames",
        options.max_frames, largest, options.pool_bytes));
  }
  if (options.max_bytes < options.pool_bytes ||
      options.max_bytes / options.pool_bytes > kMaxPools) {
    return absl::InvalidArgumentError(
        absl::StrFormat("stack depot: max_bytes %d must hold 1 to %d pools of %d bytes",
                        options.max_bytes, kMaxPools, options.pool_bytes));
  }
  if (options.table_bits < 0 || options.table_bits > 28) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "stack depot: table_bits %d is out of range; use 1 to 28, or 0 for the default",
        options.table_bits));
  }
  return std::unique_ptr<Depot>(new Depot(options));
}

Depot::Depot(const Options& options)
    : options_(options),
      max_pools_(options.max_bytes / options.pool_bytes),
      table_mask_((uint32_t{1} << (options.table_bits != 0 ? options.table_bits
                                                           : DefaultTableBits(options.max_bytes))) -
                  1),
      table_(new std::atomic<uint32_t>[size_t{table_mask_} + 1]()),
      pools_(new std::atomic<char*>[max_pools_]()),
      counters_(std::make_unique<internal::StatCounters>()),
      free_(std::make_unique<FreeLists>()) {
  free_->reusable.assign(SizeClassOf(options_.max_frames) + 1, 0);
}

Depot::~Depot() {
  sync::MutexLock lock(&mu_);
  ResetLocked();
}

uint32_t Depot::HashOf(std::span<const uint64_t> frames) const {
  return options_.hash != nullptr ? options_.hash(frames) : DefaultHash(frames);
}

Record* Depot::RecordAt(uint32_t id) const {
  // Acquire; pairs with the release in MapPoolLocked(). Ids reached through chain links are ordered
  // after the mapping anyway; handles passed in by callers are ordered by this.
  char* base = pools_[internal::PoolOf(id) - 1].load(std::memory_order_acquire);
  return reinterpret_cast<Record*>(base + internal::OffsetOf(id));
}

Record* Depot::Resolve(Handle handle) const {
  const uint32_t id = RecordOf(handle);
  const size_t pool = internal::PoolOf(id);
  const size_t offset = internal::OffsetOf(id);
  if (pool == 0 || pool > max_pools_ || offset + sizeof(Record) > options_.pool_bytes ||
      pools_[pool - 1].load(std::memory_order_acquire) == nullptr) {
    return nullptr;
  }
  Record* record = RecordAt(id);
  if (internal::AsanIsPoisoned(record, sizeof(Record))) return nullptr;
  // A live record knows its own id, so a handle into the middle of a record, or into space never
  // handed out (zeroes), is refused. A handle kept after its record was freed and reused by a
  // trace of the same size class names that trace: the caller's bug, undetectable here.
  if (record->refs.load(std::memory_order_relaxed) == 0 ||
      record->id_or_free_next.load(std::memory_order_relaxed) != id) {
    return nullptr;
  }
  return record;
}

Handle Depot::Save(std::span<const uint64_t> frames, SaveFlags flags) {
  if (frames.empty()) {
    counters_->Add(Stat::kFailEmpty);
    counters_->Add(Stat::kFailures);
    return kNoHandle;
  }
  if (frames.size() > options_.max_frames) {
    frames = frames.first(options_.max_frames);
    counters_->Add(Stat::kTruncated);
  }
  const uint32_t hash = HashOf(frames);
  std::atomic<uint32_t>& bucket = table_[hash & table_mask_];
  {
    rcu::ReadLock rcu;
    if (const uint32_t id = FindAndTake(bucket, frames, hash, flags)) {
      counters_->Add(Stat::kHits);
      return id;
    }
  }
  return Insert(bucket, frames, hash, flags);
}

uint32_t Depot::FindAndTake(const std::atomic<uint32_t>& bucket, std::span<const uint64_t> frames,
                            uint32_t hash, SaveFlags flags) const {
  // The caller is inside a read-side section or holds mu_; either way no record reachable here is
  // reused under us, so its fields can be compared before a reference is taken, and a hash
  // collision never takes a reference on the wrong record (the kernel takes first and undoes).
  // Acquire loads of heads and links pair with the release store in LinkLocked().
  for (uint32_t id = bucket.load(std::memory_order_acquire); id != 0;) {
    Record* record = RecordAt(id);
    if (record->hash == hash && record->size == frames.size() &&
        std::equal(frames.begin(), frames.end(), record->frames()) && TryTake(*record, flags)) {
      return id;
    }
    id = record->next.load(std::memory_order_acquire);
  }
  return 0;
}

Handle Depot::Insert(std::atomic<uint32_t>& bucket, std::span<const uint64_t> frames, uint32_t hash,
                     SaveFlags flags) {
  sync::MutexLock lock(&mu_);
  // Look again: another thread may have stored the trace since the lock-free lookup. Under mu_ no
  // record is unlinked or reused, so this lookup needs no read-side section.
  if (const uint32_t id = FindAndTake(bucket, frames, hash, flags)) {
    counters_->Add(Stat::kHits);
    return id;
  }
  const uint32_t id = AllocLocked(SizeClassOf(frames.size()), (flags & kCanAlloc) != 0);
  if (id == 0) return kNoHandle;
  LinkLocked(id, frames, hash, (flags & kGet) ? 1 : kPinned);
  counters_->Add(Stat::kMisses);
  return id;
}

void Depot::LinkLocked(uint32_t id, std::span<const uint64_t> frames, uint32_t hash,
                       uint32_t refs) {
  Record* record = RecordAt(id);
  const int size_class = SizeClassOf(frames.size());
  record->hash = hash;
  record->size = static_cast<uint16_t>(frames.size());
  record->size_class = static_cast<uint8_t>(size_class);
  std::copy(frames.begin(), frames.end(), record->frames());
  record->refs.store(refs, std::memory_order_relaxed);
  record->id_or_free_next.store(id, std::memory_order_relaxed);
  std::atomic<uint32_t>& bucket = table_[hash & table_mask_];
  record->next.store(bucket.load(std::memory_order_relaxed), std::memory_order_relaxed);
  // Release: publishes everything written above; pairs with the acquire loads in FindAndTake().
  bucket.store(id, std::memory_order_release);
  ++records_in_use_;
  bytes_in_use_ += ClassBytes(size_class);
}

uint32_t Depot::AllocLocked(int size_class, bool can_alloc) {
  ReclaimLocked();
  uint32_t& reusable = free_->reusable[size_class];
  if (reusable != 0) {
    const uint32_t id = reusable;
    Record* record = RecordAt(id);
    reusable = record->id_or_free_next.load(std::memory_order_relaxed);
    --free_->reusable_count;
    internal::AsanUnpoison(record->frames(), ClassFrames(size_class) * sizeof(uint64_t));
    return id;
  }
  const size_t bytes = ClassBytes(size_class);
  if (pool_count_ == 0 || bump_offset_ + bytes > options_.pool_bytes) {
    // The newest pool's tail (less than one record) is left unused.
    Stat failure = Stat::kCount;
    if (pool_count_ == max_pools_) {
      failure = Stat::kFailCapacity;
    } else if (!can_alloc) {
      failure = Stat::kFailNoAlloc;
    } else if (!MapPoolLocked(pool_count_)) {
      failure = Stat::kFailNoMemory;
    } else {
      ++pool_count_;
      bump_offset_ = 0;
    }
    if (failure != Stat::kCount) {
      counters_->Add(failure);
      counters_->Add(Stat::kFailures);
      return 0;
    }
  }
  const size_t pool_index = pool_count_ - 1;
  char* at = pools_[pool_index].load(std::memory_order_relaxed) + bump_offset_;
  internal::AsanUnpoison(at, bytes);
  new (at) Record{};
  const uint32_t id = internal::MakeId(pool_index, bump_offset_);
  bump_offset_ += bytes;
  return id;
}

bool Depot::MapPoolLocked(size_t index) {
  void* pool = mmap(nullptr, options_.pool_bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (pool == MAP_FAILED) return false;
  internal::AsanPoison(pool, options_.pool_bytes);
  // Release; pairs with the acquire loads in RecordAt() and Resolve().
  pools_[index].store(static_cast<char*>(pool), std::memory_order_release);
  ++pools_mapped_;
  return true;
}

std::span<const uint64_t> Depot::Fetch(Handle handle) const {
  const Record* record = Resolve(handle);
  if (record == nullptr) {
    counters_->Add(Stat::kBadHandles);
    return {};
  }
  return {record->frames(), record->size};
}

void Depot::ForEach(absl::FunctionRef<void(Handle, std::span<const uint64_t>)> visit) const {
  sync::MutexLock lock(&mu_);
  // Under mu_ no record is linked or unlinked; one whose count just dropped to 0 waits for mu_ to
  // be unlinked, and is skipped as dead.
  for (size_t b = 0; b <= table_mask_; ++b) {
    for (uint32_t id = table_[b].load(std::memory_order_relaxed); id != 0;) {
      const Record* record = RecordAt(id);
      if (record->refs.load(std::memory_order_relaxed) != 0) {
        visit(id, {record->frames(), record->size});
      }
      id = record->next.load(std::memory_order_relaxed);
    }
  }
}

void Depot::Put(Handle handle) {
  Record* record = Resolve(handle);
  if (record == nullptr) {
    counters_->Add(Stat::kBadHandles);
    return;
  }
  uint32_t refs = record->refs.load(std::memory_order_relaxed);
  uint32_t want;
  do {
    if ((refs & kCountMask) == 0) {  // pinned without a counted reference, or already dead
      counters_->Add(Stat::kBadHandles);
      return;
    }
    if ((refs & kCountMask) == kCountMask) return;  // saturated, hence immortal
    want = refs - 1;
    // acq_rel: the caller's reads of the frames happen before the record can be freed.
  } while (!record->refs.compare_exchange_weak(refs, want, std::memory_order_acq_rel,
                                               std::memory_order_relaxed));
  if (want == 0) Free(RecordOf(handle));
}

void Depot::Free(uint32_t id) {
  sync::MutexLock lock(&mu_);
  Record* record = RecordAt(id);
  // Unlink at once. Readers already on the record keep walking through its next link, which stays
  // intact until the record is reused after a grace period: it cannot move to another list sooner.
  std::atomic<uint32_t>* link = &table_[record->hash & table_mask_];
  for (uint32_t at = link->load(std::memory_order_relaxed); at != id;
       at = link->load(std::memory_order_relaxed)) {
    assert(at != 0 && "a record whose count dropped to 0 is linked until Free() unlinks it");
    link = &RecordAt(at)->next;
  }
  // Release; pairs with the acquire loads in FindAndTake().
  link->store(record->next.load(std::memory_order_relaxed), std::memory_order_release);

  record->free_stamp = grace_.Start();
  record->id_or_free_next.store(0, std::memory_order_relaxed);
  FreeLists& free = *free_;
  if (free.pending_tail != 0) {
    RecordAt(free.pending_tail)->id_or_free_next.store(id, std::memory_order_relaxed);
  } else {
    free.pending_head = id;
  }
  free.pending_tail = id;
  ++free.pending_count;
  --records_in_use_;
  bytes_in_use_ -= ClassBytes(record->size_class);
}

void Depot::ReclaimLocked() const {
  FreeLists& free = *free_;
  while (free.pending_head != 0) {
    const uint32_t id = free.pending_head;
    Record* record = RecordAt(id);
    if (!grace_.Poll(record->free_stamp)) break;  // later stamps are no older
    free.pending_head = record->id_or_free_next.load(std::memory_order_relaxed);
    if (free.pending_head == 0) free.pending_tail = 0;
    --free.pending_count;
    record->id_or_free_next.store(free.reusable[record->size_class], std::memory_order_relaxed);
    free.reusable[record->size_class] = id;
    ++free.reusable_count;
    // No reader can reach the record now: any read of its frames from here on is a use after Put.
    internal::AsanPoison(record->frames(), ClassFrames(record->size_class) * sizeof(uint64_t));
  }
}

DepotStats Depot::Stats() const {
  DepotStats stats;
  for (Stat s :
       {Stat::kHits, Stat::kMisses, Stat::kFailures, Stat::kFailCapacity, Stat::kFailNoAlloc,
        Stat::kFailNoMemory, Stat::kFailEmpty, Stat::kTruncated, Stat::kBadHandles}) {
    stats.values[static_cast<int>(s)] = counters_->Sum(s);
  }
  sync::MutexLock lock(&mu_);
  ReclaimLocked();
  auto set = [&stats](Stat s, uint64_t v) { stats.values[static_cast<int>(s)] = v; };
  set(Stat::kPools, pools_mapped_);
  set(Stat::kRecordsInUse, records_in_use_);
  set(Stat::kFreedPending, free_->pending_count);
  set(Stat::kReusable, free_->reusable_count);
  set(Stat::kBytesInUse, bytes_in_use_);
  set(Stat::kBytesReserved,
      pools_mapped_ * options_.pool_bytes + (size_t{table_mask_} + 1) * sizeof(uint32_t));
  return stats;
}

void Depot::ResetLocked() {
  for (size_t i = 0; i < pool_count_; ++i) {
    char* pool = pools_[i].exchange(nullptr, std::memory_order_relaxed);
    if (pool == nullptr) continue;  // Load() maps only the pools its records live in
    internal::AsanUnpoison(pool, options_.pool_bytes);
    munmap(pool, options_.pool_bytes);
  }
  for (size_t i = 0; i <= table_mask_; ++i) table_[i].store(0, std::memory_order_relaxed);
  pool_count_ = 0;
  pools_mapped_ = 0;
  bump_offset_ = 0;
  records_in_use_ = 0;
  bytes_in_use_ = 0;
  const size_t classes = free_->reusable.size();
  *free_ = FreeLists{};
  free_->reusable.assign(classes, 0);
}

}  // namespace dprof::stackdepot
