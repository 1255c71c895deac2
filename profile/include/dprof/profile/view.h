// dprof::profile::View — a recording's events as symbolized full stacks with weights: what
// every view (report, folded, flame graphs, pprof, speedscope) draws.
//
// Each event is stitched (kernel half + its cookie's user half, or the pseudo-frame saying why
// the user half is missing), each address becomes its symbol's frames (inlined calls unfolded,
// "[unknown] (module+0xoffset)" when nothing names it), and equal stacks are merged, their
// weights and event counts summed. Frames keep function, module, source file and line: views that
// draw by function merge frames of the same name.
//
// Example:
//   View p = View::Build(recording, {.events = {0}, .pids = {1234}});
//   for (const View::Stack& s : p.stacks())
//     for (uint32_t f : s.frames) p.frame(f).name;  // root first
//
// Context: a plain value; const methods from any thread.
#ifndef DPROF_PROFILE_VIEW_H_
#define DPROF_PROFILE_VIEW_H_

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dprof/profile/recording.h"
#include "dprof/profile/stitch.h"

namespace dprof::profile {

struct ViewOptions {
  std::set<uint32_t> events = {};    // indices into Recording::event_names; empty: all
  std::set<uint32_t> pids = {};      // empty: all
  std::set<uint32_t> tids = {};      // empty: all
  std::set<std::string> comms = {};  // thread names; empty: all
  bool kernel = true;                // kernel frames; without them, kernel-only stacks vanish
  bool user = true;                  // user frames (and orphan pseudo-frames)
  bool thread_root = false;          // a root frame naming the thread (comm), as perf's collapse
  bool by_thread = false;            // stacks kept apart by thread: Stack::pid, tid and comm set
  bool keep_events = false;          // View::events(): each event shown and its stack, in order
};

// Why a user frame has no function name.
enum class Unnamed : uint8_t {
  kUnmapped,   // no recorded mapping held the address at the event's moment
  kAnonymous,  // anonymous executable memory: generated code no perf map names
  kDeleted,    // a file deleted after it was mapped, which could not be read any more
  kNoSymbols,  // a file with no symbol covering the address (stripped, or unreadable)
  kCount,
};
inline constexpr int kNumUnnamed = static_cast<int>(Unnamed::kCount);
// "no mapping", "anonymous executable memory", "deleted file", "no symbols".
std::string_view UnnamedReason(Unnamed reason);

// The user frames of a profile's events that nothing names, by reason: the next naming bug shows
// in the report's stats instead of hiding in the tail.
struct UnnamedCounts {
  uint64_t user_frames = 0;  // all user frames of the events
  std::array<uint64_t, kNumUnnamed> frames{};
  // The first event with a frame in no mapping.
  uint32_t first_pid = 0;
  uint64_t first_time_ns = 0;
  // By reason, the frames of each module (files: kNoSymbols, kDeleted).
  std::array<absl::flat_hash_map<std::string, uint64_t>, kNumUnnamed> modules{};

  uint64_t unnamed() const;
  uint64_t operator[](Unnamed reason) const { return frames[static_cast<int>(reason)]; }
};

// What a profile's weights count.
enum class WeightUnit : uint8_t { kNanoseconds, kOffCpuNanoseconds, kCount };

// Whether a recorded event's weights are nanoseconds (the clocks, off-CPU time) rather than
// counts: a profile mixing both kinds adds unlike things.
bool WeighsTime(std::string_view event_name);

// The events a view shows when asked for none: the first recorded event, with the off-CPU
// intervals when the recording was made for a wall-clock view (metadata "wall").
std::set<uint32_t> DefaultEvents(const Recording& recording);
// The name of the off-CPU intervals among a recording's event names.
inline constexpr std::string_view kOffCpuEvent = "off-cpu";

// Each thread's latest name (ProcessHistory::LatestNames); a thread never named, its process's.
// Views name each event's thread as it was at the event (ProcessHistory::NameAt).
absl::flat_hash_map<uint32_t, std::string> ThreadNames(const Recording& recording);

class View {
 public:
  enum class FrameKind : uint8_t {
    kUser,
    kKernel,
    kOrphan,  // the user half is missing: the name says why
    kThread,  // the thread_root frame
  };
  struct Frame {
    std::string name = {};  // function; "[unknown] (module+0x...)"; pseudo-frame text; comm
    std::string module = {};
    std::string file = {};
    uint32_t line = 0;
    bool inlined = false;
    bool deleted = false;  // the module's file was deleted
    FrameKind kind = FrameKind::kUser;

    bool operator==(const Frame&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Frame& f) {
      return H::combine(std::move(h), f.name, f.module, f.file, f.line, f.inlined, f.deleted,
                        f.kind);
    }
  };
  // One address of one stack (or a pseudo-frame): the frames of its symbol, an inlined call's
  // frames after the frame of the function it was inlined into.
  struct Location {
    std::vector<uint32_t> frames = {};  // into frames(), outermost first
    std::string module = {};            // empty for pseudo-frames
    uint64_t offset = 0;                // in the module (ELF virtual address for files)
    uint64_t address = 0;               // as the stack holds it (0 for pseudo-frames)
    uint32_t mapping = kNoMapping;      // the recorded mapping that held it (Recording::mappings)
    std::optional<uint64_t> function_offset = {};  // Symbol::function_offset
  };
  struct Stack {
    std::vector<uint32_t> frames = {};     // into frames(), root (outermost) first
    std::vector<uint32_t> locations = {};  // into locations(), root first
    uint64_t weight = 0;
    uint64_t count = 0;  // events
    // With ViewOptions::by_thread: the thread of the stack's events, named as it was then.
    uint32_t pid = 0;
    uint32_t tid = 0;
    std::string comm = {};
  };

  // With ViewOptions::keep_events: an event the view shows, and its stack.
  struct EventStack {
    uint32_t event = 0;  // into Recording::events
    uint32_t stack = 0;  // into stacks()
  };

  static View Build(const Recording& recording, const ViewOptions& options = {});

  const std::vector<Frame>& frames() const { return frames_; }
  const Frame& frame(uint32_t id) const { return frames_[id]; }
  const std::vector<Location>& locations() const { return locations_; }
  // Distinct stacks, in the order first seen.
  const std::vector<Stack>& stacks() const { return stacks_; }
  // With ViewOptions::keep_events: every event shown, in the recording's order.
  const std::vector<EventStack>& events() const { return events_; }
  uint64_t total_weight() const { return total_weight_; }
  uint64_t total_count() const { return total_count_; }
  // Of the events in the profile (after its filters).
  const StitchCounts& stitch_counts() const { return stitch_counts_; }
  const UnnamedCounts& unnamed_counts() const { return unnamed_counts_; }
  // Nanoseconds when every event in it is a clock or off-CPU time, else counts.
  WeightUnit unit() const { return unit_; }

 private:
  std::vector<Frame> frames_;
  std::vector<Location> locations_;
  std::vector<Stack> stacks_;
  std::vector<EventStack> events_;
  uint64_t total_weight_ = 0;
  uint64_t total_count_ = 0;
  StitchCounts stitch_counts_;
  UnnamedCounts unnamed_counts_;
  WeightUnit unit_ = WeightUnit::kCount;
};

// The text of an address nothing names: "[unknown] (libfoo.so+0x1a2b)", "[unknown] (0x7f12...)".
std::string UnknownFrame(const Symbol* symbol, uint64_t address);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_VIEW_H_
