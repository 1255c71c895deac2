// dprof::unwind::Unwinder — turns a Snapshot into a list of program counters.
//
// Four implementations, same interface, same stop reasons:
//  - frame pointers (MakeFramePointerUnwinder): follows the rbp chain in the copied stack. Fast;
//    wrong or short for code built without frame pointers.
//  - DWARF CFI, rules read with libdw and cached per binary and pc (MakeDwarfUnwinder): the fast
//    DWARF path, and what the Tracer's and TimerSampler's own engines use.
//  - DWARF CFI through elfutils libdwfl's own frame walker (MakeLibdwUnwinder): libdw's exact
//    semantics, the reference the others are checked against; slower.
//  - DWARF CFI through libunwind's remote interface (MakeLibunwindUnwinder).
// Output: pcs[0] is the interrupted instruction; pcs[1..] are return addresses (subtract 1 to
// symbolize the call). Per-binary state (parsed CFI, unwind tables) is built once and reused
// across samples and processes.
#ifndef DPROF_UNWIND_UNWINDER_H_
#define DPROF_UNWIND_UNWINDER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "dprof/unwind/snapshot.h"

namespace dprof::unwind {

enum class StopReason : int {
  kOutermost,     // reached the outermost frame (no caller: the thread's entry point)
  kOutOfStack,    // the next frame lies beyond the copied stack bytes
  kNoUnwindInfo,  // no CFI (or mapping) covers the pc
  kBadMemory,     // a read or a recovered value made no sense
  kLoop,          // the stack pointer or frame pointer did not move outward
  kFrameLimit,    // the output was full
  kCount,
};
inline constexpr int kNumStopReasons = static_cast<int>(StopReason::kCount);
std::string_view StopReasonName(StopReason reason);

// Why to stop when a memory read failed with `result` (not kOk).
StopReason StopReasonForRead(ReadResult result);

// UnwindResult::stack_extent when the whole stack copy, and its length, may have counted.
inline constexpr uint64_t kWholeStack = ~uint64_t{0};

struct UnwindResult {
  size_t frames = 0;
  StopReason reason = StopReason::kOutermost;
  // How much of the stack copy, from its start, decided the result: every read of the copy lay
  // below this offset, and none went past the copy's end (a longer copy would have answered it
  // otherwise). kWholeStack when the unwinder does not say.
  uint64_t stack_extent = kWholeStack;
};

class Unwinder {
 public:
  virtual ~Unwinder() = default;
  // Writes up to pcs.size() frames. Context: any thread, concurrently with other Unwind() calls.
  virtual UnwindResult Unwind(const Snapshot& snapshot, std::span<uint64_t> pcs) = 0;
  virtual std::string_view name() const = 0;
};

std::unique_ptr<Unwinder> MakeFramePointerUnwinder();
// .eh_frame, else .debug_frame (the binary's; for a binary without .eh_frame, its separate debug
// file's); falls back to rbp where there is no CFI.
// Concurrent Unwind() calls run in parallel. See dwarf_unwinder.cc.
std::unique_ptr<Unwinder> MakeDwarfUnwinder();
// Concurrent Unwind() calls take turns (libelf is not thread-safe); see libdw_unwinder.cc.
std::unique_ptr<Unwinder> MakeLibdwUnwinder();

// How the calling thread's DWARF unwinds (MakeDwarfUnwinder) found their rules, since the thread
// began: from its own cache, from a binary's table of rows compiled before, or by reading CFI.
struct DwarfRuleStats {
  uint64_t cache_hits = 0;
  uint64_t table_hits = 0;
  uint64_t cfi_reads = 0;
};
DwarfRuleStats DwarfRuleStatsOfThisThread();
// .eh_frame only; concurrent Unwind() calls run in parallel. See libunwind_unwinder.cc.
std::unique_ptr<Unwinder> MakeLibunwindUnwinder();

}  // namespace dprof::unwind

#endif  // DPROF_UNWIND_UNWINDER_H_
