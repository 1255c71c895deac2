// dprof::profile::RecordingWriter — writes a recording file as the recording runs.
//
// Each Write*() call appends one or more whole chunks (docs/recording-format.md), each
// compressed with zstd and checksummed. A chunk is written completely or not at all: when a write
// fails (disk full, I/O error) the file is cut back to its last complete chunk and the writer
// refuses further writes, so a crash, a kill -9 or a full disk leaves a file a reader recovers up
// to its last complete chunk. Finish() appends the end chunk that marks a recording complete.
//
// Stacks must be written before (or in the same call as) the first events, user stacks or
// symbols that refer to them; symbol lookups name symbols written earlier.
//
// Example:
//   auto writer = RecordingWriter::Create("dprof.data").value();
//   writer->WriteMetadata({{"command", "sleep 1"}}, {"cpu-clock"});
//   writer->WriteStacks(stacks);
//   writer->WriteEvents(events, raw);
//   writer->Finish();
//
// Context: not thread-safe; one writer belongs to one thread.
#ifndef DPROF_PROFILE_RECORDING_WRITER_H_
#define DPROF_PROFILE_RECORDING_WRITER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/profile/output_file.h"
#include "dprof/profile/recording.h"

namespace dprof::profile {

namespace internal {
struct Payloads;
}  // namespace internal

class RecordingWriter {
 public:
  struct Options {
    int zstd_level = 3;
    // The file's mode: private by default, as perf.data (a recording holds the command line,
    // paths and thread names: docs/recording-format.md).
    mode_t mode = kPrivateMode;
  };

  // Creates `path` anew (a new file renamed over whatever was there, so that nothing planted
  // there decides its owner or mode; a symbolic link at `path` is refused) and writes the file
  // header. Errors name the path and the reason.
  static absl::StatusOr<std::unique_ptr<RecordingWriter>> Create(const std::string& path,
                                                                 Options options);
  static absl::StatusOr<std::unique_ptr<RecordingWriter>> Create(const std::string& path) {
    return Create(path, Options{});
  }
  // Writes to `fd` (empty and writable: a memfd, a file the caller opened), which the writer owns
  // from now on, even when this fails; `name` stands for it in messages.
  static absl::StatusOr<std::unique_ptr<RecordingWriter>> CreateOnFd(int fd, std::string name,
                                                                     Options options);
  ~RecordingWriter();
  RecordingWriter(const RecordingWriter&) = delete;
  RecordingWriter& operator=(const RecordingWriter&) = delete;

  // `tracepoints`: the layouts of the tracepoint events' fields (Recording::tracepoints).
  absl::Status WriteMetadata(const std::map<std::string, std::string>& metadata,
                             std::span<const std::string> event_names,
                             const std::map<uint32_t, event::Tracepoint>& tracepoints = {});
  absl::Status WriteStacks(std::span<const std::pair<StackId, std::span<const uint64_t>>> stacks);
  // raw_offset/raw_size of `events` index into `raw`.
  absl::Status WriteEvents(std::span<const Event> events, std::span<const uint8_t> raw);
  absl::Status WriteUserStacks(std::span<const std::pair<cookie::Cookie, UserStackEntry>> stacks);
  absl::Status WriteMappings(std::span<const Mapping> mappings);
  absl::Status WriteThreads(std::span<const ThreadName> names, std::span<const TaskChange> tasks);
  // `symbols` get the indices symbols_written() onwards; the lookups (Recording::symbol_of and
  // mapped_symbol_of) may name any written symbol. Lookups are written in key order.
  absl::Status WriteSymbols(std::span<const Symbol> symbols, const SymbolLookups& symbol_of,
                            const SymbolLookups& mapped_symbol_of);
  // Later counters replace earlier ones of the same name when read.
  absl::Status WriteCounters(const std::map<std::string, uint64_t>& counters,
                             const std::map<uint32_t, std::map<std::string, uint64_t>>& threads);
  // Appends the end chunk and closes the file (flushed to disk).
  absl::Status Finish();

  uint64_t bytes_written() const { return offset_; }
  uint32_t symbols_written() const { return symbols_written_; }

 private:
  RecordingWriter(int fd, std::string path, Options options)
      : fd_(fd), path_(std::move(path)), options_(options) {}
  absl::Status Append(const internal::Payloads& payloads);
  absl::Status AppendChunk(uint16_t type, std::string_view raw);

  int fd_;
  std::string path_;
  Options options_;
  uint64_t offset_ = 0;  // end of the last complete chunk
  uint32_t symbols_written_ = 0;
  absl::Status failed_;  // set once a write failed, or after Finish()
  std::string compressed_;
};

// Writes all of `recording` to `path` as one complete file.
absl::Status WriteRecording(const std::string& path, const Recording& recording);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_RECORDING_WRITER_H_
