#include "dprof/unwind/binary.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dprof/sync/mutex.h"

namespace dprof::unwind {
namespace {

constexpr uint64_t kPageSize = 4096;

void InitLibelf() {
  static const bool initialized = elf_version(EV_CURRENT) != EV_NONE;
  (void)initialized;
}

// The NT_GNU_BUILD_ID descriptor in the note data `data`, or "".
std::string FindBuildId(Elf_Data* data) {
  if (data == nullptr) return "";
  GElf_Nhdr note;
  size_t name_offset = 0, desc_offset = 0;
  for (size_t offset = 0;
       (offset = gelf_getnote(data, offset, &note, &name_offset, &desc_offset)) > 0;) {
    if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
        std::memcmp(static_cast<const char*>(data->d_buf) + name_offset, "GNU", 4) == 0) {
      return std::string(static_cast<const char*>(data->d_buf) + desc_offset, note.n_descsz);
    }
  }
  return "";
}

// Parses the .eh_frame_hdr at file offset `offset`: version 1, then the encodings of the
// .eh_frame pointer, the FDE count and the table. Only the table layout every toolchain emits,
// 4-byte data-relative entries, can be searched in place.
std::optional<EhFrameHdr> ParseEhFrameHdr(std::span<const uint8_t> file, uint64_t offset,
                                          uint64_t vaddr) {
  constexpr uint8_t kUdata4 = 0x03, kSdata4 = 0x0b, kPcrelSdata4 = 0x1b, kDatarelSdata4 = 0x3b;
  if (offset > file.size() || file.size() - offset < 12) return std::nullopt;
  const uint8_t* hdr = file.data() + offset;
  const uint8_t ptr_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
  if (hdr[0] != 1 || count_enc != kUdata4 || table_enc != kDatarelSdata4 ||
      (ptr_enc != kSdata4 && ptr_enc != kPcrelSdata4 && ptr_enc != kUdata4)) {
    return std::nullopt;
  }
  uint32_t fde_count = 0;
  std::memcpy(&fde_count, hdr + 8, sizeof(fde_count));
  if (fde_count > (file.size() - offset - 12) / 8) return std::nullopt;
  return EhFrameHdr{.vaddr = vaddr, .table_vaddr = vaddr + 12, .fde_count = fde_count};
}

}  // namespace

absl::StatusOr<std::unique_ptr<Binary>> Binary::Open(const std::string& path) {
  InitLibelf();
  static std::atomic<uint64_t> next_id{1};
  std::unique_ptr<Binary> binary(new Binary());
  binary->id_ = next_id.fetch_add(1, std::memory_order_relaxed);
  binary->path_ = path;
  // O_NONBLOCK: a FIFO at a recorded path (a stale or hostile recording) must not hang; anything
  // but a regular file is refused below.
  binary->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (binary->fd_ < 0) {
    const int err = errno;
    const std::string message = absl::StrCat("cannot open ", path, ": ", std::strerror(err));
    return err == ENOENT   ? absl::NotFoundError(message)
           : err == EACCES ? absl::PermissionDeniedError(message)
                           : absl::UnavailableError(message);
  }
  struct stat st = {};
  if (fstat(binary->fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  binary->file_id_ = {.dev = st.st_dev,
                      .ino = st.st_ino,
                      .size = static_cast<uint64_t>(st.st_size),
                      .mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
  binary->elf_ = elf_begin(binary->fd_, ELF_C_READ_MMAP, nullptr);
  if (binary->elf_ == nullptr || elf_kind(binary->elf_) != ELF_K_ELF) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an ELF file"));
  }
  size_t raw_size = 0;
  const char* raw = elf_rawfile(binary->elf_, &raw_size);
  if (raw == nullptr) return absl::DataLossError(absl::StrCat(path, ": cannot map the file"));
  binary->bytes_ = {reinterpret_cast<const uint8_t*>(raw), raw_size};

  size_t phnum = 0;
  if (elf_getphdrnum(binary->elf_, &phnum) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": unreadable program headers"));
  }
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(binary->elf_, static_cast<int>(i), &phdr) == nullptr) continue;
    if (phdr.p_type == PT_LOAD) {
      binary->segments_.push_back({.vaddr = phdr.p_vaddr,
                                   .memsz = phdr.p_memsz,
                                   .offset = phdr.p_offset,
                                   .filesz = phdr.p_filesz,
                                   .align = phdr.p_align,
                                   .flags = phdr.p_flags});
    } else if (phdr.p_type == PT_GNU_EH_FRAME) {
      binary->eh_frame_hdr_ = ParseEhFrameHdr(binary->bytes_, phdr.p_offset, phdr.p_vaddr);
    } else if (phdr.p_type == PT_NOTE && binary->build_id_.empty()) {
      binary->build_id_ = FindBuildId(elf_getdata_rawchunk(
          binary->elf_, static_cast<int64_t>(phdr.p_offset), phdr.p_filesz, ELF_T_NHDR));
    }
  }
  // Files without program headers for notes (e.g. separate debug files) keep them in sections.
  for (Elf_Scn* scn = nullptr;
       binary->build_id_.empty() && (scn = elf_nextscn(binary->elf_, scn));) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) != nullptr && shdr.sh_type == SHT_NOTE) {
      binary->build_id_ = FindBuildId(elf_getdata(scn, nullptr));
    }
  }
  return binary;
}

