#include "dprof/profile/report.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace dprof::profile {

namespace {

uint64_t Counter(const Recording& r, const std::string& name) {
  auto it = r.counters.find(name);
  return it == r.counters.end() ? 0 : it->second;
}

double Percent(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

// The user frames nothing names, by reason, each with where to look.
void WriteUnnamed(const Recording& r, const UnnamedCounts& u, bool debuginfod,
                  std::ostream& out) {
  out << absl::StrFormat("#   unnamed user frames %u of %u (%.2f%%)\n", u.unnamed(), u.user_frames,
                         Percent(u.unnamed(), u.user_frames));
  const uint64_t start_ns = r.EventSpan().first;
  for (int i = 0; i < kNumUnnamed; ++i) {
    const auto reason = static_cast<Unnamed>(i);
    if (u[reason] == 0) continue;
    std::string where;
    if (reason == Unnamed::kUnmapped) {
      where = absl::StrFormat(" (first: pid %u at %.3f s)", u.first_pid,
                              static_cast<double>(u.first_time_ns - start_ns) / 1e9);
    } else if (!u.modules[i].empty()) {
      // The three modules with the most such frames.
      std::vector<std::pair<uint64_t, std::string>> modules;
      for (const auto& [module, n] : u.modules[i]) {
        modules.emplace_back(n, std::filesystem::path(module).filename().string());
      }
      std::sort(modules.rbegin(), modules.rend());
      if (modules.size() > 3) modules.resize(3);
      std::vector<std::string> names;
      for (const auto& [n, name] : modules) names.push_back(absl::StrFormat("%s %u", name, n));
      where = " (" + absl::StrJoin(names, ", ") + ")";
    }
    out << absl::StrFormat("#     %u %s%s\n", u[reason], UnnamedReason(reason), where);
    if (reason == Unnamed::kNoSymbols && !debuginfod) {
      out << "#     (debuginfod can name them: set DEBUGINFOD_URLS, e.g. "
             "https://debuginfod.debian.net, and record again or dprof import)\n";
    }
  }
}

void WriteStats(const Recording& r, const View& p, bool debuginfod, std::ostream& out) {
  out << "# stats\n";
  out << absl::StrFormat(
      "#   samples %u, tracepoint hits %u, off-cpu intervals %u; in this report %u events\n",
      Counter(r, "samples"), Counter(r, "tracepoint hits"), Counter(r, "off-cpu intervals"),
      p.total_count());
  out << absl::StrFormat(
      "#   lost records %u (samples %u), throttled %u, dropped snapshots %u, truncated "
      "snapshots %u\n",
      Counter(r, "lost records"), Counter(r, "lost samples"), Counter(r, "throttled"),
      Counter(r, "dropped snapshots"), Counter(r, "truncated snapshots"));
  const uint64_t requests = Counter(r, "engine.requests");
  const uint64_t jobs = Counter(r, "engine.jobs");
  const uint64_t done = Counter(r, "engine.unwinds") + Counter(r, "engine.content hits");
  out << absl::StrFormat(
      "#   unwinds %u done of %u requested (%u jobs; sharing: %.2f events per unwind)\n", done,
      requests, jobs, jobs == 0 ? 0.0 : static_cast<double>(requests) / static_cast<double>(jobs));
  if (const uint64_t refused = Counter(r, "depot.failures"); refused != 0) {
    out << absl::StrFormat(
        "#   stack depot: %u stacks refused (%u for capacity; %u bytes in use), recorded "
        "without it\n",
        refused, Counter(r, "depot.fail_capacity"), Counter(r, "depot.bytes_in_use"));
  }
  const StitchCounts& c = p.stitch_counts();
  uint64_t orphans = 0;
  for (int i = 1; i < kNumOrphans; ++i) orphans += c.orphans[i];  // [0] counts the non-orphans
  out << absl::StrFormat("#   stitched %u, kernel-walked %u, orphans %u\n", c.stitched,
                         c.inline_user, orphans);
  for (int i = 1; i < kNumOrphans; ++i) {
    if (c.orphans[i] == 0) continue;
    out << absl::StrFormat("#     %u %s\n", c.orphans[i], OrphanFrame(static_cast<Orphan>(i)));
  }
  WriteUnnamed(r, p.unnamed_counts(), debuginfod, out);
}

}  // namespace

std::string FormatWeight(uint64_t weight, WeightUnit unit) {
  if (unit == WeightUnit::kCount) return absl::StrFormat("%u", weight);
  const double ns = static_cast<double>(weight);
  if (ns >= 1e9) return absl::StrFormat("%.3f s", ns / 1e9);
  if (ns >= 1e6) return absl::StrFormat("%.1f ms", ns / 1e6);
  if (ns >= 1e3) return absl::StrFormat("%.0f us", ns / 1e3);
  return absl::StrFormat("%u ns", weight);
}

std::optional<ReportKey> ParseReportKey(std::string_view name) {
  static constexpr std::pair<std::string_view, ReportKey> kKeys[] = {
      {"comm", ReportKey::kComm}, {"pid", ReportKey::kPid},    {"tid", ReportKey::kTid},
      {"dso", ReportKey::kDso},   {"module", ReportKey::kDso}, {"sym", ReportKey::kSym},
  };
  for (const auto& [text, key] : kKeys) {
    if (text == name) return key;
  }
  return std::nullopt;
}

namespace {

bool IsThreadKey(ReportKey k) {
  return k == ReportKey::kComm || k == ReportKey::kPid || k == ReportKey::kTid;
}

}  // namespace

bool NeedsThreads(const std::vector<ReportKey>& keys) {
  return std::any_of(keys.begin(), keys.end(), IsThreadKey);
}

namespace {

// The rows of a profile, with what each frame and stack contributes to a row's keys: the keys of
// a thread (comm, pid, tid) come from the stack, those of a function (dso, sym) from a frame.
class RowTable {
 public:
  RowTable(const View& p, const std::vector<ReportKey>& keys) : keys_(keys) {
    by_frame_ = std::any_of(keys.begin(), keys.end(), [](ReportKey k) { return !IsThreadKey(k); });
    absl::flat_hash_map<std::vector<std::string>, uint32_t> ids;
    auto intern = [&](std::vector<std::string> part, std::vector<std::vector<std::string>>* parts) {
      auto [it, inserted] = ids.try_emplace(part, static_cast<uint32_t>(parts->size()));
      if (inserted) parts->push_back(std::move(part));
      return it->second;
    };
    for (const View::Frame& f : p.frames()) {
      std::vector<std::string> part;
      for (ReportKey k : keys) {
        if (k == ReportKey::kSym) part.push_back(f.name);
        if (k == ReportKey::kDso) part.push_back(std::filesystem::path(f.module).filename());
      }
      frame_part_.push_back(intern(std::move(part), &frame_parts_));
    }
    ids.clear();
    for (const View::Stack& s : p.stacks()) {
      std::vector<std::string> part;
      for (ReportKey k : keys) {
        if (k == ReportKey::kComm) part.push_back(s.comm);
        if (k == ReportKey::kPid) part.push_back(absl::StrCat(s.pid));
        if (k == ReportKey::kTid) part.push_back(absl::StrCat(s.tid));
      }
      stack_part_.push_back(intern(std::move(part), &stack_parts_));
    }
    absl::flat_hash_set<uint32_t> seen;
    for (size_t i = 0; i < p.stacks().size(); ++i) {
      const View::Stack& s = p.stacks()[i];
      if (s.frames.empty()) continue;
      ReportRow& leaf = rows_[Row(i, s.frames.back())];
      leaf.self += s.weight;
      leaf.self_count += s.count;
      seen.clear();
      for (uint32_t f : s.frames) {
        const uint32_t row = Row(i, f);
        if (!seen.insert(row).second) continue;
        rows_[row].total += s.weight;
        rows_[row].total_count += s.count;
      }
    }
  }

