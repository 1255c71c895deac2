#include "tracer/internal/cgroup.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dprof::tracer::internal {
namespace {

// /proc/self/mounts writes a space, tab, newline or backslash in a path as \ooo.
std::string Unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3' &&
        field[i + 2] >= '0' && field[i + 2] <= '7' && field[i + 3] >= '0' && field[i + 3] <= '7') {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> PerfEventCgroupRoot(std::string_view mounts) {
  std::string unified;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(mounts.data(), mounts.size()), '\n', absl::SkipEmpty())) {
    // DEVICE MOUNTPOINT TYPE OPTIONS DUMP PASS
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 4) continue;
    if (f[2] == "cgroup") {
      for (absl::string_view option : absl::StrSplit(f[3], ',')) {
        if (option == "perf_event") return Unescape({f[1].data(), f[1].size()});
      }
    } else if (f[2] == "cgroup2" && unified.empty()) {
      unified = Unescape({f[1].data(), f[1].size()});
    }
  }
  if (unified.empty()) {
    return absl::NotFoundError(
        "no cgroup hierarchy with the perf_event controller is mounted; mount one (mount -t "
        "cgroup2 none /sys/fs/cgroup) or give the cgroup's full path");
  }
  return unified;
}

absl::StatusOr<std::string> CgroupPath(const std::string& name) {
  if (!name.empty() && name[0] == '/') return name;
  std::ifstream in("/proc/self/mounts");
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::string> root = PerfEventCgroupRoot(text.str());
  if (!root.ok()) return root.status();
  return absl::StrCat(*root, "/", name);
}

}  // namespace dprof::tracer::internal
