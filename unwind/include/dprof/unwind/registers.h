// User registers of a stack snapshot, in DWARF register numbering (x86-64 psABI), the numbering
// the unwinders and CFI use. Only x86-64 is supported so far.
//
// Context: a plain value; no allocation, no locks: any thread, and async-signal-safe (the timer
// sampler's signal handler fills one).
#ifndef DPROF_UNWIND_REGISTERS_H_
#define DPROF_UNWIND_REGISTERS_H_

#include <array>
#include <cstdint>

namespace dprof::unwind {

// DWARF numbers of the x86-64 general registers; kRip is the return-address column.
enum Reg : int {
  kRax = 0,
  kRdx,
  kRcx,
  kRbx,
  kRsi,
  kRdi,
  kRbp,
  kRsp,
  kR8,
  kR9,
  kR10,
  kR11,
  kR12,
  kR13,
  kR14,
  kR15,
  kRip,
  kNumRegs,
};

struct Registers {
  std::array<uint64_t, kNumRegs> value{};
  uint32_t valid = 0;  // bit r set: value[r] is known

  void Set(int reg, uint64_t v) {
    value[reg] = v;
    valid |= 1u << reg;
  }
  bool Has(int reg) const { return (valid >> reg) & 1; }
  uint64_t ip() const { return value[kRip]; }
  uint64_t sp() const { return value[kRsp]; }
  uint64_t bp() const { return value[kRbp]; }
};

}  // namespace dprof::unwind

#endif  // DPROF_UNWIND_REGISTERS_H_
