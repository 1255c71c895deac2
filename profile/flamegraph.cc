#include "dprof/profile/flamegraph.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "dprof/profile/folded.h"
#include "profile/internal/flamegraph_page.h"
#include "profile/internal/json.h"

namespace dprof::profile {

namespace {

// The profile's stacks merged into a tree by frame name, children ordered by name.
class FlameTree {
 public:
  struct Node {
    uint32_t name = 0;  // into names
    uint32_t depth = 0;
    uint64_t value = 0;
    uint64_t base = 0;  // the base profile's weight along the same path
    std::vector<uint32_t> children = {};
  };

  FlameTree(const View& p, const FlameGraphOptions& options) : reverse_(options.reverse) {
    Name("all", View::FrameKind::kThread);
    nodes_.push_back(Node{});
    const std::vector<uint32_t> names = NamesOf(p);
    for (const View::Stack& s : p.stacks()) {
      std::vector<uint32_t> path = Path(names, s);
      uint32_t node = 0;
      nodes_[0].value += s.weight;
      for (uint32_t name : path) {
        node = Child(node, name, true);
        nodes_[node].value += s.weight;
      }
    }
    if (options.base != nullptr) {
      const View& b = *options.base;
      base_total_ = b.total_weight();
      const std::vector<uint32_t> base_names = NamesOf(b);
      for (const View::Stack& s : b.stacks()) {
        uint32_t node = 0;
        nodes_[0].base += s.weight;
        for (uint32_t name : Path(base_names, s)) {
          node = Child(node, name, false);
          if (node == 0) break;  // a path this profile does not have
          nodes_[node].base += s.weight;
        }
      }
    }
    for (Node& n : nodes_) {
      std::sort(n.children.begin(), n.children.end(), [this](uint32_t a, uint32_t b) {
        return names_[nodes_[a].name] < names_[nodes_[b].name];
      });
    }
  }

  // Nodes in preorder.
  template <typename Visit>
  void Preorder(Visit visit) const {
    std::vector<uint32_t> stack = {0};
    while (!stack.empty()) {
      const uint32_t n = stack.back();
      stack.pop_back();
      visit(n, nodes_[n]);
      for (auto c = nodes_[n].children.rbegin(); c != nodes_[n].children.rend(); ++c) {
        stack.push_back(*c);
      }
    }
  }

  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<View::FrameKind>& kinds() const { return kinds_; }
  uint64_t base_total() const { return base_total_; }

 private:
  uint32_t Name(const std::string& name, View::FrameKind kind) {
    auto [it, inserted] =
        name_ids_.try_emplace(std::pair(name, kind), static_cast<uint32_t>(names_.size()));
    if (inserted) {
      names_.push_back(name);
      kinds_.push_back(kind);
    }
    return it->second;
  }

  // The name of each of the profile's frames, looked up once.
  std::vector<uint32_t> NamesOf(const View& p) {
    std::vector<uint32_t> names;
    names.reserve(p.frames().size());
    for (const View::Frame& f : p.frames()) names.push_back(Name(FoldedName(f, false), f.kind));
    return names;
  }

  std::vector<uint32_t> Path(const std::vector<uint32_t>& names, const View::Stack& s) const {
    std::vector<uint32_t> path;
    path.reserve(s.frames.size());
    for (uint32_t f : s.frames) path.push_back(names[f]);
    if (reverse_) std::reverse(path.begin(), path.end());
    return path;
  }

  // The child of `parent` named `name`; created when `create`, else 0 when there is none.
  uint32_t Child(uint32_t parent, uint32_t name, bool create) {
    auto it = child_.find(std::pair(parent, name));
    if (it != child_.end()) return it->second;
    if (!create) return 0;
    const uint32_t id = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back(Node{.name = name, .depth = nodes_[parent].depth + 1});
    nodes_[parent].children.push_back(id);
    child_.emplace(std::pair(parent, name), id);
    return id;
  }

