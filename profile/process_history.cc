#include "dprof/profile/process_history.h"

#include <algorithm>
#include <tuple>

namespace dprof::profile {

namespace {

const std::string kNoName;
const std::string kSwapper = "swapper";  // the idle task, as the kernel and perf call it

// The kinds of records the history replays, in the order they apply at one timestamp: a thread
// made then is named after its creator's name of then; a mapping then lands in the space an
// exec or a fork made then.
enum class Kind : uint8_t { kName, kFork, kMapping };

}  // namespace

ProcessHistory::ProcessHistory(const Recording& r) : recording_(&r) {
  std::vector<std::tuple<uint64_t, Kind, uint32_t>> order;
  order.reserve(r.tasks.size() + r.threads.size() + r.mappings.size());
  for (uint32_t i = 0; i < r.tasks.size(); ++i) {
    if (!r.tasks[i].exit) order.emplace_back(r.tasks[i].time_ns, Kind::kFork, i);
  }
  for (uint32_t i = 0; i < r.threads.size(); ++i) {
    order.emplace_back(r.threads[i].time_ns, Kind::kName, i);
  }
  for (uint32_t i = 0; i < r.mappings.size(); ++i) {
    order.emplace_back(r.mappings[i].time_ns, Kind::kMapping, i);
  }
  std::sort(order.begin(), order.end());

  auto begin_space = [this](uint32_t pid, uint64_t time_ns, int32_t parent,
                            int32_t before_exec = -1) {
    spaces_.push_back(Space{
        .start_ns = time_ns, .parent = parent, .fork_ns = time_ns, .before_exec = before_exec});
    spaces_of_[pid].push_back(static_cast<int32_t>(spaces_.size() - 1));
  };
  for (const auto& [time_ns, kind, i] : order) {
    switch (kind) {
      case Kind::kFork: {
        const TaskChange& t = r.tasks[i];
        // The kernel copies the creator's name into the new thread.
        if (const std::string& creator = NameAt(t.ppid, t.ptid, time_ns); !creator.empty()) {
          names_[t.tid].emplace_back(time_ns, &creator);
        }
        if (t.pid != t.ppid) begin_space(t.pid, time_ns, SpaceAt(t.ppid, time_ns));
        break;
      }
      case Kind::kName: {
        const ThreadName& t = r.threads[i];
        if (t.exec) begin_space(t.pid, time_ns, -1, SpaceAt(t.pid, time_ns));
        names_[t.tid].emplace_back(time_ns, &t.comm);
        break;
      }
      case Kind::kMapping: {
        const uint32_t pid = r.mappings[i].pid;
        // A process seen before any fork or exec of it (running when the recording began).
        if (!spaces_of_.contains(pid)) begin_space(pid, 0, -1);
        spaces_[spaces_of_[pid].back()].by_start.push_back(i);
        break;
      }
    }
  }

  for (Space& s : spaces_) {
    std::stable_sort(s.by_start.begin(), s.by_start.end(), [&r](uint32_t a, uint32_t b) {
      return r.mappings[a].start < r.mappings[b].start;
    });
    s.max_end.resize(s.by_start.size());
    uint64_t max_end = 0;
    for (size_t j = 0; j < s.by_start.size(); ++j) {
      max_end = std::max(max_end, r.mappings[s.by_start[j]].end);
      s.max_end[j] = max_end;
    }
  }
}

int32_t ProcessHistory::SpaceAt(uint32_t pid, uint64_t time_ns) const {
  auto it = spaces_of_.find(pid);
  if (it == spaces_of_.end()) return -1;
  const std::vector<int32_t>& list = it->second;
  // The last space begun at or before the moment; before the first, the first.
  auto at = std::upper_bound(list.begin(), list.end(), time_ns,
                             [this](uint64_t t, int32_t s) { return t < spaces_[s].start_ns; });
  return at == list.begin() ? list.front() : *std::prev(at);
}

std::pair<uint32_t, uint32_t> ProcessHistory::OwnMappingAt(const Space& s, uint64_t time_ns,
                                                           uint64_t address) const {
  const std::vector<Mapping>& mappings = recording_->mappings;
  auto after =
      std::upper_bound(s.by_start.begin(), s.by_start.end(), address,
                       [&mappings](uint64_t a, uint32_t m) { return a < mappings[m].start; });
  uint32_t past = kNoMapping, future = kNoMapping;
  auto key = [&mappings](uint32_t m) { return std::pair(mappings[m].time_ns, m); };
  // Mappings that start at or below the address, walked down while one of them may still reach
  // it.
  for (size_t j = static_cast<size_t>(after - s.by_start.begin());
       j-- > 0 && s.max_end[j] > address;) {
    const uint32_t m = s.by_start[j];
    if (address >= mappings[m].end) continue;
    if (mappings[m].time_ns <= time_ns) {
      if (past == kNoMapping || key(m) > key(past)) past = m;
    } else if (future == kNoMapping || key(m) < key(future)) {
      future = m;
    }
  }
  return {past, future};
}

std::pair<uint32_t, uint32_t> ProcessHistory::MappingAlong(int32_t space, uint64_t time_ns,
                                                           uint64_t address) const {
  uint64_t at = time_ns;
  uint32_t future = kNoMapping;
  for (int32_t s = space; s >= 0; s = spaces_[s].parent) {
    const auto [past, later] = OwnMappingAt(spaces_[s], at, address);
    if (past != kNoMapping) return {past, kNoMapping};
    if (future == kNoMapping) future = later;
    at = std::min(at, spaces_[s].fork_ns);
  }
  return {kNoMapping, future};
}

uint32_t ProcessHistory::MappingAt(uint32_t pid, uint64_t time_ns, uint64_t address,
                                   bool in_kernel) const {
  // The process's own space, then each ancestor's as it was when the line forked from it. A
  // mapping recorded later counts only when none of the moment holds the address, nor (in the
  // kernel) the old program's just before an exec.
  const int32_t space = SpaceAt(pid, time_ns);
  const auto [past, future] = MappingAlong(space, time_ns, address);
  if (past != kNoMapping) return past;
  if (in_kernel && space >= 0 && spaces_[space].before_exec >= 0) {
    const Space& exec = spaces_[space];
    if (const uint32_t old = MappingAlong(exec.before_exec, exec.start_ns, address).first;
        old != kNoMapping) {
      return old;
    }
  }
  return future;
}

const std::string* ProcessHistory::NameIn(const Names& names, uint64_t time_ns) const {
  auto at = std::upper_bound(names.begin(), names.end(), time_ns,
                             [](uint64_t t, const auto& entry) { return t < entry.first; });
  return at == names.begin() ? names.front().second : std::prev(at)->second;
}

const std::string& ProcessHistory::NameAt(uint32_t pid, uint32_t tid, uint64_t time_ns) const {
  if (tid == 0) return kSwapper;
  for (uint32_t id : {tid, pid}) {
    if (auto it = names_.find(id); it != names_.end() && !it->second.empty()) {
      return *NameIn(it->second, time_ns);
    }
  }
  return kNoName;
}

absl::flat_hash_map<uint32_t, std::string> ProcessHistory::LatestNames() const {
  absl::flat_hash_map<uint32_t, std::string> latest;
  for (const auto& [tid, names] : names_) latest.emplace(tid, *names.back().second);
  latest.try_emplace(0, kSwapper);
  return latest;
}

}  // namespace dprof::profile
