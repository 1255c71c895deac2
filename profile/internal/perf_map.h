// PerfMap — names of generated code from a JIT's /tmp/perf-PID.map.
//
// The file a JIT (V8, the JVM with perf-map-agent, LuaJIT, ...) writes for perf: one line per
// piece of code, "START SIZE NAME" with START and SIZE in hex. Later lines win where code was
// replaced at the same address. Read only when the file is a regular file owned by the process's
// user or by root, as perf does: anyone can write into /tmp.
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
  // Malformed lines are skipped (a JIT may be writing the last one as it is read).
  static PerfMap Parse(std::string_view text);
  // Opens `path` without following a symlink. NotFound when there is none; PermissionDenied,
  // naming the owner, when it is not a regular file owned by `owner` or root.
  static absl::StatusOr<PerfMap> Load(const std::string& path, uid_t owner);

  struct Entry {
    uint64_t start = 0, size = 0;
    std::string name = {};
  };
  // The code holding `address`, or nullptr.
  const Entry* Find(uint64_t address) const;
  size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;  // sorted by start, non-overlapping
};

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_PERF_MAP_H_
