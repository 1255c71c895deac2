// Checks the DWARF unwinders share before they start. Internal to unwind/.
#ifndef DPROF_UNWIND_INTERNAL_PRECONDITIONS_H_
#define DPROF_UNWIND_INTERNAL_PRECONDITIONS_H_

#include <optional>
#include <span>

#include "dprof/unwind/unwinder.h"

namespace dprof::unwind::internal {

// The result to return at once when a DWARF unwinder cannot start on `snapshot` (no room for a
// frame, no address space, no pc or stack pointer); nothing when it can.
inline std::optional<UnwindResult> RefuseToUnwind(const Snapshot& snapshot,
                                                  std::span<uint64_t> pcs) {
  if (pcs.empty()) return UnwindResult{0, StopReason::kFrameLimit};
  if (snapshot.space == nullptr || !snapshot.regs.Has(kRip) || !snapshot.regs.Has(kRsp)) {
    return UnwindResult{0, StopReason::kNoUnwindInfo};
  }
  return std::nullopt;
}

}  // namespace dprof::unwind::internal

#endif  // DPROF_UNWIND_INTERNAL_PRECONDITIONS_H_
