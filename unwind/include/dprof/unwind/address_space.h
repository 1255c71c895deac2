// dprof::unwind::AddressSpace — what a process has mapped where.
//
// Built from /proc/PID/maps when dprof attaches and kept current from perf's MMAP2 records (and
// munmap, where known). Each file-backed mapping of an ELF file points at its Binary (shared
// through a BinaryCache) and knows its load bias, so an address turns into a file and an ELF
// virtual address in one binary search.
//
// An AddressSpace is a plain value. Unwinder workers must see a stable one while the tracer
// applies new MMAP2 records, so the tracer copies, changes, and publishes a new
// std::shared_ptr<const AddressSpace>; snapshots keep the version they were taken with.
//
// Example:
//   BinaryCache binaries;
//   absl::StatusOr<AddressSpace> space = AddressSpace::FromProc(pid, &binaries);
//   const Mapping* m = space->Find(pc);
//   if (m && m->binary) elf_vaddr = pc - m->bias;
//
// Context: a plain value. Its const methods (Find(), mappings(), id()) run on any thread while no
// thread changes it, and neither allocate nor lock. Everything else allocates (FromProc(),
// AddMaps() and Map() also open files through the BinaryCache, which is thread-safe): one thread
// at a time per AddressSpace; not async-signal-safe. Ids come from one process-wide atomic
// counter, so versions made on different threads never share an id.
#ifndef DPROF_UNWIND_ADDRESS_SPACE_H_
#define DPROF_UNWIND_ADDRESS_SPACE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/unwind/binary.h"

namespace dprof::unwind {

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;       // exclusive
  uint64_t pgoff = 0;     // file offset of `start`
  uint32_t prot = 0;      // PROT_READ | PROT_WRITE | PROT_EXEC
  std::string path = {};  // file path; "[stack]", "[vdso]", ... or empty for anonymous memory
  // Build-id from PERF_RECORD_MMAP2 when the kernel gave one; else the Binary's.
  std::string build_id = {};
  // The ELF file, when `path` is one dprof could open; nullptr otherwise.
  std::shared_ptr<const Binary> binary = nullptr;
  // ELF virtual address = address - bias (meaningful when binary is set).
  uint64_t bias = 0;
  // The bytes are the file's: a read-only segment, not relocated data made read-only (RELRO).
  bool file_contents = false;

  bool executable() const;
  bool Contains(uint64_t address) const { return address >= start && address < end; }
};

// Makes `binary` the file of `mapping`: sets its Binary, build-id (when unknown), load bias and
// file_contents. False, and `mapping` unchanged, when the build-ids differ (the file was replaced
// after it was mapped) or no segment of the file is what the mapping maps. AddressSpace::Map()
// does this for the files it opens; callers with a file of their own (the vDSO's image) use it.
bool BindBinary(Mapping& mapping, std::shared_ptr<const Binary> binary);

class AddressSpace {
 public:
  // `binaries` (may be null: no mapping gets a Binary) must outlive the address space. `root`
  // prefixes every file path when opening it: "/proc/PID/root" reaches a process in another mount
  // namespace. `pid` (0: none) is the process whose /proc/PID/map_files opens a mapping's file
  // when its path no longer does (deleted, or replaced since it was mapped).
  explicit AddressSpace(BinaryCache* binaries, std::string root = "", pid_t pid = 0);
  // A copy is a new version, with an id of its own.
  AddressSpace(const AddressSpace& other);
  AddressSpace& operator=(const AddressSpace& other);
  AddressSpace(AddressSpace&&) = default;
  AddressSpace& operator=(AddressSpace&&) = default;

  // Reads /proc/PID/maps; fails with NotFound when the process does not exist, PermissionDenied
  // when it may not be read.
  static absl::StatusOr<AddressSpace> FromProc(pid_t pid, BinaryCache* binaries);

  // Adds every line of a /proc/PID/maps text. Fails on the first malformed line, naming it.
  absl::Status AddMaps(std::string_view maps_text);

  // Adds a mapping (PERF_RECORD_MMAP2): whatever it overlaps is cut away first, as mmap does.
  // Opens its file through the cache and computes its bias when `binary` is not set. An empty or
  // inverted range is ignored.
  void Map(Mapping mapping);
  // Removes [start, end), cutting partially covered mappings.
  void Unmap(uint64_t start, uint64_t end);
  // Opens `mapping`'s file as Map() does (through this space's root and /proc/PID/map_files) and
  // binds it (BindBinary), when its Binary is not set: for callers that keep mappings of their
  // own. Leaves it unbound when no file fits.
  void ResolveBinary(Mapping& mapping) const;

  // The mapping containing `address`, or nullptr.
  const Mapping* Find(uint64_t address) const;
  std::span<const Mapping> mappings() const { return mappings_; }

  // Names this version of the file-backed mappings: unique within the process, new after every
  // copy and every change that maps or unmaps file-backed memory (anonymous memory, the heap and
  // stacks come and go without changing it). Unwinders key their per-address-space state by it.
  uint64_t id() const { return id_; }

 private:
  static uint64_t NewId();

  BinaryCache* binaries_;
  std::string root_;
  pid_t pid_ = 0;
  std::vector<Mapping> mappings_;  // sorted by start, non-overlapping
  uint64_t id_ = NewId();
};

}  // namespace dprof::unwind

#endif  // DPROF_UNWIND_ADDRESS_SPACE_H_