  std::vector<ReportRow>& rows() { return rows_; }
  // Whether a row's keys name functions (dso, sym) and not only threads.
  bool by_frame() const { return by_frame_; }
  // The row of stack `stack`'s frame `frame`.
  uint32_t Row(size_t stack, uint32_t frame) {
    const std::pair<uint32_t, uint32_t> part(stack_part_[stack],
                                             by_frame_ ? frame_part_[frame] : 0);
    auto [it, inserted] = row_of_.try_emplace(part, static_cast<uint32_t>(rows_.size()));
    if (inserted) {
      ReportRow row;
      size_t from_stack = 0, from_frame = 0;
      for (ReportKey k : keys_) {
        row.keys.push_back(IsThreadKey(k) ? stack_parts_[part.first][from_stack++]
                                          : frame_parts_[part.second][from_frame++]);
      }
      rows_.push_back(std::move(row));
    }
    return it->second;
  }

 private:
  const std::vector<ReportKey>& keys_;
  bool by_frame_ = false;
  std::vector<uint32_t> frame_part_;  // by frame
  std::vector<uint32_t> stack_part_;  // by stack
  std::vector<std::vector<std::string>> frame_parts_, stack_parts_;
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, uint32_t> row_of_;
  std::vector<ReportRow> rows_;
};

// The call graph's branches under this percent of the whole are left out, as perf's are.
constexpr double kGraphPercent = 0.5;

// The order of rows: heaviest first, ties by their keys.
bool Before(const ReportRow& a, const ReportRow& b, ReportOptions::Sort sort) {
  const uint64_t ka = sort == ReportOptions::Sort::kSelf ? a.self : a.total;
  const uint64_t kb = sort == ReportOptions::Sort::kSelf ? b.self : b.total;
  if (ka != kb) return ka > kb;
  return a.keys < b.keys;
}

// Columns of text a string takes (UTF-8: one per character).
size_t Columns(std::string_view s) {
  return std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; });
}

