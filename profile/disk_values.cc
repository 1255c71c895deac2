#include "profile/internal/disk_values.h"

namespace dprof::profile::internal {

using event::EventKind;
using event::UserStack;
using unwind::StopReason;

uint8_t ToDisk(EventKind kind) {
  switch (kind) {
    case EventKind::kSample:
      return 0;
    case EventKind::kTracepoint:
      return 1;
    case EventKind::kOffCpu:
      return 2;
  }
  return 0xff;
}

std::optional<EventKind> EventKindFromDisk(uint8_t value) {
  switch (value) {
    case 0:
      return EventKind::kSample;
    case 1:
      return EventKind::kTracepoint;
    case 2:
      return EventKind::kOffCpu;
  }
  return std::nullopt;
}

uint8_t ToDisk(UserStack user) {
  switch (user) {
    case UserStack::kDeferred:
      return 0;
    case UserStack::kInline:
      return 1;
    case UserStack::kNone:
      return 2;
    case UserStack::kDropped:
      return 3;
    case UserStack::kMissing:
      return 4;
  }
  return 0xff;
}

std::optional<UserStack> UserStackFromDisk(uint8_t value) {
  switch (value) {
    case 0:
      return UserStack::kDeferred;
    case 1:
      return UserStack::kInline;
    case 2:
      return UserStack::kNone;
    case 3:
      return UserStack::kDropped;
    case 4:
      return UserStack::kMissing;
  }
  return std::nullopt;
}

uint8_t ToDisk(StopReason reason) {
  switch (reason) {
    case StopReason::kOutermost:
      return 0;
    case StopReason::kOutOfStack:
      return 1;
    case StopReason::kNoUnwindInfo:
      return 2;
    case StopReason::kBadMemory:
      return 3;
    case StopReason::kLoop:
      return 4;
    case StopReason::kFrameLimit:
      return 5;
    case StopReason::kCount:
      break;
  }
  return 0xff;
}

std::optional<StopReason> StopReasonFromDisk(uint8_t value) {
  switch (value) {
    case 0:
      return StopReason::kOutermost;
    case 1:
      return StopReason::kOutOfStack;
    case 2:
      return StopReason::kNoUnwindInfo;
    case 3:
      return StopReason::kBadMemory;
    case 4:
      return StopReason::kLoop;
    case 5:
      return StopReason::kFrameLimit;
  }
  return std::nullopt;
}

}  // namespace dprof::profile::internal
