#include "tracer/internal/callchain.h"

#include <linux/perf_event.h>

#include <array>

#include "dprof/tracer/perf_abi.h"

namespace dprof::tracer::internal {
namespace {

bool IsMarker(uint64_t word) { return word >= static_cast<uint64_t>(PERF_CONTEXT_MAX); }

}  // namespace

Callchain SplitCallchain(std::span<const uint64_t> chain) {
  Callchain out;
  size_t i = 0;
  while (i < chain.size()) {
    const uint64_t marker = chain[i++];
    if (!IsMarker(marker)) continue;  // frames before any marker belong to no known context
    if (marker == abi::kContextUserDeferred) {
      if (i < chain.size()) out.deferred_cookie = chain[i++];
      continue;
    }
    size_t end = i;
    while (end < chain.size() && !IsMarker(chain[end])) ++end;
    if (marker == static_cast<uint64_t>(PERF_CONTEXT_KERNEL)) {
      out.kernel = chain.subspan(i, end - i);
    } else if (marker == static_cast<uint64_t>(PERF_CONTEXT_USER)) {
      out.user = chain.subspan(i, end - i);
    }
    i = end;
  }
  return out;
}

size_t StripMarkers(std::span<const uint64_t> chain, std::span<uint64_t> out) {
  size_t n = 0;
  for (uint64_t word : chain) {
    if (IsMarker(word) || n == out.size()) continue;
    out[n++] = word;
  }
  return n;
}

unwind::Registers ToDwarfRegisters(const SampleRecord& sample) {
  // DWARF number of each perf register dprof samples (perf_abi.h).
  struct Pair {
    int perf;
    int dwarf;
  };
  static constexpr std::array<Pair, 17> kMap = {{
      {abi::kPerfRegAx, unwind::kRax},
      {abi::kPerfRegBx, unwind::kRbx},
      {abi::kPerfRegCx, unwind::kRcx},
      {abi::kPerfRegDx, unwind::kRdx},
      {abi::kPerfRegSi, unwind::kRsi},
      {abi::kPerfRegDi, unwind::kRdi},
      {abi::kPerfRegBp, unwind::kRbp},
      {abi::kPerfRegSp, unwind::kRsp},
      {abi::kPerfRegIp, unwind::kRip},
      {abi::kPerfRegR8, unwind::kR8},
      {abi::kPerfRegR8 + 1, unwind::kR9},
      {abi::kPerfRegR8 + 2, unwind::kR10},
      {abi::kPerfRegR8 + 3, unwind::kR11},
      {abi::kPerfRegR8 + 4, unwind::kR12},
      {abi::kPerfRegR8 + 5, unwind::kR13},
      {abi::kPerfRegR8 + 6, unwind::kR14},
      {abi::kPerfRegR15, unwind::kR15},
  }};
  unwind::Registers regs;
  if (sample.regs_abi == abi::kRegsAbiNone) return regs;
  for (const Pair& p : kMap) {
    uint64_t value;
    if (sample.Reg(p.perf, &value)) regs.Set(p.dwarf, value);
  }
  return regs;
}

event::UserStack UserStackOf(unwind::RequestStatus status) {
  switch (status) {
    case unwind::RequestStatus::kQueued:
    case unwind::RequestStatus::kAlreadyPending:
      return event::UserStack::kDeferred;
    case unwind::RequestStatus::kDropped:
      return event::UserStack::kDropped;
    case unwind::RequestStatus::kCanceled:
    case unwind::RequestStatus::kNoCookie:
      break;
  }
  return event::UserStack::kMissing;
}

}  // namespace dprof::tracer::internal