// `s` in at most `width` columns: cut with an ellipsis when longer.
std::string Cut(std::string_view s, size_t width) {
  if (Columns(s) <= width) return std::string(s);
  if (width == 0) return "";
  std::string out;
  size_t columns = 0;
  for (char c : s) {
    const bool starts = (c & 0xC0) != 0x80;
    if (starts && ++columns == width) break;
    out += c;
  }
  return out + "\u2026";
}

// `s` cut to and padded to `width` columns, on the left when `right`.
std::string Cell(std::string_view s, size_t width, bool right) {
  std::string cut = Cut(s, width);
  const std::string pad(width - Columns(cut), ' ');
  return right ? pad + cut : cut + pad;
}

// Writes `text`'s lines in `width` columns (0: as they are): a longer line is broken after a
// comma or semicolon, and what follows indented under it; a word longer than that is cut.
void WriteWrapped(absl::string_view text, size_t width, std::ostream& out) {
  constexpr absl::string_view kIndent = "#       ";
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::string rest(line);
    while (width != 0 && Columns(rest) > width) {
      // The last break that leaves the first part within the width.
      size_t at = std::string::npos;
      for (size_t i = 0; i + 1 < rest.size(); ++i) {
        if ((rest[i] == ',' || rest[i] == ';') && rest[i + 1] == ' ' &&
            Columns(std::string_view(rest.data(), i + 1)) <= width && i + 2 > kIndent.size()) {
          at = i + 1;
        }
      }
      if (at == std::string::npos) break;
      out << rest.substr(0, at) << "\n";
      rest = absl::StrCat(kIndent, rest.substr(at + 1));
    }
    out << (width == 0 ? rest : Cut(rest, width)) << "\n";
  }
}

