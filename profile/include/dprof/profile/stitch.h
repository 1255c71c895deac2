// dprof::profile::Stitch — an event's full stack: its kernel frames, then the user frames of its
// cookie.
//
// Works the same for cookies dprof made and cookies the kernel made (native deferred
// callchains), for a recording read from a file and one being filled while recording. An event
// whose user half never came (the snapshot was dropped, the task exited before its unwind, the
// unwind found nothing) keeps its kernel half and says why: `orphan`, shown as a pseudo-frame by
// every view and counted in the report, so nothing silently vanishes.
//
// Example:
//   StitchCounts counts;
//   for (const Event& e : recording.events) {
//     StitchedStack s = Stitch(recording, e);
//     counts.Add(s);
//     // s.kernel (innermost first), then s.user; OrphanFrame(s.orphan) when it is set.
//   }
//
// Context: any thread. Stitch() and OrphanFrame() neither allocate nor lock; Stitch() reads the
// recording and its spans point into it, so no thread may change the recording meanwhile (they
// stay valid until its stacks change). A StitchCounts is a plain value, not synchronized.
#ifndef DPROF_PROFILE_STITCH_H_
#define DPROF_PROFILE_STITCH_H_

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "dprof/profile/recording.h"

namespace dprof::profile {

// Why an event that should have a user half has none.
enum class Orphan : uint8_t {
  kNone,            // not an orphan (or no user context at all: a kernel thread)
  kDropped,         // the unwind queue was full when the snapshot was taken
  kNoSnapshot,      // the sample carried no user registers or stack
  kNeverDelivered,  // the cookie's stack never arrived: the task exited first, or the
                    // recording was cut short
  kUnwindFailed,    // the unwind ran and found no frame
  kStackLost,       // the recording names a stack it does not hold (damaged or cut short)
  kCount,
};
inline constexpr int kNumOrphans = static_cast<int>(Orphan::kCount);

// "[user stack dropped: unwind queue full]", ...; empty for kNone.
std::string_view OrphanFrame(Orphan orphan);

struct StitchedStack {
  std::span<const uint64_t> kernel = {};  // innermost first
  std::span<const uint64_t> user = {};    // innermost first; the caller of kernel.back()
  Orphan orphan = Orphan::kNone;
  bool kernel_lost = false;  // the event names a kernel stack the recording does not hold
};

StitchedStack Stitch(const Recording& recording, const Event& event);

struct StitchCounts {
  uint64_t events = 0;
  uint64_t stitched = 0;     // with a user half from a cookie (deferred or native)
  uint64_t inline_user = 0;  // with a user half walked by the kernel (frame pointers)
  std::array<uint64_t, kNumOrphans> orphans{};

  void Add(const StitchedStack& s, const Event& e);
  uint64_t orphaned(Orphan o) const { return orphans[static_cast<int>(o)]; }
};

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_STITCH_H_
