// dprof::profile::ProcessHistory — a recording's processes as the kernel saw them, at any moment:
// which recorded mapping held an address, and what a thread was called.
//
// A process's address space begins at exec (a COMM with the exec flag: nothing of the old program
// survives) or at fork (the child has exactly its parent's mappings of that moment), and then
// changes with every mapping recorded for it. The kernel sends no MMAP2 record for what a child
// inherits, so an address of a forked child that none of its own mappings holds is looked up in
// its parent's space as it was at the fork (and, failing that, as it is now: a clone(CLONE_VM)
// child shares its parent's later mappings). A pid reused by a later process starts over at that
// process's fork or exec. Within one space the latest mapping of an address at the moment asked
// wins (the kernel sends no munmap record: a new mapping over old ones replaces them), so code
// unloaded and other code loaded at the same address are told apart by time.
//
// An exec swaps the address space before the thread leaves the old program: between the COMM
// record that announces the exec and the moment the kernel points the registers at the new
// program, a sample taken in the kernel still holds the old program's user registers (inside
// execve in its libc). So an address of a sample in the kernel that the new space has no mapping
// for is looked up in the space the process had just before the exec, as it was then.
//
// A thread's name is its latest COMM at the moment asked; before any, the name its creator had
// when it was made (the kernel copies it at clone); a thread never named has its process's.
//
// Example:
//   ProcessHistory history(recording);
//   const uint32_t m = history.MappingAt(e.pid, e.time_ns, pc);  // index into mappings, or
//   const Symbol* s = recording.SymbolAt(e.pid, m, pc);           // kNoMapping
//   const std::string& comm = history.NameAt(e.pid, e.tid, e.time_ns);
//
// Cost: building sorts the recording's task records and mappings once; a fork adds one entry
// and copies nothing. A lookup is a binary search in each space along the fork chain, plus a
// walk over the mappings that overlap the address (ld.so maps a library whole, then its segments
// over it: a handful).
//
// Context: a plain value; const methods from any thread. Keeps a pointer to the recording, which
// must outlive it and not change meanwhile.
#ifndef DPROF_PROFILE_PROCESS_HISTORY_H_
#define DPROF_PROFILE_PROCESS_HISTORY_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dprof/profile/recording.h"

namespace dprof::profile {

class ProcessHistory {
 public:
  explicit ProcessHistory(const Recording& recording);

  // The index in recording.mappings of the mapping that held `address` in process `pid` at
  // `time_ns`, or kNoMapping. A mapping recorded after the moment asked counts when no earlier
  // one holds the address: mappings read from /proc when a process is first seen are stamped
  // when they were read, which can be after its first sample. `in_kernel`: the event interrupted
  // the kernel (Event::user_mode false), so its user addresses may still be the old program's
  // just after an exec.
  uint32_t MappingAt(uint32_t pid, uint64_t time_ns, uint64_t address,
                     bool in_kernel = false) const;

  // The name of thread `tid` of process `pid` at `time_ns`; empty when nothing names it. The
  // idle task (tid 0) is "swapper".
  const std::string& NameAt(uint32_t pid, uint32_t tid, uint64_t time_ns) const;
  // Every thread's latest name (tid -> name).
  absl::flat_hash_map<uint32_t, std::string> LatestNames() const;

  // Address spaces the history holds (a statistic: one per exec, fork and process first seen).
  size_t spaces() const { return spaces_.size(); }

 private:
  struct Space {
    uint64_t start_ns = 0;  // the exec or fork that began it; 0: before the recording
    int32_t parent = -1;    // the space it was forked from
    uint64_t fork_ns = 0;
    int32_t before_exec = -1;             // begun by an exec: the process's space just before it
    std::vector<uint32_t> by_start = {};  // its own mappings, by start address
    std::vector<uint64_t> max_end = {};   // the highest end among by_start[0..i]
  };
  // (time, name) changes of one thread, in time order.
  using Names = std::vector<std::pair<uint64_t, const std::string*>>;

  // The space of `pid` at `time_ns`, or -1.
  int32_t SpaceAt(uint32_t pid, uint64_t time_ns) const;
  // The mapping holding `address` in `space` at `time_ns`, then in each space it was forked from
  // as it was at the fork: the latest recorded at or before the moment, and the earliest after it
  // (each kNoMapping when none).
  std::pair<uint32_t, uint32_t> MappingAlong(int32_t space, uint64_t time_ns,
                                             uint64_t address) const;
  // Of `space`'s own mappings holding `address`: the latest recorded at or before `time_ns`, and
  // the earliest after it (each kNoMapping when none).
  std::pair<uint32_t, uint32_t> OwnMappingAt(const Space& space, uint64_t time_ns,
                                             uint64_t address) const;
  const std::string* NameIn(const Names& names, uint64_t time_ns) const;

  const Recording* recording_;
  std::vector<Space> spaces_;
  absl::flat_hash_map<uint32_t, std::vector<int32_t>> spaces_of_;  // by pid, in time order
  absl::flat_hash_map<uint32_t, Names> names_;                     // by tid
};

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_PROCESS_HISTORY_H_
