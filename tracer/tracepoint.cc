#include "dprof/tracer/tracepoint.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dprof::tracer {
namespace {

// Debian's Abseil has its own string_view; the public API speaks std::string_view.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::vector<std::string> ListDir(const std::string& path, bool directories_only) {
  std::vector<std::string> out;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    if (directories_only && e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    out.emplace_back(e->d_name);
  }
  closedir(dir);
  return out;
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

bool IsMounted(const std::string& root) {
  struct stat st;
  return stat((root + "/events").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

absl::StatusOr<Tracefs> Tracefs::Find() {
  for (const char* root : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    if (IsMounted(root)) return Tracefs(root);
    // Mounted, but closed to this user (its mode is 0700 by default).
    struct stat st;
    if (stat(root, &st) == 0 && access(root, R_OK | X_OK) != 0 && errno == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat(
          "tracepoints need ", root,
          ", which this user may not read: run as root, or give the user access to tracefs "
          "and kernel.perf_event_paranoid=-1"));
    }
  }
  return absl::FailedPreconditionError(
      "tracefs is not mounted; mount it (as root) with: mount -t tracefs nodev "
      "/sys/kernel/tracing");
}

std::vector<std::string> Tracefs::List() const {
  std::vector<std::string> out;
  for (const std::string& system : ListDir(root_ + "/events", true)) {
    for (const std::string& name : ListDir(root_ + "/events/" + system, true)) {
      out.push_back(system + ":" + name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<Tracepoint> Tracefs::Load(std::string_view full_name) const {
  const absl::string_view full(A(full_name));
  std::vector<absl::string_view> parts = absl::StrSplit(full, absl::MaxSplits(':', 1));
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty() || absl::StrContains(full, '/') ||
      absl::StrContains(full, "..")) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", full,
                     "' is not a tracepoint name; write it as system:name, e.g. "
                     "sched:sched_switch"));
  }
  const std::string path = absl::StrCat(root_, "/events/", parts[0], "/", parts[1], "/format");
  std::ifstream in(path);
  if (!in) {
    if (access(path.c_str(), F_OK) == 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot read ", path,
                       ": permission denied; run as root or give the "
                       "user read access to tracefs"));
    }
    std::vector<std::string> close = CloseMatches(full_name, List());
    return absl::NotFoundError(absl::StrCat(
        "unknown tracepoint '", full, "'",
        close.empty() ? std::string("; list them with: ls ") + root_ + "/events"
                      : absl::StrCat("; did you mean ", absl::StrJoin(close, ", "), "?")));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseTracepointFormat(std::string_view(parts[0].data(), parts[0].size()),
                               std::string_view(parts[1].data(), parts[1].size()), text.str());
}

std::vector<std::string> CloseMatches(std::string_view name,
                                      const std::vector<std::string>& candidates, size_t limit) {
  const std::string wanted = absl::AsciiStrToLower(A(name));
  const size_t colon = wanted.find(':');
  const absl::string_view wanted_event = colon == std::string::npos
                                             ? absl::string_view(wanted)
                                             : absl::string_view(wanted).substr(colon + 1);
  std::vector<std::pair<size_t, std::string>> scored;
  for (const std::string& candidate : candidates) {
    const absl::string_view event = absl::string_view(candidate).substr(candidate.find(':') + 1);
    size_t score = std::min(EditDistance(wanted, candidate), EditDistance(wanted_event, event));
    // The same event under another system, or a name that contains what was typed.
    if (!wanted_event.empty() && absl::StrContains(event, wanted_event)) {
      score = std::min<size_t>(score, event == wanted_event ? 0 : 1);
    }
    const size_t tolerance = std::max<size_t>(2, wanted_event.size() / 3);
    if (score <= tolerance) scored.emplace_back(score, candidate);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < limit; ++i) out.push_back(scored[i].second);
  return out;
}

}  // namespace dprof::tracer
