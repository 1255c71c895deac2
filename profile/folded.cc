#include "dprof/profile/folded.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace dprof::profile {

std::string FoldedName(const Profile::Frame& frame, bool kernel_suffix) {
  std::string name = frame.name;
  std::replace(name.begin(), name.end(), ';', ':');
  std::replace(name.begin(), name.end(), '\n', ' ');
  std::replace(name.begin(), name.end(), '\r', ' ');
  if (kernel_suffix && frame.kind == Profile::FrameKind::kKernel) name += "_[k]";
  return name;
}

void WriteFolded(const Profile& profile, const FoldedOptions& options, std::ostream& out) {
  // Each frame's drawn name once, then each stack's line.
  std::vector<std::string> names;
  names.reserve(profile.frames().size());
  for (const Profile::Frame& f : profile.frames()) {
    names.push_back(FoldedName(f, options.kernel_suffix));
  }
  absl::flat_hash_map<std::string, uint64_t> lines;
  std::string line;
  for (const Profile::Stack& s : profile.stacks()) {
    line.clear();
    for (uint32_t f : s.frames) {
      if (!line.empty()) line += ';';
      line += names[f];
    }
    lines[line] += options.counts ? s.count : s.weight;
  }
  std::vector<std::pair<std::string, uint64_t>> sorted(lines.begin(), lines.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (const auto& [stack, weight] : sorted) out << stack << ' ' << weight << '\n';
}

}  // namespace dprof::profile