Binary::~Binary() {
  if (elf_ != nullptr) elf_end(elf_);
  if (fd_ >= 0) close(fd_);
}

const Segment* Binary::SegmentFor(uint64_t pgoff, uint32_t prot) const {
  const Segment* any = nullptr;
  for (const Segment& s : segments_) {
    const uint64_t first = s.offset & ~(kPageSize - 1);
    if (pgoff < first || pgoff >= s.offset + s.filesz) continue;
    const bool exec = (s.flags & PF_X) != 0, write = (s.flags & PF_W) != 0;
    // mprotect after relocation turns RELRO pages read-only, so only the exec bit must match.
    if (exec == ((prot & PROT_EXEC) != 0) && (write || (prot & PROT_WRITE) == 0)) return &s;
    if (any == nullptr) any = &s;
  }
  return any;
}

const Segment* Binary::ExecutableSegmentAt(uint64_t vaddr) const {
  for (const Segment& s : segments_) {
    if ((s.flags & PF_X) != 0 && vaddr >= s.vaddr && vaddr - s.vaddr < s.memsz) return &s;
  }
  return nullptr;
}

std::shared_ptr<const Binary> BinaryCache::Open(const std::string& path) {
  return OpenAs(path, path);
}

std::shared_ptr<const Binary> BinaryCache::OpenAs(const std::string& file,
                                                  const std::string& path) {
  struct stat st = {};
  if (stat(file.c_str(), &st) != 0) {
    // Gone: the file last opened under this path, if any (mappings made before it was deleted
    // still hold it). Not remembered otherwise: it may appear later.
    sync::MutexLock lock(&mu_);
    auto it = by_path_.find(path);
    return it == by_path_.end() ? nullptr : it->second;
  }
  const Binary::FileId id = {.dev = st.st_dev,
                             .ino = st.st_ino,
                             .size = static_cast<uint64_t>(st.st_size),
                             .mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
  sync::MutexLock lock(&mu_);
  if (auto it = by_file_.find(id); it != by_file_.end()) {
    if (it->second != nullptr) by_path_[path] = it->second;
    return it->second;
  }
  absl::StatusOr<std::unique_ptr<Binary>> opened = Binary::Open(file);
  std::shared_ptr<const Binary> binary;
  if (opened.ok()) {
    binary = std::move(*opened);
    if (!binary->build_id().empty()) {
      // The same build under another path (a container's view of the same file, a copy).
      auto [it, inserted] = by_build_id_.try_emplace(binary->build_id(), binary);
      if (!inserted) binary = it->second;
    }
  }
  by_file_.emplace(id, binary);
  if (binary != nullptr) by_path_[path] = binary;
  return binary;
}

std::shared_ptr<const Binary> BinaryCache::OpenBuildId(const std::string& path,
                                                       const std::string& build_id) {
  if (build_id.empty()) return nullptr;
  {
    sync::MutexLock lock(&mu_);
    if (auto it = by_build_id_.find(build_id); it != by_build_id_.end()) return it->second;
  }
  std::shared_ptr<const Binary> binary = Open(path);
  return binary != nullptr && binary->build_id() == build_id ? binary : nullptr;
}

size_t BinaryCache::size() const {
  sync::MutexLock lock(&mu_);
  return by_file_.size();
}

}  // namespace dprof::unwind
