#include "profile/internal/perf_map.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dprof::profile::internal {

PerfMap PerfMap::Parse(std::string_view text_view) {
  const absl::string_view text(text_view.data(), text_view.size());
  // By start; a later line replaces what it overlaps, as the JIT replaced the code.
  std::map<uint64_t, Entry> live;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    Entry e;
    if (f.size() != 3 || !absl::SimpleHexAtoi(absl::StripPrefix(f[0], "0x"), &e.start) ||
        !absl::SimpleHexAtoi(absl::StripPrefix(f[1], "0x"), &e.size) || e.size == 0 ||
        e.start + e.size < e.start) {
      continue;
    }
    e.name = std::string(absl::StripAsciiWhitespace(f[2]));
    const uint64_t end = e.start + e.size;
    auto it = live.lower_bound(e.start);
    if (it != live.begin()) {
      auto before = std::prev(it);
      if (before->second.start + before->second.size > e.start) it = before;
    }
    while (it != live.end() && it->second.start < end) it = live.erase(it);
    live.emplace(e.start, std::move(e));
  }
  PerfMap map;
  map.entries_.reserve(live.size());
  for (auto& [start, e] : live) map.entries_.push_back(std::move(e));
  return map;
}

absl::StatusOr<PerfMap> PerfMap::Load(const std::string& path, uid_t owner, size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    if (error == ELOOP) {
      return absl::PermissionDeniedError(absl::StrCat(path, " is a symlink; not read"));
    }
    return absl::ErrnoToStatus(error, path);
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::PermissionDeniedError(absl::StrCat(path, " is not a regular file; not read"));
  }
  if (st.st_uid != 0 && st.st_uid != owner) {
    close(fd);
    return absl::PermissionDeniedError(absl::StrCat(path, " is owned by uid ", st.st_uid,
                                                    ", not by the process's user (uid ", owner,
                                                    ") or root; not read"));
  }
  std::string text;
  text.reserve(std::min<size_t>(static_cast<size_t>(st.st_size), max_bytes));
  char buffer[1 << 16];
  bool more = false;
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const size_t room = max_bytes - text.size();
    text.append(buffer, std::min(room, static_cast<size_t>(n)));
    if (static_cast<size_t>(n) > room) {
      more = true;
      break;
    }
  }
  close(fd);
  // A line cut at the bound is not a line.
  if (more) text.resize(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  PerfMap map = Parse(text);
  map.truncated_ = more;
  return map;
}

const PerfMap::Entry* PerfMap::Find(uint64_t address) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), address,
                             [](uint64_t a, const Entry& e) { return a < e.start; });
  if (it == entries_.begin()) return nullptr;
  --it;
  return address - it->start < it->size ? &*it : nullptr;
}

}  // namespace dprof::profile::internal