// Widths for text columns whose contents want `want`, in `budget` columns: the columns but
// `keep` (the function, which matters most) cut first, the widest to a common limit, none under
// kNarrowest; then `keep` too.
constexpr size_t kNarrowest = 18;
std::vector<size_t> FitColumns(std::vector<size_t> want, size_t budget, size_t keep) {
  auto used = [&] {
    size_t sum = 0;
    for (size_t w : want) sum += w;
    return sum;
  };
  while (used() > budget) {
    size_t widest = want.size();
    for (size_t i = 0; i < want.size(); ++i) {
      if (i != keep && want[i] > kNarrowest && (widest == want.size() || want[i] > want[widest])) {
        widest = i;
      }
    }
    if (widest == want.size()) break;
    --want[widest];
  }
  if (keep < want.size() && used() > budget) {
    want[keep] = std::max(kNarrowest, want[keep] - std::min(want[keep], used() - budget));
  }
  // Too narrow for that: the widest cut further, to a few characters.
  while (used() > budget) {
    auto widest = std::max_element(want.begin(), want.end());
    if (*widest <= 4) break;
    --*widest;
  }
  return want;
}

const char* KeyHeader(ReportKey k) {
  switch (k) {
    case ReportKey::kComm:
      return "Command";
    case ReportKey::kPid:
      return "Pid";
    case ReportKey::kTid:
      return "Tid";
    case ReportKey::kDso:
      return "Module";
    case ReportKey::kSym:
      return "Function";
  }
  return "";
}

// A call graph: the paths through one row, as a tree of frame names with weights.
class CallTree {
 public:
  void Add(const std::vector<std::string_view>& path, uint64_t weight) {
    uint32_t at = 0;
    for (std::string_view name : path) {
      auto [it, inserted] = child_of_.try_emplace(std::pair(at, name), nodes_.size());
      if (inserted) {
        nodes_[at].children.push_back(static_cast<uint32_t>(nodes_.size()));
        nodes_.push_back(Node{.name = name});
      }
      at = it->second;
      nodes_[at].weight += weight;
    }
  }

  // Lines under the row: a branch's children indented, each with its percent of `whole`; a
  // chain (one child of the same weight) under its parent's name without one.
  void Write(uint64_t whole, double limit_percent, size_t width, std::ostream& out) const {
    Write(0, 10, whole, limit_percent, width, out);
  }

 private:
  struct Node {
    std::string_view name;
    uint64_t weight = 0;
    std::vector<uint32_t> children = {};
  };

  // Writes the children of `at`, whose line is indented by `indent`: a branch's children two
  // further.
  void Write(uint32_t at, size_t indent, uint64_t whole, double limit, size_t width,
             std::ostream& out) const {
    std::vector<uint32_t> shown;
    for (uint32_t c : nodes_[at].children) {
      if (Percent(nodes_[c].weight, whole) >= limit) shown.push_back(c);
    }
    std::sort(shown.begin(), shown.end(), [&](uint32_t a, uint32_t b) {
      if (nodes_[a].weight != nodes_[b].weight) return nodes_[a].weight > nodes_[b].weight;
      return nodes_[a].name < nodes_[b].name;
    });
    const bool chain = at != 0 && shown.size() == 1 && nodes_[shown[0]].weight == nodes_[at].weight;
    // A branch, though the limit may show one side of it only.
    const size_t child_indent = at != 0 && nodes_[at].children.size() > 1 ? indent + 2 : indent;
    for (uint32_t c : shown) {
      const std::string percent =
          chain ? std::string(kPercentColumns, ' ')
                : absl::StrFormat("%7.2f%%  ", Percent(nodes_[c].weight, whole));
      const std::string line =
          std::string(child_indent, ' ') + percent + std::string(nodes_[c].name);
      out << (width == 0 ? line : Cut(line, width)) << "\n";
      Write(c, child_indent, whole, limit, width, out);
    }
  }

