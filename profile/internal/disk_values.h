// The numbers a recording stores for in-memory enums (event::EventKind, event::UserStack,
// unwind::StopReason), fixed forever: reordering or adding an enumerator must not change what an
// old file means. Each table is a switch without a default, so an enumerator with no number here
// does not compile (-Werror=switch); a number once used is never given to another value.
// docs/recording-format.md lists the tables.
//
// Context: pure functions; any thread.
#ifndef DPROF_PROFILE_INTERNAL_DISK_VALUES_H_
#define DPROF_PROFILE_INTERNAL_DISK_VALUES_H_

#include <cstdint>
#include <optional>

#include "dprof/event/event.h"
#include "dprof/unwind/unwinder.h"

namespace dprof::profile::internal {

// The number stored for each value; a *FromDisk of anything else is nullopt (a damaged file).
uint8_t ToDisk(event::EventKind kind);
std::optional<event::EventKind> EventKindFromDisk(uint8_t value);
uint8_t ToDisk(event::UserStack user);
std::optional<event::UserStack> UserStackFromDisk(uint8_t value);
// StopReason::kCount is no reason and is never stored.
uint8_t ToDisk(unwind::StopReason reason);
std::optional<unwind::StopReason> StopReasonFromDisk(uint8_t value);

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_DISK_VALUES_H_
