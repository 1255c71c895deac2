#include "profile/internal/event_sites.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"

namespace dprof::profile::internal {

void EventSites::AddSite(const Event& e, StackId user_stack) {
  auto [it, inserted] = sites_.try_emplace(Key(e.pid, e.kernel_stack, user_stack, e.user_mode),
                                           Span{.first_ns = e.time_ns, .last_ns = e.time_ns});
  if (inserted) return;
  it->second.first_ns = std::min(it->second.first_ns, e.time_ns);
  it->second.last_ns = std::max(it->second.last_ns, e.time_ns);
}

void EventSites::Add(std::span<const Event> events, const UserStacks& user_stacks) {
  for (const Event& e : events) {
    switch (e.user) {
      case event::UserStack::kInline:
        AddSite(e, e.user_stack);
        break;
      case event::UserStack::kDeferred:
        if (auto it = user_stacks.find(e.cookie); it != user_stacks.end()) {
          AddSite(e, it->second.stack);
        } else {
          waiting_[e.cookie].push_back(e);
        }
        break;
      default:
        AddSite(e, kNoStack);
        break;
    }
  }
}

void EventSites::Arrived(std::span<const std::pair<cookie::Cookie, UserStackEntry>> stacks) {
  for (const auto& [cookie, entry] : stacks) {
    auto it = waiting_.find(cookie);
    if (it == waiting_.end()) continue;
    for (const Event& e : it->second) AddSite(e, entry.stack);
    waiting_.erase(it);
  }
}

size_t EventSites::waiting() const {
  size_t n = 0;
  for (const auto& [cookie, events] : waiting_) n += events.size();
  return n;
}

std::vector<Event> EventSites::Representatives(const Recording& timeline) const {
  // The moments each process's own address space changed, and the processes it was forked from.
  absl::flat_hash_map<uint32_t, std::vector<uint64_t>> moments;
  absl::flat_hash_map<uint32_t, std::vector<uint32_t>> parents;
  for (const Mapping& m : timeline.mappings) moments[m.pid].push_back(m.time_ns);
  for (const TaskChange& t : timeline.tasks) {
    if (t.exit || t.pid == t.ppid) continue;
    moments[t.pid].push_back(t.time_ns);
    parents[t.pid].push_back(t.ppid);
  }
  for (const ThreadName& t : timeline.threads) {
    if (t.exec) moments[t.pid].push_back(t.time_ns);
  }
  for (auto& [pid, times] : moments) {
    std::sort(times.begin(), times.end());
    times.erase(std::unique(times.begin(), times.end()), times.end());
  }

  std::vector<Event> out;
  out.reserve(sites_.size());
  auto add = [&out](uint32_t pid, StackId kernel, StackId user, bool user_mode, uint64_t time_ns) {
    out.push_back(
        Event{.pid = pid,
              .time_ns = time_ns,
              .user_mode = user_mode,
              .kernel_stack = kernel,
              .user = user == kNoStack ? event::UserStack::kNone : event::UserStack::kInline,
              .user_stack = user});
  };
  std::vector<uint32_t> line;
  absl::flat_hash_set<uint32_t> seen;
  std::vector<uint64_t> within;
  for (const auto& [key, span] : sites_) {
    const auto [pid, kernel, user, user_mode] = key;
    add(pid, kernel, user, user_mode, span.first_ns);
    if (span.last_ns == span.first_ns) continue;
    // The process and its ancestors (a pid reused has several: all of them).
    line.assign(1, pid);
    seen.clear();
    seen.insert(pid);
    for (size_t i = 0; i < line.size(); ++i) {
      auto it = parents.find(line[i]);
      if (it == parents.end()) continue;
      for (uint32_t parent : it->second) {
        if (seen.insert(parent).second) line.push_back(parent);
      }
    }
    within.clear();
    for (uint32_t p : line) {
      auto it = moments.find(p);
      if (it == moments.end()) continue;
      const std::vector<uint64_t>& times = it->second;
      auto from = std::upper_bound(times.begin(), times.end(), span.first_ns);
      auto to = std::upper_bound(from, times.end(), span.last_ns);
      within.insert(within.end(), from, to);
    }
    std::sort(within.begin(), within.end());
    within.erase(std::unique(within.begin(), within.end()), within.end());
    for (uint64_t t : within) add(pid, kernel, user, user_mode, t);
  }
  for (const auto& [cookie, events] : waiting_) {
    for (const Event& e : events) add(e.pid, e.kernel_stack, kNoStack, e.user_mode, e.time_ns);
  }
  return out;
}

}  // namespace dprof::profile::internal