  static constexpr size_t kPercentColumns = 10;  // "%7.2f%%  "
  std::vector<Node> nodes_ = {Node{}};           // [0]: the root, above every path
  absl::flat_hash_map<std::pair<uint32_t, std::string_view>, uint32_t> child_of_;
};

}  // namespace

std::vector<ReportRow> ReportRows(const View& p, const std::vector<ReportKey>& keys,
                                  ReportOptions::Sort sort) {
  RowTable table(p, keys);
  std::vector<ReportRow> rows = std::move(table.rows());
  std::sort(rows.begin(), rows.end(),
            [sort](const ReportRow& a, const ReportRow& b) { return Before(a, b, sort); });
  return rows;
}

std::vector<FunctionWeight> FunctionWeights(const View& p, ReportOptions::Sort sort) {
  std::vector<FunctionWeight> out;
  for (ReportRow& row : ReportRows(p, {ReportKey::kSym, ReportKey::kDso}, sort)) {
    out.push_back(FunctionWeight{.name = std::move(row.keys[0]),
                                 .module = std::move(row.keys[1]),
                                 .self = row.self,
                                 .total = row.total});
  }
  return out;
}

namespace {

// The table of rows, each with its call graph when asked.
void WriteRows(const View& p, const ReportOptions& o, std::ostream& out) {
  RowTable table(p, o.keys);
  std::vector<uint32_t> order(table.rows().size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  const bool by_total = o.sort == ReportOptions::Sort::kTotal;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return Before(table.rows()[a], table.rows()[b], o.sort);
  });
  std::erase_if(order, [&](uint32_t i) {
    const ReportRow& r = table.rows()[i];
    return Percent(by_total ? r.total : r.self, p.total_weight()) < o.percent_limit;
  });
  if (o.top != 0 && order.size() > o.top) order.resize(o.top);

