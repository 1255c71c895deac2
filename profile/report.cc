#include "dprof/profile/report.h"

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

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
void WriteUnnamed(const Recording& r, const UnnamedCounts& u, std::ostream& out) {
  out << absl::StrFormat("#   unnamed user frames %u of %u (%.2f%%)\n", u.unnamed(), u.user_frames,
                         Percent(u.unnamed(), u.user_frames));
  uint64_t start_ns = ~uint64_t{0};
  for (const Event& e : r.events) start_ns = std::min(start_ns, e.time_ns);
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
  }
}

void WriteStats(const Recording& r, const Profile& p, std::ostream& out) {
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
  const StitchCounts& c = p.stitch_counts();
  uint64_t orphans = 0;
  for (int i = 1; i < kNumOrphans; ++i) orphans += c.orphans[i];  // [0] counts the non-orphans
  out << absl::StrFormat("#   stitched %u, kernel-walked %u, orphans %u\n", c.stitched,
                         c.inline_user, orphans);
  for (int i = 1; i < kNumOrphans; ++i) {
    if (c.orphans[i] == 0) continue;
    out << absl::StrFormat("#     %u %s\n", c.orphans[i], OrphanFrame(static_cast<Orphan>(i)));
  }
  WriteUnnamed(r, p.unnamed_counts(), out);
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

std::vector<FunctionWeight> FunctionWeights(const Profile& p, ReportOptions::Sort sort) {
  // Frames merge by (name, module): one row per function, whatever its lines.
  absl::flat_hash_map<std::pair<std::string, std::string>, uint32_t> row_of;
  std::vector<uint32_t> frame_row(p.frames().size());
  std::vector<FunctionWeight> rows;
  for (size_t i = 0; i < p.frames().size(); ++i) {
    const Profile::Frame& f = p.frames()[i];
    auto [it, inserted] =
        row_of.try_emplace(std::pair(f.name, f.module), static_cast<uint32_t>(rows.size()));
    if (inserted)
      rows.push_back(FunctionWeight{.name = f.name,
                                    .module = std::filesystem::path(f.module).filename().string()});
    frame_row[i] = it->second;
  }
  absl::flat_hash_set<uint32_t> seen;
  for (const Profile::Stack& s : p.stacks()) {
    if (s.frames.empty()) continue;
    rows[frame_row[s.frames.back()]].self += s.weight;
    seen.clear();
    for (uint32_t f : s.frames) {
      if (seen.insert(frame_row[f]).second) rows[frame_row[f]].total += s.weight;
    }
  }
  std::sort(rows.begin(), rows.end(), [sort](const FunctionWeight& a, const FunctionWeight& b) {
    const uint64_t ka = sort == ReportOptions::Sort::kSelf ? a.self : a.total;
    const uint64_t kb = sort == ReportOptions::Sort::kSelf ? b.self : b.total;
    if (ka != kb) return ka > kb;
    return std::tie(a.name, a.module) < std::tie(b.name, b.module);
  });
  return rows;
}

void WriteReport(const Recording& r, const Profile& p, const ReportOptions& options,
                 std::ostream& out) {
  auto command = r.metadata.find("command");
  const std::string events =
      absl::StrJoin(options.events.empty() ? r.event_names : options.events, ",");
  out << absl::StrFormat("# dprof report: %s   (%s; %u events, %s)\n",
                         command == r.metadata.end() ? "(unknown command)" : command->second,
                         events, p.total_count(), FormatWeight(p.total_weight(), p.unit()));
  if (r.metadata.contains("user_only")) {
    out << "# user space only: this user may not sample the kernel (kernel.perf_event_paranoid); "
           "no kernel frames\n";
  }
  if (options.functions) {
    const char* unit = p.unit() == WeightUnit::kCount ? "Self" : "Self time";
    out << absl::StrFormat("%8s %8s %12s  %-48s %s\n", "Self", "Total", unit, "Function", "Module");
    std::vector<FunctionWeight> rows = FunctionWeights(p, options.sort);
    if (options.top != 0 && rows.size() > options.top) rows.resize(options.top);
    for (const FunctionWeight& row : rows) {
      out << absl::StrFormat("%7.2f%% %7.2f%% %12s  %-48s %s\n",
                             Percent(row.self, p.total_weight()),
                             Percent(row.total, p.total_weight()), FormatWeight(row.self, p.unit()),
                             row.name, row.module);
    }
  }
  if (options.stats) WriteStats(r, p, out);
}

}  // namespace dprof::profile
