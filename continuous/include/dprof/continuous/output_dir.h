// dprof::continuous::OutputDir — windows kept as pprof files in a directory, for users with no
// backend yet: one file per service and window, `SERVICE-YYYYMMDDTHHMMSSZ.pb.gz` (the window's
// start, UTC), private (0600), each written whole or not at all. Past `max_files` or `max_bytes`
// the oldest of these files (by their start time) go; nothing else in the directory is touched.
//
// Example:
//   auto dir = OutputDir::Open("/var/lib/dprof/profiles", {.max_files = 1000}).value();
//   absl::Status s = dir->Write("nginx", start_unix_ns, pprof);
//
// Context: one thread at a time.
#ifndef DPROF_CONTINUOUS_OUTPUT_DIR_H_
#define DPROF_CONTINUOUS_OUTPUT_DIR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dprof::continuous {

class OutputDir {
 public:
  struct Limits {
    size_t max_files = 1000;
    uint64_t max_bytes = uint64_t{1} << 30;
  };

  // Creates the directory (0700) when missing; FailedPrecondition naming it when it cannot be
  // made or written.
  static absl::StatusOr<std::unique_ptr<OutputDir>> Open(const std::string& path, Limits limits);

  // Writes one window's profile, then removes the oldest past the limits.
  absl::Status Write(std::string_view service, uint64_t start_unix_ns, std::string_view pprof);

  // The file name a window gets.
  static std::string FileName(std::string_view service, uint64_t start_unix_ns);

 private:
  OutputDir(std::string path, Limits limits) : path_(std::move(path)), limits_(limits) {}
  void Prune();

  std::string path_;
  Limits limits_;
};

}  // namespace dprof::continuous

#endif  // DPROF_CONTINUOUS_OUTPUT_DIR_H_