  // The numbers, then the keys' text in what the width leaves.
  std::string weight_header = by_total ? "Total" : "Self";
  weight_header += p.unit() == WeightUnit::kCount ? " events" : " time";
  size_t samples_width = 8;
  for (uint32_t i : order) {
    const ReportRow& r = table.rows()[i];
    samples_width =
        std::max(samples_width, absl::StrCat(by_total ? r.total_count : r.self_count).size());
  }
  std::string header = absl::StrFormat("%8s", "Self");
  if (o.total_column) header += absl::StrFormat(" %8s", "Total");
  if (o.samples_column) header += absl::StrFormat(" %*s", samples_width, "Samples");
  header += absl::StrFormat(" %12s", weight_header);
  std::vector<size_t> want;
  for (ReportKey k : o.keys) want.push_back(Columns(KeyHeader(k)));
  for (uint32_t i : order) {
    for (size_t k = 0; k < o.keys.size(); ++k) {
      want[k] = std::max(want[k], Columns(table.rows()[i].keys[k]));
    }
  }
  if (o.width != 0) {
    const size_t fixed = header.size() + 2 * o.keys.size();
    const size_t keep = std::find(o.keys.begin(), o.keys.end(), ReportKey::kSym) - o.keys.begin();
    want = FitColumns(want, o.width > fixed ? o.width - fixed : 0, keep);
  }
  // The keys' cells after the numbers: a line with no spaces at its end.
  auto text_cells = [&](auto text_of) {
    std::string line;
    for (size_t k = 0; k < o.keys.size(); ++k) {
      const bool number = o.keys[k] == ReportKey::kPid || o.keys[k] == ReportKey::kTid;
      const bool last = k + 1 == o.keys.size();
      std::string cell = Cell(text_of(k), want[k], number);
      if (last && !number) cell = Cut(text_of(k), want[k]);  // no padding at the end of a line
      line += "  " + cell;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    return line;
  };
  out << header << text_cells([&](size_t k) { return std::string(KeyHeader(o.keys[k])); }) << "\n";
  for (uint32_t i : order) {
    const ReportRow& r = table.rows()[i];
    std::string line = absl::StrFormat("%7.2f%%", Percent(r.self, p.total_weight()));
    if (o.total_column) line += absl::StrFormat(" %7.2f%%", Percent(r.total, p.total_weight()));
    if (o.samples_column) {
      line += absl::StrFormat(" %*u", samples_width, by_total ? r.total_count : r.self_count);
    }
    line += absl::StrFormat(" %12s", FormatWeight(by_total ? r.total : r.self, p.unit()));
    out << line << text_cells([&](size_t k) { return r.keys[k]; }) << "\n";
    if (o.call_graph == ReportOptions::CallGraph::kNone) continue;

    // The paths through this row: from the stack's root down (caller) or from the row's frame up
    // to the root (callee). Rows by self weight go through the leaf, rows by total through the
    // outermost frame of the row, on into what it called.
    CallTree tree;
    std::vector<std::string_view> path;
    for (size_t s = 0; s < p.stacks().size(); ++s) {
      const View::Stack& stack = p.stacks()[s];
      if (stack.frames.empty()) continue;
      const std::vector<uint32_t>& f = stack.frames;
      size_t at = f.size() - 1;
      if (!table.by_frame() || !by_total) {
        if (table.Row(s, f.back()) != i) continue;
      } else {
        at = 0;
        while (at < f.size() && table.Row(s, f[at]) != i) ++at;
        if (at == f.size()) continue;
      }
      path.clear();
      if (o.call_graph == ReportOptions::CallGraph::kCallee) {
        for (size_t j = at + 1; j-- > 0;) path.push_back(p.frame(f[j]).name);
      } else {
        const bool down = by_total && table.by_frame();
        for (size_t j = down ? at : 0; j < (down ? f.size() : at + 1); ++j) {
          path.push_back(p.frame(f[j]).name);
        }
      }
      tree.Add(path, stack.weight);
    }
    tree.Write(p.total_weight(), std::max(o.percent_limit, kGraphPercent), o.width, out);
    out << "\n";
  }
}

}  // namespace

void WriteReport(const Recording& r, const View& p, const ReportOptions& options,
                 std::ostream& out) {
  if (options.header) {
    auto command = r.metadata.find("command");
    const std::string events =
        absl::StrJoin(options.events.empty() ? r.event_names : options.events, ",");
    // A long command is cut, not what the report holds.
    const std::string holds = absl::StrFormat("   (%s; %u samples, %s%s)", events, p.total_count(),
                                              FormatWeight(p.total_weight(), p.unit()),
                                              p.unit() == WeightUnit::kCount ? " events" : "");
    constexpr absl::string_view kTitle = "# dprof report: ";
    std::string what = command == r.metadata.end() ? "(unknown command)" : command->second;
    if (options.width != 0) {
      const size_t fixed = kTitle.size() + Columns(holds);
      what = Cut(what, std::max<size_t>(options.width > fixed ? options.width - fixed : 0, 12));
    }
    const std::string line = absl::StrCat(kTitle, what, holds);
    out << (options.width == 0 ? line : Cut(line, options.width)) << "\n";
    if (r.metadata.contains("user_only")) {
      WriteWrapped(
          "# user space only: this user may not sample the kernel "
          "(kernel.perf_event_paranoid); no kernel frames",
          options.width, out);
    }
  }
  if (options.functions) WriteRows(p, options, out);
  if (options.stats) {
    std::ostringstream stats;
    WriteStats(r, p, options.debuginfod, stats);
    WriteWrapped(stats.str(), options.width, out);
  }
  if (options.header && !options.other_events.empty()) {
    WriteWrapped(absl::StrCat("# also recorded: ", absl::StrJoin(options.other_events, ", "),
                              "; show them with --event NAME, --on-cpu or --off-cpu"),
                 options.width, out);
  }
}

}  // namespace dprof::profile
