#include "dprof/profile/recording_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "profile/internal/chunk_format.h"
#include "profile/internal/chunks.h"

namespace dprof::profile {

using internal::ChunkHeader;
using internal::ChunkType;

namespace {

uint32_t Crc(const void* data, size_t size) {
  return static_cast<uint32_t>(crc32(0, static_cast<const Bytef*>(data), static_cast<uInt>(size)));
}

bool KnownType(uint16_t type) {
  return type >= static_cast<uint16_t>(ChunkType::kMetadata) &&
         type <= static_cast<uint16_t>(ChunkType::kEnd);
}

// What a file that is not a dprof recording looks like, from its first bytes.
std::string Describe(std::span<const uint8_t> bytes) {
  auto starts = [&](std::string_view prefix) {
    return bytes.size() >= prefix.size() &&
           std::memcmp(bytes.data(), prefix.data(), prefix.size()) == 0;
  };
  if (bytes.empty()) return "it is empty";
  if (starts("PERFILE2")) return "it is a perf.data file (import it: dprof import FILE)";
  if (starts("\x7f"
             "ELF"))
    return "it is an ELF binary";
  if (starts("\x1f\x8b")) return "it is gzip-compressed (a pprof profile?)";
  return "it does not start with the DPROFREC signature";
}

}  // namespace

std::string ReadReport::Summary() const {
  if (complete) {
    return absl::StrCat("complete: ", chunks, " chunks, ", bytes, " bytes",
                        trailing_bytes() == 0 ? ""
                                              : absl::StrCat("; ", trailing_bytes(),
                                                             " bytes after the end were ignored"));
  }
  return absl::StrCat("recovered ", chunks, " chunks (", bytes, " of ", file_size,
                      " bytes): ", problem);
}

absl::StatusOr<Recording> ParseRecording(std::span<const uint8_t> bytes, const std::string& name,
                                         ReadReport* report, const ReadOptions& options) {
  *report = ReadReport{};
  report->file_size = bytes.size();
  internal::FileHeader header;
  if (bytes.size() < sizeof(header) ||
      std::memcmp(bytes.data(), internal::kFileMagic, sizeof(header.magic)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is not a dprof recording: ", Describe(bytes)));
  }
  std::memcpy(&header, bytes.data(), sizeof(header));
  if (header.version > internal::kFormatVersion) {
    return absl::UnimplementedError(absl::StrCat(
        name, " is a version ", header.version, " dprof recording; this dprof reads version ",
        internal::kFormatVersion, " and older: upgrade dprof"));
  }
  if (header.header_size < sizeof(header) || header.header_size > bytes.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has a damaged file header (header size ", header.header_size, ")"));
  }

  Recording recording;
  uint64_t offset = header.header_size;
  report->bytes = offset;
  uint64_t raw_total = 0;
  std::vector<uint8_t> raw;
  for (uint64_t index = 1;; ++index) {
    const std::string where = absl::StrCat("chunk ", index, " at byte ", offset);
    if (offset == bytes.size()) {
      report->problem = absl::StrCat("the file ends after ", index - 1,
                                     " chunks without the end marker (the recording was cut "
                                     "short)");
      break;
    }
    ChunkHeader h;
    if (bytes.size() - offset < sizeof(h)) {
      report->problem = absl::StrCat(where, " is cut short (its header is incomplete)");
      break;
    }
    std::memcpy(&h, bytes.data() + offset, sizeof(h));
    if (h.magic != internal::kChunkMagic ||
        h.header_crc != Crc(&h, offsetof(ChunkHeader, header_crc))) {
      report->problem = absl::StrCat(where, " has a damaged header");
      break;
    }
    if (h.raw_size > internal::kMaxChunkRawSize ||
        h.stored_size > ZSTD_compressBound(internal::kMaxChunkRawSize) ||
        (h.codec != static_cast<uint16_t>(internal::Codec::kStored) &&
         h.codec != static_cast<uint16_t>(internal::Codec::kZstd)) ||
        (h.codec == static_cast<uint16_t>(internal::Codec::kStored) &&
         h.stored_size != h.raw_size)) {
      report->problem = absl::StrCat(where, " declares impossible sizes or an unknown codec");
      break;
    }
    if (bytes.size() - offset - sizeof(h) < h.stored_size) {
      report->problem = absl::StrCat(where, " is cut short (", bytes.size() - offset - sizeof(h),
                                     " of its ", h.stored_size, " bytes are there)");
      break;
    }
    std::span<const uint8_t> stored = bytes.subspan(offset + sizeof(h), h.stored_size);
    if (Crc(stored.data(), stored.size()) != h.payload_crc) {
      report->problem = absl::StrCat(where, " is damaged (checksum mismatch)");
      break;
    }
    raw_total += h.raw_size;
    if (raw_total > options.max_raw_bytes) {
      report->problem = absl::StrCat(where, " would exceed the reader's limit of ",
                                     options.max_raw_bytes, " decompressed bytes");
      break;
    }
    std::span<const uint8_t> payload = stored;
    if (h.codec == static_cast<uint16_t>(internal::Codec::kZstd)) {
      raw.resize(h.raw_size);
      const size_t n = ZSTD_decompress(raw.data(), raw.size(), stored.data(), stored.size());
      if (ZSTD_isError(n) || n != h.raw_size) {
        report->problem = absl::StrCat(where, " does not decompress");
        break;
      }
      payload = raw;
    }
    if (!KnownType(h.type)) {
      ++report->skipped_chunks;  // from a newer writer: skipped whole
    } else if (!internal::DecodeChunk(static_cast<ChunkType>(h.type), payload, &recording)) {
      report->problem = absl::StrCat(where, " (type ", h.type, ") is malformed");
      break;
    }
    offset += sizeof(h) + h.stored_size;
    ++report->chunks;
    report->bytes = offset;
    if (h.type == static_cast<uint16_t>(ChunkType::kEnd)) {
      report->complete = true;
      break;
    }
  }
  return recording;
}

absl::StatusOr<Recording> ReadRecording(const std::string& path, ReadReport* report,
                                        const ReadOptions& options) {
  // O_NONBLOCK: a FIFO given as a recording is refused below, not waited on.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    const std::string message = absl::StrCat("cannot open ", path, ": ", std::strerror(err));
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat(message, "; record one first (dprof record)"));
    }
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);
  }
  struct stat st = {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    close(fd);
    return ParseRecording({}, path, report, options);
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot map ", path, ": ", std::strerror(errno)));
  }
  absl::StatusOr<Recording> r = ParseRecording(
      std::span<const uint8_t>(static_cast<const uint8_t*>(map), size), path, report, options);
  munmap(map, size);
  return r;
}

}  // namespace dprof::profile