  bool reverse_;
  std::vector<std::string> names_;
  std::vector<View::FrameKind> kinds_;
  absl::flat_hash_map<std::pair<std::string, View::FrameKind>, uint32_t> name_ids_;
  std::vector<Node> nodes_;
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, uint32_t> child_;
  uint64_t base_total_ = 0;
};

std::string EscapeXml(const std::string& s) {
  return absl::StrReplaceAll(
      s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

const char* UnitName(WeightUnit unit) { return unit == WeightUnit::kCount ? "" : "ns"; }

std::string Format(uint64_t v, WeightUnit unit) {
  if (unit == WeightUnit::kCount) return absl::StrCat(v);
  return absl::StrFormat("%.3f ms", static_cast<double>(v) / 1e6);
}

}  // namespace

void WriteFlameGraphHtml(const View& p, const FlameGraphOptions& options, std::ostream& out) {
  const FlameTree tree(p, options);
  using internal::AppendJsonString;
  std::string data = "{\"title\":";
  AppendJsonString(data, options.title);
  data += ",\"subtitle\":";
  AppendJsonString(data, options.subtitle);
  absl::StrAppend(&data, ",\"unit\":\"", UnitName(p.unit()),
                  "\",\"icicle\":", options.icicle ? "true" : "false", ",\"names\":[");
  for (size_t i = 0; i < tree.names().size(); ++i) {
    if (i != 0) data += ',';
    AppendJsonString(data, tree.names()[i]);
  }
  data += "],\"kinds\":[";
  for (size_t i = 0; i < tree.kinds().size(); ++i) {
    absl::StrAppend(&data, i == 0 ? "" : ",", static_cast<int>(tree.kinds()[i]));
  }
  std::string n, d, v, b;
  tree.Preorder([&](uint32_t, const FlameTree::Node& node) {
    const char* sep = n.empty() ? "" : ",";
    absl::StrAppend(&n, sep, node.name);
    absl::StrAppend(&d, sep, node.depth);
    absl::StrAppend(&v, sep, node.value);
    absl::StrAppend(&b, sep, node.base);
  });
  absl::StrAppend(&data, "],\"n\":[", n, "],\"d\":[", d, "],\"v\":[", v, "]");
  if (options.base != nullptr) {
    absl::StrAppend(&data, ",\"b\":[", b, "],\"btotal\":", tree.base_total());
  }
  data += "}";

  const std::string page(internal::kFlameGraphPage);
  const size_t title_at = page.find("%%TITLE%%");
  const size_t data_at = page.find("%%DATA%%");
  out << page.substr(0, title_at) << EscapeXml(options.title)
      << page.substr(title_at + 9, data_at - title_at - 9) << data << page.substr(data_at + 8);
}

void WriteFlameGraphSvg(const View& p, const FlameGraphOptions& options, std::ostream& out) {
  const FlameTree tree(p, options);
  const double top = options.subtitle.empty() ? 36 : 52;
  constexpr double kWidth = 1200, kMargin = 10, kRow = 16;
  const uint64_t total = std::max<uint64_t>(tree.nodes()[0].value, 1);
  const double scale = (kWidth - 2 * kMargin) / static_cast<double>(total);
  // Frames under 0.1% of the width are not drawn; the deepest drawn sets the height.
  auto drawn = [&](const FlameTree::Node& node) {
    return static_cast<double>(node.value) * scale >= (kWidth - 2 * kMargin) / 1000;
  };
  uint32_t depth = 0;
  for (const FlameTree::Node& node : tree.nodes()) {
    if (drawn(node)) depth = std::max(depth, node.depth);
  }
  const double height = top + (depth + 1) * kRow + kMargin;

  out << absl::StrFormat(
      "<?xml version=\"1.0\" standalone=\"no\"?>\n"
      "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
      "xmlns=\"http://www.w3.org/2000/svg\" font-family=\"Verdana, sans-serif\" "
      "font-size=\"11\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"#fafafa\"/>\n"
      "<text x=\"%.0f\" y=\"22\" font-size=\"16\" text-anchor=\"middle\">%s</text>\n",
      kWidth, height, kWidth, height, kWidth / 2, EscapeXml(options.title));
  if (!options.subtitle.empty()) {
    out << absl::StrFormat(
        "<text x=\"%.0f\" y=\"40\" font-size=\"12\" fill=\"#555\" text-anchor=\"middle\">%s"
        "</text>\n",
        kWidth / 2, EscapeXml(options.subtitle));
  }

  // x of each node: its parent's x plus its earlier siblings' widths.
  std::vector<double> x(tree.nodes().size(), kMargin);
  tree.Preorder([&](uint32_t id, const FlameTree::Node& node) {
    double next = x[id];
    for (uint32_t c : node.children) {
      x[c] = next;
      next += static_cast<double>(tree.nodes()[c].value) * scale;
    }
    const double w = static_cast<double>(node.value) * scale;
    if (!drawn(node)) return;
    const double y =
        options.icicle ? top + node.depth * kRow : height - kMargin - (node.depth + 1) * kRow;
    const std::string& name = tree.names()[node.name];
    // Warm colors for user code, blue for the kernel, grey for pseudo-frames; stable per name.
    const size_t h = std::hash<std::string>()(name);
    std::string fill;
    switch (tree.kinds()[node.name]) {
      case View::FrameKind::kKernel:
        fill = absl::StrFormat("rgb(%d,%d,%d)", 90 + h % 40, 150 + h % 50, 220);
        break;
      case View::FrameKind::kOrphan:
      case View::FrameKind::kThread:
        fill = "rgb(190,190,190)";
        break;
      default:
        fill = absl::StrFormat("rgb(%d,%d,%d)", 205 + h % 50, 80 + (h >> 8) % 130,
                               40 + (h >> 16) % 50);
    }
    const std::string title =
        absl::StrFormat("%s (%s, %.2f%%)", name, Format(node.value, p.unit()),
                        100.0 * static_cast<double>(node.value) / static_cast<double>(total));
    out << absl::StrFormat(
        "<g><title>%s</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" "
        "fill=\"%s\" rx=\"2\"/>",
        EscapeXml(title), x[id], y, std::max(w - 0.5, 0.1), kRow - 1, fill);
    const size_t room = w > 20 ? static_cast<size_t>((w - 6) / 7) : 0;
    if (room >= 3) {
      const std::string label = name.size() > room ? name.substr(0, room - 2) + ".." : name;
      out << absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\">%s</text>", x[id] + 3, y + kRow - 4.5,
                             EscapeXml(label));
    }
    out << "</g>\n";
  });
  out << "</svg>\n";
}

void WriteFlameGraphFor(std::string_view path, const View& profile,
                        const FlameGraphOptions& options, std::ostream& out) {
  if (absl::EndsWithIgnoreCase(absl::string_view(path.data(), path.size()), ".svg")) {
    WriteFlameGraphSvg(profile, options, out);
  } else {
    WriteFlameGraphHtml(profile, options, out);
  }
}

std::string FlameGraphTitle(const Recording& recording) {
  auto command = recording.metadata.find("command");
  return command == recording.metadata.end() ? "dprof" : command->second;
}

std::string FlameGraphSubtitle(const Recording& recording, const View& profile,
                               std::span<const std::string> events) {
  const auto [first, last] = recording.EventSpan();
  const double seconds = static_cast<double>(last - first) / 1e9;
  const std::string digits = absl::StrCat(profile.total_count());
  std::string count;  // in groups of three
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) count += ',';
    count += digits[i];
  }
  return absl::StrFormat("%s: %s %s in %.2f s", absl::StrJoin(events, ", "), count,
                         profile.total_count() == 1 ? "sample" : "samples", seconds);
}

}  // namespace dprof::profile
