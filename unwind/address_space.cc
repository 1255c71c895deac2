#include "dprof/unwind/address_space.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dprof::unwind {

bool Mapping::executable() const { return (prot & PROT_EXEC) != 0; }

AddressSpace::AddressSpace(BinaryCache* binaries, std::string root, pid_t pid)
    : binaries_(binaries), root_(std::move(root)), pid_(pid) {}

AddressSpace::AddressSpace(const AddressSpace& other)
    : binaries_(other.binaries_),
      root_(other.root_),
      pid_(other.pid_),
      mappings_(other.mappings_) {}

AddressSpace& AddressSpace::operator=(const AddressSpace& other) {
  binaries_ = other.binaries_;
  root_ = other.root_;
  pid_ = other.pid_;
  mappings_ = other.mappings_;
  id_ = NewId();
  return *this;
}

uint64_t AddressSpace::NewId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

absl::StatusOr<AddressSpace> AddressSpace::FromProc(pid_t pid, BinaryCache* binaries) {
  const std::string path = absl::StrCat("/proc/", pid, "/maps");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat("process ", pid, " does not exist"));
    return absl::PermissionDeniedError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(err)));
  }
  std::string text;
  char buf[16384];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return absl::UnavailableError(absl::StrCat("reading ", path, ": ", std::strerror(err)));
    }
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  AddressSpace space(binaries, pid == getpid() ? "" : absl::StrCat("/proc/", pid, "/root"), pid);
  if (absl::Status status = space.AddMaps(text); !status.ok()) return status;
  return space;
}

absl::Status AddressSpace::AddMaps(std::string_view maps_text) {
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(
           absl::string_view(maps_text.data(), maps_text.size()), '\n', absl::SkipEmpty())) {
    ++line_number;
    // 55d0c0de0000-55d0c0de1000 r-xp 00001000 fd:01 1234567    /usr/bin/foo
    const std::string text(line);
    Mapping m;
    char perms[5] = {};
    unsigned dev_major = 0, dev_minor = 0;
    uint64_t inode = 0;
    int path_at = 0;
    if (std::sscanf(text.c_str(), "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
                    &m.start, &m.end, perms, &m.pgoff, &dev_major, &dev_minor, &inode,
                    &path_at) < 7 ||
        m.end <= m.start) {
      return absl::InvalidArgumentError(
          absl::StrCat("maps line ", line_number, " is malformed: ", text));
    }
    m.prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
             (perms[2] == 'x' ? PROT_EXEC : 0);
    m.path = std::string(absl::StripTrailingAsciiWhitespace(
        absl::string_view(text).substr(static_cast<size_t>(path_at))));
    Map(std::move(m));
  }
  return absl::OkStatus();
}

void AddressSpace::ResolveBinary(Mapping& m) const {
  if (binaries_ == nullptr || m.binary != nullptr || m.path.empty() || m.path[0] == '[') return;
  // /proc/PID/maps says " (deleted)" after the path of a file deleted since it was mapped.
  const std::string path(absl::StripSuffix(m.path, " (deleted)"));
  std::shared_ptr<const Binary> binary = binaries_->Open(root_ + path);
  // Through /proc/PID/root of a process that has exited, a file deleted since, or one replaced
  // since (another copy was opened: a build-id cache's): the kernel's build-id still names the
  // file.
  if (binary == nullptr ||
      (!m.build_id.empty() && !binary->build_id().empty() && binary->build_id() != m.build_id)) {
    if (auto same = binaries_->OpenBuildId(path, m.build_id)) binary = std::move(same);
  }
  // The process's own view of the mapping still opens a deleted file, while it runs.
  if (binary == nullptr && pid_ != 0) {
    binary = binaries_->OpenAs(absl::StrFormat("/proc/%d/map_files/%x-%x", pid_, m.start, m.end),
                               root_ + path);
  }
  if (binary != nullptr) BindBinary(m, std::move(binary));
}

bool BindBinary(Mapping& m, std::shared_ptr<const Binary> binary) {
  // A build-id from the kernel that differs from the file's: the file was replaced after it was
  // mapped, and its contents say nothing about this mapping.
  if (!m.build_id.empty() && !binary->build_id().empty() && m.build_id != binary->build_id()) {
    return false;
  }
  const Segment* segment = binary->SegmentFor(m.pgoff, m.prot);
  if (segment == nullptr) return false;
  if (m.build_id.empty()) m.build_id = binary->build_id();
  m.binary = std::move(binary);
  // File offset X sits at bias + vaddr + (X - offset); X = pgoff sits at start.
  m.bias = m.start - m.pgoff - segment->vaddr + segment->offset;
  m.file_contents = (segment->flags & PF_W) == 0 && (m.prot & PROT_WRITE) == 0;
  return true;
}

namespace {

// Whether a mapping's coming or going changes what unwinders know: file-backed memory does;
// anonymous memory, [heap] and [stack] do not.
bool FileBacked(const Mapping& m) { return !m.path.empty() && m.path[0] != '['; }

}  // namespace

void AddressSpace::Map(Mapping mapping) {
  if (mapping.end <= mapping.start) return;
  ResolveBinary(mapping);
  if (FileBacked(mapping)) id_ = NewId();
  auto at = std::upper_bound(mappings_.begin(), mappings_.end(), mapping.start,
                             [](uint64_t start, const Mapping& m) { return start < m.start; });
  // The common case, /proc/PID/maps read in address order: nothing to cut, often an append.
  const bool overlaps = (at != mappings_.end() && at->start < mapping.end) ||
                        (at != mappings_.begin() && std::prev(at)->end > mapping.start);
  if (overlaps) {
    Unmap(mapping.start, mapping.end);
    at = std::upper_bound(mappings_.begin(), mappings_.end(), mapping.start,
                          [](uint64_t start, const Mapping& m) { return start < m.start; });
  }
  mappings_.insert(at, std::move(mapping));
}

void AddressSpace::Unmap(uint64_t start, uint64_t end) {
  if (end <= start) return;
  std::vector<Mapping> kept;
  kept.reserve(mappings_.size() + 1);
  for (Mapping& m : mappings_) {
    if (m.end <= start || m.start >= end) {
      kept.push_back(std::move(m));
      continue;
    }
    if (FileBacked(m)) id_ = NewId();
    if (m.start < start) {  // the part below the hole
      Mapping below = m;
      below.end = start;
      kept.push_back(std::move(below));
    }
    if (m.end > end) {  // the part above it; the file offset moves with its start
      Mapping above = std::move(m);
      above.pgoff += end - above.start;
      above.start = end;
      kept.push_back(std::move(above));
    }
  }
  mappings_ = std::move(kept);
}

const Mapping* AddressSpace::Find(uint64_t address) const {
  auto it = std::upper_bound(mappings_.begin(), mappings_.end(), address,
                             [](uint64_t a, const Mapping& m) { return a < m.start; });
  if (it == mappings_.begin()) return nullptr;
  --it;
  return it->Contains(address) ? &*it : nullptr;
}

}  // namespace dprof::unwind
