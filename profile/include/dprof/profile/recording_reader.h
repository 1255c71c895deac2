// dprof::profile::ReadRecording — a recording file back into memory, recovering what it can.
//
// A file cut short (Ctrl-C twice, kill -9, a crash, a full disk) or damaged is read up to its last
// good chunk; the report says how much that was and what stopped the reader. Only a file that is
// not a dprof recording at all, or of a newer format version, is an error.
//
// The reader never trusts a size or count it reads: every chunk is checked against the file's
// length, its checksums and the format's limits before anything is allocated for it, and the
// decompressed total is bounded by ReadOptions::max_raw_bytes.
//
// Example:
//   ReadReport report;
//   absl::StatusOr<Recording> r = ReadRecording("dprof.data", &report);
//   if (r.ok() && !report.complete) warn(report.Summary());
//
// Context: any thread; calls share no state (each needs its own `report`). Not async-signal-safe
// (allocates). ReadRecording() maps the file while it parses it: another process cutting the file
// shorter meanwhile makes the reads past the new end raise SIGBUS.
#ifndef DPROF_PROFILE_RECORDING_READER_H_
#define DPROF_PROFILE_RECORDING_READER_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "dprof/profile/recording.h"

namespace dprof::profile {

struct ReadOptions {
  uint64_t max_raw_bytes = uint64_t{16} << 30;  // decompressed bytes of all chunks together
};

struct ReadReport {
  bool complete = false;        // the end chunk was read: the recording finished cleanly
  uint64_t chunks = 0;          // chunks read
  uint64_t skipped_chunks = 0;  // chunks of types this version does not know (skipped)
  uint64_t bytes = 0;           // the bytes those chunks and the header span
  uint64_t file_size = 0;
  std::string problem;  // why reading stopped before the end chunk; empty when complete

  // Bytes after the end chunk (appended to a complete recording, or a file extended past it):
  // ignored, and said.
  uint64_t trailing_bytes() const { return complete ? file_size - bytes : 0; }

  // One line: "complete: 12 chunks, 90000 bytes" (with "; 7 bytes after the end were ignored"
  // when there are some) or "recovered 12 chunks (81920 of 90000 bytes): chunk 13 at byte 81920
  // is cut short".
  std::string Summary() const;
};

// NotFound / PermissionDenied when the file cannot be opened; InvalidArgument when it is not a
// dprof recording (naming what it looks like instead, e.g. a perf.data file); Unimplemented for a
// newer format version.
absl::StatusOr<Recording> ReadRecording(const std::string& path, ReadReport* report,
                                        const ReadOptions& options = {});
// The same over bytes in memory (`name` appears in messages).
absl::StatusOr<Recording> ParseRecording(std::span<const uint8_t> bytes, const std::string& name,
                                         ReadReport* report, const ReadOptions& options = {});

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_RECORDING_READER_H_
