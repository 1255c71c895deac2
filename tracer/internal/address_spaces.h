// The address space of every process the tracer records, kept current from its records: what a
// user stack snapshot is unwound against.
//
//  - a process attached to (or met at its first sample) starts with its /proc/PID/maps;
//  - fork: the child starts with its parent's mappings of that moment;
//  - exec: an empty space, which the MMAP2 records that follow fill (the program, its loader,
//    every library): /proc is not read then, and may be gone by the first sample;
//  - mmap: a new space with the mapping added (spaces are values: a snapshot keeps the space it
//    was taken with while later records change the process's).
//
// Replaying recorded records (a perf.data file), there is nothing to read: the processes' pids
// name other processes now, or none. Without ReadMaps the records alone make the spaces, and
// their files are never opened through a pid's /proc entries.
//
// Context: the tracer's reader thread only. The spaces handed out may be read from any thread.
#ifndef DPROF_TRACER_INTERNAL_ADDRESS_SPACES_H_
#define DPROF_TRACER_INTERNAL_ADDRESS_SPACES_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "dprof/event/event.h"
#include "dprof/unwind/address_space.h"
#include "dprof/unwind/binary.h"

namespace dprof::tracer::internal {

class AddressSpaces {
 public:
  // Reads a process's mappings now (unwind::AddressSpace::FromProc, or a test's); null for
  // recorded records.
  using ReadMaps = std::function<absl::StatusOr<unwind::AddressSpace>(uint32_t pid)>;
  // Announces mappings read from /proc (the tracer tells its sink, as perf synthesizes them).
  using Announce = absl::FunctionRef<void(uint32_t pid, const unwind::AddressSpace& space)>;

  // `binaries` must outlive every space handed out.
  AddressSpaces(unwind::BinaryCache* binaries, ReadMaps read_maps);

  // A process attached to: its mappings now. False (nothing changed) when they cannot be read.
  bool Attach(uint32_t pid, Announce announce);
  // A command the tracer launched, before its exec: an empty space, read at its first sample.
  void Launched(uint32_t pid);
  // The process exec'd a new program.
  void Exec(uint32_t pid);
  // Process `child` was forked by `parent`.
  void Fork(uint32_t parent, uint32_t child);
  // An executable mapping appeared in `m.pid`.
  void Map(const event::Mmap2Record& m);

  // The space to unwind a sample of `pid` against. A process never read (met system-wide, or a
  // launched command) has its /proc maps read first and announced; one that has exited but is
  // not reaped reads as no mappings, and keeps what its records said.
  std::shared_ptr<const unwind::AddressSpace> For(uint32_t pid, Announce announce);
  // The last space of `pid` (kept after it exits), or nullptr.
  std::shared_ptr<const unwind::AddressSpace> Of(uint32_t pid) const;

 private:
  std::shared_ptr<unwind::AddressSpace> Empty(uint32_t pid) const;

  unwind::BinaryCache* binaries_;
  ReadMaps read_maps_;
  absl::flat_hash_map<uint32_t, std::shared_ptr<const unwind::AddressSpace>> spaces_;
  absl::flat_hash_set<uint32_t> synced_;  // processes whose maps were read, or need not be
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_ADDRESS_SPACES_H_
