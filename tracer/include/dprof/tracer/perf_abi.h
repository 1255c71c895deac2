// The parts of the perf_event ABI dprof needs that the installed <linux/perf_event.h> may lack.
//
// Native deferred user callchains arrived in Linux 6.19; Debian 12's headers are 6.1. The values
// below are the kernel's (include/uapi/linux/perf_event.h), defined here so dprof builds against
// old headers and still speaks to new kernels.
//
// Context: constants, and inline functions of their arguments only: any thread; no allocation;
// async-signal-safe.
#ifndef DPROF_TRACER_PERF_ABI_H_
#define DPROF_TRACER_PERF_ABI_H_

#include <linux/perf_event.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace dprof::tracer::abi {

// A sample's callchain carries this marker and then the cookie instead of the user frames; the
// frames come later in a PERF_RECORD_CALLCHAIN_DEFERRED record with the same cookie.
inline constexpr uint64_t kContextUserDeferred = static_cast<uint64_t>(-640);

// struct { header; u64 cookie; u64 nr; u64 ips[nr]; struct sample_id sample_id; }
inline constexpr uint32_t kRecordCallchainDeferred = 22;

// Bits of the flags word of perf_event_attr (the bitfield after read_format), counted from
// `disabled` = 0. defer_callchain follows sigtrap (bit 37).
inline constexpr int kAttrBitDeferCallchain = 38;
inline constexpr int kAttrBitDeferOutput = 39;

// The flags bitfield starts right after read_format.
inline constexpr size_t kAttrFlagsOffset = offsetof(perf_event_attr, read_format) + 8;

// Sets bit `bit` of `attr`'s flags word, for flags the installed header has no name for.
inline void SetAttrFlag(perf_event_attr& attr, int bit) {
  uint64_t flags;
  std::memcpy(&flags, reinterpret_cast<const char*>(&attr) + kAttrFlagsOffset, sizeof(flags));
  flags |= uint64_t{1} << bit;
  std::memcpy(reinterpret_cast<char*>(&attr) + kAttrFlagsOffset, &flags, sizeof(flags));
}
inline bool AttrFlag(const perf_event_attr& attr, int bit) {
  uint64_t flags;
  std::memcpy(&flags, reinterpret_cast<const char*>(&attr) + kAttrFlagsOffset, sizeof(flags));
  return (flags >> bit) & 1;
}

// The x86-64 user registers dprof samples (PERF_SAMPLE_REGS_USER), in perf's numbering
// (arch/x86/include/uapi/asm/perf_regs.h): ax bx cx dx si di bp sp ip, and r8..r15.
enum PerfReg : int {
  kPerfRegAx = 0,
  kPerfRegBx = 1,
  kPerfRegCx = 2,
  kPerfRegDx = 3,
  kPerfRegSi = 4,
  kPerfRegDi = 5,
  kPerfRegBp = 6,
  kPerfRegSp = 7,
  kPerfRegIp = 8,
  kPerfRegR8 = 16,
  kPerfRegR15 = 23,
};
inline constexpr uint64_t kUserRegsMask = 0x1ffull | (0xffull << kPerfRegR8);

// PERF_SAMPLE_REGS_USER's abi word: no registers (a kernel thread), or the 64-bit set.
inline constexpr uint64_t kRegsAbiNone = 0;
inline constexpr uint64_t kRegsAbi64 = 2;

}  // namespace dprof::tracer::abi

#endif  // DPROF_TRACER_PERF_ABI_H_
