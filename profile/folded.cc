#include "dprof/profile/folded.h"

#include <algorithm>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace dprof::profile {

std::string FoldedName(const View::Frame& frame, bool kernel_suffix) {
  std::string name = frame.name;
  std::replace(name.begin(), name.end(), ';', ':');
  std::replace(name.begin(), name.end(), '\n', ' ');
  std::replace(name.begin(), name.end(), '\r', ' ');
  if (kernel_suffix && frame.kind == View::FrameKind::kKernel) name += "_[k]";
  return name;
}

FoldedValue ResolveFoldedValue(const View& profile, FoldedValue value) {
  if (value != FoldedValue::kAuto) return value;
  return profile.unit() == WeightUnit::kOffCpuNanoseconds ? FoldedValue::kMicroseconds
                                                          : FoldedValue::kCount;
}

namespace {

// The profile's stacks merged by their folded text, with their values.
absl::flat_hash_map<std::string, uint64_t> FoldedLines(const View& profile,
                                                       const FoldedOptions& options) {
  std::vector<std::string> names;
  names.reserve(profile.frames().size());
  for (const View::Frame& f : profile.frames()) {
    names.push_back(FoldedName(f, options.kernel_suffix));
  }
  const FoldedValue value = ResolveFoldedValue(profile, options.value);
  absl::flat_hash_map<std::string, uint64_t> lines;
  std::string line;
  for (const View::Stack& s : profile.stacks()) {
    line.clear();
    for (uint32_t f : s.frames) {
      if (!line.empty()) line += ';';
      line += names[f];
    }
    lines[line] += value == FoldedValue::kCount ? s.count : s.weight;
  }
  // Each line's nanoseconds rounded once, so that nothing is lost to rounding stack by stack.
  if (value == FoldedValue::kMicroseconds) {
    for (auto& [text, v] : lines) v = (v + 500) / 1000;
  }
  return lines;
}

}  // namespace

void WriteFolded(const View& profile, const FoldedOptions& options, std::ostream& out) {
  const absl::flat_hash_map<std::string, uint64_t> lines = FoldedLines(profile, options);
  std::vector<std::pair<std::string, uint64_t>> sorted(lines.begin(), lines.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (const auto& [stack, weight] : sorted) out << stack << ' ' << weight << '\n';
}

void WriteFoldedDiff(const View& base, const View& profile, const FoldedOptions& options,
                     std::ostream& out) {
  const absl::flat_hash_map<std::string, uint64_t> before = FoldedLines(base, options);
  const absl::flat_hash_map<std::string, uint64_t> after = FoldedLines(profile, options);
  std::vector<std::tuple<std::string, uint64_t, uint64_t>> rows;
  for (const auto& [stack, weight] : after) {
    auto it = before.find(stack);
    rows.emplace_back(stack, it == before.end() ? 0 : it->second, weight);
  }
  for (const auto& [stack, weight] : before) {
    if (!after.contains(stack)) rows.emplace_back(stack, weight, 0);
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (std::get<2>(a) != std::get<2>(b)) return std::get<2>(a) > std::get<2>(b);
    if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) > std::get<1>(b);
    return std::get<0>(a) < std::get<0>(b);
  });
  for (const auto& [stack, was, is] : rows) out << stack << ' ' << was << ' ' << is << '\n';
}

}  // namespace dprof::profile
