// dprof::profile::internal::EventSites — a recording's events reduced to what naming their
// frames needs, for a recorder that does not keep the events themselves.
//
// Naming an event's frames (SymbolizeRecording) depends on its process, its kernel stack, its
// user stack (inline, or its cookie's) and its time, and on the time only through which recorded
// mappings held each address then (ProcessHistory::MappingAt). That changes only at the moments
// the process's, or an ancestor's, address space changed: a mapping, a fork into it, an exec. So
// one event per (process, kernel stack, user stack, whether it interrupted user code: just after
// an exec, a sample in the kernel may hold the old program's addresses), with the first and last
// time it was seen, stands for all of them: Representatives() gives that event at its first time
// and again at every such moment within its span, and symbolizing those names exactly the (mapping,
// address) pairs that symbolizing every event would.
//
// An event whose cookie's user stack has not arrived yet waits for it (Arrived()); one whose
// stack never arrives keeps only its kernel stack, as a reader finds it.
//
// Example:
//   EventSites sites;
//   sites.Arrived(new_user_stacks);                 // as user stacks are kept
//   sites.Add(events, kept.user_stacks);            // as events are written
//   kept.events = sites.Representatives(kept);      // then SymbolizeRecording(kept, ...)
//
// Memory: one entry per distinct site, plus the events still waiting for a user stack.
//
// Context: a plain value; not thread-safe.
#ifndef DPROF_PROFILE_INTERNAL_EVENT_SITES_H_
#define DPROF_PROFILE_INTERNAL_EVENT_SITES_H_

#include <cstdint>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dprof/profile/recording.h"

namespace dprof::profile::internal {

class EventSites {
 public:
  using UserStacks = absl::flat_hash_map<cookie::Cookie, UserStackEntry>;

  // Adds `events`; a deferred one's user stack is looked up in `user_stacks` (the cookies' stacks
  // that arrived so far), else it waits for Arrived().
  void Add(std::span<const Event> events, const UserStacks& user_stacks);
  // User stacks that just arrived: the events that waited for them are added.
  void Arrived(std::span<const std::pair<cookie::Cookie, UserStackEntry>> stacks);

  // One event per site and per moment its process's address space may have changed within the
  // site's span, by the mappings, tasks and thread names of `timeline`; user stacks inline.
  // Events still waiting keep their kernel stacks only.
  std::vector<Event> Representatives(const Recording& timeline) const;

  size_t sites() const { return sites_.size(); }
  size_t waiting() const;

 private:
  // Process, kernel stack, user stack, user mode.
  using Key = std::tuple<uint32_t, StackId, StackId, bool>;
  struct Span {
    uint64_t first_ns;
    uint64_t last_ns;
  };

  void AddSite(const Event& e, StackId user_stack);

  absl::flat_hash_map<Key, Span> sites_;
  absl::flat_hash_map<cookie::Cookie, std::vector<Event>> waiting_;  // by the cookie waited for
};

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_EVENT_SITES_H_
