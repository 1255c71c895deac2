#include "dprof/unwind/snapshot.h"

#include <cstring>

namespace dprof::unwind {
namespace {

// When the address space does not say where the stack ends: how far above the copy an address
// still counts as "the stack we did not copy" rather than garbage. Linux's default stack limit.
constexpr uint64_t kAssumedStackBytes = uint64_t{8} << 20;

}  // namespace

ReadResult ReadMemory(const Snapshot& snapshot, uint64_t address, std::span<uint8_t> out) {
  const uint64_t n = out.size();
  if (address >= snapshot.stack_address) {
    const uint64_t offset = address - snapshot.stack_address;
    if (offset <= snapshot.stack.size() && n <= snapshot.stack.size() - offset) {
      std::memcpy(out.data(), snapshot.stack.data() + offset, n);
      return ReadResult::kOk;
    }
    const Mapping* stack =
        snapshot.space != nullptr ? snapshot.space->Find(snapshot.stack_address) : nullptr;
    if (stack != nullptr ? stack->Contains(address) : offset < kAssumedStackBytes) {
      return ReadResult::kOutOfStack;
    }
  }
  // Code and read-only data read as the file holds them. Writable data, and relocated data made
  // read-only afterwards (RELRO), may differ from the file: it says nothing about them.
  if (snapshot.space != nullptr) {
    const Mapping* m = snapshot.space->Find(address);
    if (m != nullptr && m->binary != nullptr && m->file_contents && n <= m->end - address) {
      const uint64_t file_offset = address - m->start + m->pgoff;
      const std::span<const uint8_t> bytes = m->binary->bytes();
      if (file_offset <= bytes.size() && n <= bytes.size() - file_offset) {
        std::memcpy(out.data(), bytes.data() + file_offset, n);
        return ReadResult::kOk;
      }
    }
  }
  return ReadResult::kBadMemory;
}

}  // namespace dprof::unwind
