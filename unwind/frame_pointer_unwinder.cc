// The frame-pointer unwinder: x86-64 frames linked through rbp.
//
//   [rbp]      caller's rbp
//   [rbp + 8]  return address into the caller
//
// It trusts rbp, so in code built without frame pointers it follows whatever rbp holds and stops
// with kBadMemory or kLoop, or, worse, returns plausible garbage. The DWARF unwinders exist for
// that code.
#include "dprof/unwind/unwinder.h"

namespace dprof::unwind {
namespace {

class FramePointerUnwinder final : public Unwinder {
 public:
  UnwindResult Unwind(const Snapshot& snapshot, std::span<uint64_t> pcs) override {
    if (pcs.empty()) return {0, StopReason::kFrameLimit};
    if (!snapshot.regs.Has(kRip) || !snapshot.regs.Has(kRbp)) {
      return {0, StopReason::kBadMemory};
    }
    size_t n = 0;
    pcs[n++] = snapshot.regs.ip();
    uint64_t bp = snapshot.regs.bp();
    uint64_t floor = snapshot.regs.Has(kRsp) ? snapshot.regs.sp() : 0;
    while (n < pcs.size()) {
      if (bp == 0) return {n, StopReason::kOutermost};
      // A frame lies above the stack pointer, 8-aligned, and above the frame it was called from.
      if (bp % 8 != 0) return {n, StopReason::kBadMemory};
      if (bp < floor) return {n, StopReason::kLoop};
      uint64_t next_bp = 0, return_address = 0;
      if (ReadResult r = ReadWord(snapshot, bp + 8, &return_address); r != ReadResult::kOk) {
        return {n, StopReasonForRead(r)};
      }
      if (ReadResult r = ReadWord(snapshot, bp, &next_bp); r != ReadResult::kOk) {
        return {n, StopReasonForRead(r)};
      }
      if (return_address == 0) return {n, StopReason::kOutermost};
      if (snapshot.space != nullptr) {
        const Mapping* m = snapshot.space->Find(return_address);
        if (m == nullptr || !m->executable()) return {n, StopReason::kBadMemory};
      }
      pcs[n++] = return_address;
      floor = bp + 16;
      bp = next_bp;
    }
    return {n, StopReason::kFrameLimit};
  }

  std::string_view name() const override { return "fp"; }
};

}  // namespace

std::unique_ptr<Unwinder> MakeFramePointerUnwinder() {
  return std::make_unique<FramePointerUnwinder>();
}

}  // namespace dprof::unwind
