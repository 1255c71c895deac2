// PerfMap — names of generated code from a JIT's /tmp/perf-PID.map.
//
// The file a JIT (V8, the JVM with perf-map-agent, LuaJIT, ...) writes for perf: one line per
// piece of code, "START SIZE NAME" with START and SIZE in hex. Later lines win where code was
// replaced at the same address. Read only when the file is a regular file owned by the process's
// user or by root, as perf does: anyone can write into /tmp. At most kMaxBytes of it are read (a
// runaway JIT can write gigabytes): truncated() says when there was more.
//
// Context: const methods from any thread.
#ifndef DPROF_PROFILE_INTERNAL_PERF_MAP_H_
#define DPROF_PROFILE_INTERNAL_PERF_MAP_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dprof::profile::internal {

class PerfMap {
 public:
  static constexpr size_t kMaxBytes = size_t{256} << 20;

  // Malformed lines are skipped (a JIT may be writing the last one as it is read).
  static PerfMap Parse(std::string_view text);
  // Opens `path` without following a symlink or blocking (a FIFO). NotFound when there is none;
  // PermissionDenied, naming the owner, when it is not a regular file owned by `owner` or root.
  // Reads its first `max_bytes`, up to the last whole line.
  static absl::StatusOr<PerfMap> Load(const std::string& path, uid_t owner,
                                      size_t max_bytes = kMaxBytes);

  struct Entry {
    uint64_t start = 0, size = 0;
    std::string name = {};
  };
  // The code holding `address`, or nullptr.
  const Entry* Find(uint64_t address) const;
  size_t size() const { return entries_.size(); }
  // The file held more than Load()'s bound: what lies beyond was not read.
  bool truncated() const { return truncated_; }

 private:
  std::vector<Entry> entries_;  // sorted by start, non-overlapping
  bool truncated_ = false;
};

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_PERF_MAP_H_
