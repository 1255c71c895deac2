// dprof::unwind::Binary and BinaryCache — ELF files opened once and shared.
//
// Everything dprof learns about a binary (its build-id, its loadable segments, its bytes, the
// unwinders' per-binary tables) hangs off one Binary, opened once per file however many processes
// map it and however many samples need it. BinaryCache finds a file's Binary by build-id when one
// is known, else by the file's identity (device, inode, size, mtime).
//
// Example:
//   BinaryCache binaries;
//   std::shared_ptr<const Binary> libc = binaries.Open("/lib/x86_64-linux-gnu/libc.so.6");
//   if (libc) libc->build_id();
#ifndef DPROF_UNWIND_BINARY_H_
#define DPROF_UNWIND_BINARY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "dprof/sync/mutex.h"

typedef struct Elf Elf;  // libelf

namespace dprof::unwind {

struct Segment {  // a PT_LOAD program header
  uint64_t vaddr = 0, memsz = 0, offset = 0, filesz = 0, align = 0;
  uint32_t flags = 0;  // PF_R | PF_W | PF_X
};

// The .eh_frame_hdr binary search table (PT_GNU_EH_FRAME), in the layout unwinders can search
// in place: fde_count pairs of 4-byte offsets (initial location, FDE) relative to `vaddr`.
struct EhFrameHdr {
  uint64_t vaddr = 0;        // of .eh_frame_hdr
  uint64_t table_vaddr = 0;  // of its first table entry
  uint64_t fde_count = 0;
};

// An ELF file, read-only after Open().
// Context: every const method may be called from any thread.
class Binary {
 public:
  // Opens `path` and reads its headers. Fails when the file is missing, unreadable or not ELF.
  static absl::StatusOr<std::unique_ptr<Binary>> Open(const std::string& path);
  ~Binary();
  Binary(const Binary&) = delete;
  Binary& operator=(const Binary&) = delete;

  const std::string& path() const { return path_; }
  // Unique among the Binary objects of this process, never reused: a key for per-binary caches
  // that must not mistake a new Binary at a freed one's address for the old one.
  uint64_t id() const { return id_; }
  // NT_GNU_BUILD_ID bytes; empty when the file has none.
  const std::string& build_id() const { return build_id_; }
  std::span<const Segment> segments() const { return segments_; }
  // The whole file, mapped read-only.
  std::span<const uint8_t> bytes() const { return bytes_; }
  // A read-only descriptor of the file, open for the Binary's life. libelf handles are not
  // thread-safe and fill caches as they are read, so each user of libelf or libdw opens its own
  // from this (elf_begin(fd(), ELF_C_READ_MMAP, nullptr)) instead of sharing one.
  int fd() const { return fd_; }

  // The segment a mapping at file offset `pgoff` (page-aligned) with protection `prot`
  // (PROT_* bits) maps; nullptr if none. Where segments share a page (lld packs them without
  // padding), the one whose permissions match the mapping's is it.
  const Segment* SegmentFor(uint64_t pgoff, uint32_t prot) const;
  // The executable segment holding ELF virtual address `vaddr`; nullptr if none.
  const Segment* ExecutableSegmentAt(uint64_t vaddr) const;
  // The search table over .eh_frame, when the file has one in the searchable layout.
  const std::optional<EhFrameHdr>& eh_frame_hdr() const { return eh_frame_hdr_; }

  // Identity of the file on disk, for the cache.
  struct FileId {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const FileId& id) {
      return H::combine(std::move(h), id.dev, id.ino, id.size, id.mtime_ns);
    }
  };
  const FileId& file_id() const { return file_id_; }

 private:
  Binary() = default;

  uint64_t id_ = 0;
  std::string path_;
  std::string build_id_;
  std::vector<Segment> segments_;
  std::optional<EhFrameHdr> eh_frame_hdr_;
  std::span<const uint8_t> bytes_;
  FileId file_id_;
  int fd_ = -1;
  Elf* elf_ = nullptr;
};

// Context: thread-safe; Open() of a file not yet seen reads it under the cache's lock.
class BinaryCache {
 public:
  // The Binary for `path`: the cached one if the same file (or a file with the same build-id) was
  // opened before; nullptr when it cannot be opened or is not ELF (also remembered). A path that
  // no longer exists names the file last opened under it: mappings made before the file was
  // deleted still hold that one.
  std::shared_ptr<const Binary> Open(const std::string& path) ABSL_LOCKS_EXCLUDED(mu_);
  // Opens `file` as Open() does, remembering it under `path` too: a file reached another way
  // (a process's /proc/PID/map_files entry for a deleted file) under the path it was mapped from.
  std::shared_ptr<const Binary> OpenAs(const std::string& file, const std::string& path)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The Binary whose build-id is `build_id`: one opened before under any path, else `path` when
  // its build-id matches; nullptr otherwise. For files whose usual path is no longer reachable
  // (the /proc/PID/root of a process that has exited).
  std::shared_ptr<const Binary> OpenBuildId(const std::string& path, const std::string& build_id)
      ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable sync::Mutex mu_;
  absl::flat_hash_map<Binary::FileId, std::shared_ptr<const Binary>> by_file_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<const Binary>> by_build_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<const Binary>> by_path_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dprof::unwind

#endif  // DPROF_UNWIND_BINARY_H_
