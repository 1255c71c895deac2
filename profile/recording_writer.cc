#include "dprof/profile/recording_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "profile/internal/chunk_format.h"
#include "profile/internal/chunks.h"

namespace dprof::profile {

using internal::ChunkHeader;
using internal::ChunkType;
using internal::Payloads;

namespace {

uint32_t Crc(const void* data, size_t size) {
  return static_cast<uint32_t>(crc32(0, static_cast<const Bytef*>(data), static_cast<uInt>(size)));
}

// Writes all of `iov`, resuming after partial writes and EINTR. 0 or an errno.
int WriteAll(int fd, iovec* iov, int count) {
  while (count > 0) {
    const ssize_t n = writev(fd, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    size_t left = static_cast<size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return 0;
}

std::string WriteError(const std::string& path, int err, uint64_t good_bytes) {
  const std::string what = err == ENOSPC || err == EDQUOT ? "the disk is full" : std::strerror(err);
  return absl::StrCat("writing ", path, " failed: ", what, "; the recording up to byte ",
                      good_bytes, " stays readable");
}

}  // namespace

absl::StatusOr<std::unique_ptr<RecordingWriter>> RecordingWriter::Create(const std::string& path,
                                                                         Options options) {
  absl::StatusOr<NewFile> file = CreateNextTo(path, options.mode);
  if (!file.ok()) return file.status();
  if (rename(file->path.c_str(), path.c_str()) != 0) {
    const int err = errno;
    close(file->fd);
    unlink(file->path.c_str());
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(err)));
  }
  // Written in place from here on: a recording killed at any moment is readable at `path`.
  return CreateOnFd(file->fd, path, options);
}

absl::StatusOr<std::unique_ptr<RecordingWriter>> RecordingWriter::CreateOnFd(int fd,
                                                                             std::string name,
                                                                             Options options) {
  std::unique_ptr<RecordingWriter> writer(new RecordingWriter(fd, name, options));
  internal::FileHeader header;
  std::memcpy(header.magic, internal::kFileMagic, sizeof(header.magic));
  header.version = internal::kFormatVersion;
  header.header_size = sizeof(header);
  iovec iov{&header, sizeof(header)};
  if (const int err = WriteAll(fd, &iov, 1); err != 0) {
    return absl::ResourceExhaustedError(WriteError(name, err, 0));
  }
  writer->offset_ = sizeof(header);
  return writer;
}

RecordingWriter::~RecordingWriter() {
  if (fd_ >= 0) close(fd_);
}

absl::Status RecordingWriter::AppendChunk(uint16_t type, std::string_view raw) {
  if (!failed_.ok()) return failed_;
  ChunkHeader h{};
  h.magic = internal::kChunkMagic;
  h.type = type;
  h.raw_size = static_cast<uint32_t>(raw.size());
  std::string_view stored = raw;
  h.codec = static_cast<uint16_t>(internal::Codec::kStored);
  if (!raw.empty()) {
    compressed_.resize(ZSTD_compressBound(raw.size()));
    const size_t n = ZSTD_compress(compressed_.data(), compressed_.size(), raw.data(), raw.size(),
                                   options_.zstd_level);
    if (!ZSTD_isError(n) && n < raw.size()) {
      stored = std::string_view(compressed_.data(), n);
      h.codec = static_cast<uint16_t>(internal::Codec::kZstd);
    }
  }
  h.stored_size = static_cast<uint32_t>(stored.size());
  h.payload_crc = Crc(stored.data(), stored.size());
  h.header_crc = Crc(&h, offsetof(ChunkHeader, header_crc));
  iovec iov[2] = {{&h, sizeof(h)}, {const_cast<char*>(stored.data()), stored.size()}};
  if (const int err = WriteAll(fd_, iov, stored.empty() ? 1 : 2); err != 0) {
    // Cut off the partial chunk, so the file ends with a complete one.
    (void)!ftruncate(fd_, static_cast<off_t>(offset_));
    failed_ = absl::ResourceExhaustedError(WriteError(path_, err, offset_));
    return failed_;
  }
  offset_ += sizeof(h) + stored.size();
  return absl::OkStatus();
}

absl::Status RecordingWriter::Append(const Payloads& payloads) {
  for (const std::string& chunk : payloads.chunks) {
    if (absl::Status s = AppendChunk(static_cast<uint16_t>(payloads.type), chunk); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status RecordingWriter::WriteMetadata(
    const std::map<std::string, std::string>& metadata, std::span<const std::string> event_names,
    const std::map<uint32_t, event::Tracepoint>& tracepoints) {
  return Append(internal::EncodeMetadata(metadata, event_names, tracepoints));
}

absl::Status RecordingWriter::WriteStacks(
    std::span<const std::pair<StackId, std::span<const uint64_t>>> stacks) {
  return Append(internal::EncodeStacks(stacks));
}

absl::Status RecordingWriter::WriteEvents(std::span<const Event> events,
                                          std::span<const uint8_t> raw) {
  return Append(internal::EncodeEvents(events, raw));
}

absl::Status RecordingWriter::WriteUserStacks(
    std::span<const std::pair<cookie::Cookie, UserStackEntry>> stacks) {
  return Append(internal::EncodeUserStacks(stacks));
}

absl::Status RecordingWriter::WriteMappings(std::span<const Mapping> mappings) {
  return Append(internal::EncodeMappings(mappings));
}

absl::Status RecordingWriter::WriteThreads(std::span<const ThreadName> names,
                                           std::span<const TaskChange> tasks) {
  return Append(internal::EncodeThreads(names, tasks));
}

absl::Status RecordingWriter::WriteSymbols(std::span<const Symbol> symbols,
                                           const SymbolLookups& symbol_of,
                                           const SymbolLookups& mapped_symbol_of) {
  // In key order: the same recording always makes the same file.
  auto sorted = [](const SymbolLookups& lookups) {
    std::vector<std::pair<std::pair<uint32_t, uint64_t>, uint32_t>> v(lookups.begin(),
                                                                      lookups.end());
    std::sort(v.begin(), v.end());
    return v;
  };
  absl::Status s =
      Append(internal::EncodeSymbols(symbols, sorted(symbol_of), sorted(mapped_symbol_of)));
  if (s.ok()) symbols_written_ += static_cast<uint32_t>(symbols.size());
  return s;
}

absl::Status RecordingWriter::WriteCounters(
    const std::map<std::string, uint64_t>& counters,
    const std::map<uint32_t, std::map<std::string, uint64_t>>& threads) {
  return Append(internal::EncodeCounters(counters, threads));
}

absl::Status RecordingWriter::Finish() {
  if (absl::Status s = AppendChunk(static_cast<uint16_t>(ChunkType::kEnd), ""); !s.ok()) return s;
  const int fd = fd_;
  fd_ = -1;
  failed_ = absl::FailedPreconditionError("the recording is finished");
  int err = 0;
  if (fsync(fd) != 0 && errno != EINVAL) err = errno;  // EINVAL: a pipe or special file
  if (close(fd) != 0 && err == 0) err = errno;
  if (err != 0) return absl::ResourceExhaustedError(WriteError(path_, err, offset_));
  return absl::OkStatus();
}

absl::Status WriteRecording(const std::string& path, const Recording& r) {
  absl::StatusOr<std::unique_ptr<RecordingWriter>> writer = RecordingWriter::Create(path);
  if (!writer.ok()) return writer.status();
  RecordingWriter& w = **writer;
  std::vector<std::pair<StackId, std::span<const uint64_t>>> stacks;
  stacks.reserve(r.stacks.size());
  for (const auto& [id, pcs] : r.stacks) stacks.emplace_back(id, pcs);
  const std::vector<std::pair<cookie::Cookie, UserStackEntry>> user_stacks(r.user_stacks.begin(),
                                                                           r.user_stacks.end());
  for (absl::Status s : {w.WriteMetadata(r.metadata, r.event_names, r.tracepoints), w.WriteStacks(stacks),
                         w.WriteMappings(r.mappings), w.WriteThreads(r.threads, r.tasks),
                         w.WriteEvents(r.events, r.raw), w.WriteUserStacks(user_stacks),
                         w.WriteSymbols(r.symbols, r.symbol_of, r.mapped_symbol_of),
                         w.WriteCounters(r.counters, r.thread_counters), w.Finish()}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace dprof::profile
