#include "dprof/unwind/unwinder.h"

namespace dprof::unwind {

std::string_view StopReasonName(StopReason reason) {
  static constexpr std::string_view kNames[kNumStopReasons] = {
      "outermost frame", "out of stack bytes", "no unwind info",
      "bad memory",      "loop detected",      "frame limit",
  };
  const int i = static_cast<int>(reason);
  return i >= 0 && i < kNumStopReasons ? kNames[i] : "unknown";
}

StopReason StopReasonForRead(ReadResult result) {
  return result == ReadResult::kOutOfStack ? StopReason::kOutOfStack : StopReason::kBadMemory;
}

}  // namespace dprof::unwind
