#include "dprof/cookie/context_tracker.h"

#include <algorithm>
#include <vector>

#include "absl/hash/hash.h"

namespace dprof::cookie {

ContextTracker::ContextTracker(CookieAllocator* cookies, const Options& options)
    : cookies_(cookies), options_(options) {
  options_.max_tasks = std::max<size_t>(options_.max_tasks, 8);
}

ContextTracker::TaskState& ContextTracker::StateOf(uint32_t tid, uint64_t time_ns) {
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) {
    if (tasks_.size() >= options_.max_tasks) EvictIdle();
    it = tasks_.try_emplace(tid).first;
  }
  it->second.last_time_ns = std::max(it->second.last_time_ns, time_ns);
  return it->second;
}

Cookie ContextTracker::NewContext(TaskState& state, uint32_t cpu) {
  state.cookie = cookies_->NextOn(cpu);
  state.requested = 0;
  Count(state.cookie == kNoCookie ? TrackerStat::kUnallocated : TrackerStat::kContexts);
  return state.cookie;
}

Cookie ContextTracker::Track(const TaskEvent& event) {
  TaskState& state = StateOf(event.tid, event.time_ns);
  state.native = kNoCookie;
  if (event.user_mode) {
    // The task was in user space: whatever entry it was in has ended, and this sample's stack is
    // its own.
    state.open = false;
    return NewContext(state, event.cpu);
  }
  const uint64_t regs_hash = absl::HashOf(absl::MakeConstSpan(event.user_regs));
  if (state.open && state.regs_hash == regs_hash && state.cookie != kNoCookie) {
    Count(TrackerStat::kJoined);
    return state.cookie;
  }
  state.open = true;
  state.regs_hash = regs_hash;
  return NewContext(state, event.cpu);
}

Cookie ContextTracker::AcceptNative(uint32_t tid, uint32_t cpu, uint64_t time_ns, Cookie native) {
  TaskState& state = StateOf(tid, time_ns);
  if (state.native == native && state.cookie != kNoCookie) {
    Count(IsValid(native) ? TrackerStat::kNativeAccepted : TrackerStat::kJoined);
    return state.cookie;
  }
  state.native = native;
  state.open = false;  // the kernel decides where its entries end
  if (IsValid(native)) {
    Count(TrackerStat::kNativeAccepted);
    state.cookie = native;
    state.requested = 0;
    return native;
  }
  Count(TrackerStat::kNativeInvalid);
  return NewContext(state, cpu);
}

uint64_t ContextTracker::Requested(uint32_t tid) const {
  auto it = tasks_.find(tid);
  return it == tasks_.end() ? 0 : it->second.requested;
}

void ContextTracker::AddRequested(uint32_t tid, uint64_t bits) {
  if (auto it = tasks_.find(tid); it != tasks_.end()) it->second.requested |= bits;
}

void ContextTracker::ClearRequested(uint64_t bits) {
  for (auto& [tid, state] : tasks_) state.requested &= ~bits;
}

void ContextTracker::TaskExited(uint32_t tid) {
  if (tasks_.erase(tid) != 0) Count(TrackerStat::kTasksExited);
}

void ContextTracker::EvictIdle() {
  // Forget the longest-idle eighth at once, so eviction costs O(1) amortized per new task.
  std::vector<std::pair<uint64_t, uint32_t>> by_age;
  by_age.reserve(tasks_.size());
  for (const auto& [tid, state] : tasks_) by_age.emplace_back(state.last_time_ns, tid);
  const size_t drop = std::max<size_t>(1, by_age.size() / 8);
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(drop - 1),
                   by_age.end());
  for (size_t i = 0; i < drop; ++i) tasks_.erase(by_age[i].second);
  stats_[static_cast<int>(TrackerStat::kTasksEvicted)] += drop;
}

}  // namespace dprof::cookie
