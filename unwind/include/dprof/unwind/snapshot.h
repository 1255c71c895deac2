// dprof::unwind::Snapshot — what a user stack is unwound from, long after the fact.
//
// A sampler copies the user registers and the top of the user stack at kernel entry
// (PERF_SAMPLE_REGS_USER + PERF_SAMPLE_STACK_USER); the unwinders walk that copy later, with the
// address space the task had. Memory is read only through ReadMemory(), which says why a read
// failed, so every unwinder reports the same stop reasons.
#ifndef DPROF_UNWIND_SNAPSHOT_H_
#define DPROF_UNWIND_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "dprof/unwind/address_space.h"
#include "dprof/unwind/registers.h"

namespace dprof::unwind {

// The largest user stack copy perf_event takes (PERF_SAMPLE_STACK_USER: a multiple of 8 that keeps
// the sample under 64 KiB), and so the most any sampler copies.
inline constexpr uint32_t kMaxStackCopy = 65528;

struct Snapshot {
  uint32_t pid = 0;
  uint32_t tid = 0;
  Registers regs = {};
  // Address of stack[0]: the stack pointer when the bytes were copied.
  uint64_t stack_address = 0;
  std::span<const uint8_t> stack = {};
  // The task's mappings when the snapshot was taken; borrowed, must outlive the unwind.
  const AddressSpace* space = nullptr;
};

enum class ReadResult {
  kOk,
  kOutOfStack,  // above the copied bytes, in the stack the copy was cut from
  kBadMemory,   // anywhere else nothing is known about
};

// Reads `out.size()` bytes at `address`: from the copied stack, else from the file behind a
// file-backed mapping (code and read-only data; .bss reads as zero).
// Context: any thread; no allocation.
ReadResult ReadMemory(const Snapshot& snapshot, uint64_t address, std::span<uint8_t> out);

// The copied stack's bounds as plain values, which an unwinder's loop keeps in registers (stores
// into its register sets cannot alias them): the one bounds check of a word read from the copy.
struct StackCopy {
  uint64_t address = 0;  // of data[0]
  const uint8_t* data = nullptr;
  uint64_t size = 0;

  explicit StackCopy(const Snapshot& snapshot)
      : address(snapshot.stack_address), data(snapshot.stack.data()), size(snapshot.stack.size()) {}
  // Whether the 8 bytes at `at` lie in the copy; if so, reads them.
  bool ReadWord(uint64_t at, uint64_t* value) const {
    const uint64_t offset = at - address;  // wraps when below: fails the test
    if (at < address || size < sizeof(*value) || offset > size - sizeof(*value)) return false;
    std::memcpy(value, data + offset, sizeof(*value));
    return true;
  }
};

// Reads one 64-bit word: inline from the copied stack, where nearly every read of an unwind
// lands, else as ReadMemory() does.
inline ReadResult ReadWord(const Snapshot& snapshot, const StackCopy& stack, uint64_t address,
                           uint64_t* value) {
  if (stack.ReadWord(address, value)) return ReadResult::kOk;
  return ReadMemory(snapshot, address,
                    std::span<uint8_t>(reinterpret_cast<uint8_t*>(value), sizeof(*value)));
}
inline ReadResult ReadWord(const Snapshot& snapshot, uint64_t address, uint64_t* value) {
  return ReadWord(snapshot, StackCopy(snapshot), address, value);
}

}  // namespace dprof::unwind

#endif  // DPROF_UNWIND_SNAPSHOT_H_
