#include "dprof/profile/window_recorder.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dprof::profile {

WindowRecorder::WindowRecorder(const stackdepot::Depot* depot,
                               std::map<std::string, std::string> metadata,
                               std::vector<std::string> event_names, Options options, Cut cut)
    : depot_(depot),
      metadata_(std::move(metadata)),
      event_names_(std::move(event_names)),
      options_(std::move(options)),
      cut_(std::move(cut)),
      start_ns_(event::MonotonicNs()),
      unix_minus_monotonic_ns_(absl::GetCurrentTimeNanos() - static_cast<int64_t>(start_ns_)) {
  options_.length_ns = std::max<uint64_t>(options_.length_ns, 1);
  std::unique_ptr<Recorder> first = NewRecorder(0);
  sync::MutexLock lock(&mu_);
  current_ = std::move(first);
}

WindowRecorder::~WindowRecorder() = default;

std::unique_ptr<Recorder> WindowRecorder::NewRecorder(uint64_t index) const {
  // The window's own start (pprof's time of the profile), in the recording's RFC 3339 form.
  std::map<std::string, std::string> metadata = metadata_;
  metadata["start_time"] = absl::FormatTime(
      absl::RFC3339_full,
      absl::FromUnixNanos(static_cast<int64_t>(WindowStart(index)) + unix_minus_monotonic_ns_),
      absl::UTCTimeZone());
  std::unique_ptr<Recorder> r = Recorder::CreateInMemory(depot_, metadata, event_names_,
                                                         {.tracepoints = options_.tracepoints});
  // What the processes alive did before the window: their forks, names and mappings.
  for (const event::TaskRecord& t : tasks_) r->OnTask(t);
  for (const KeptComm& c : comms_) {
    event::CommRecord record = c.record;
    record.comm = c.comm;
    r->OnComm(record);
  }
  for (const KeptMmap& m : mmaps_) {
    event::Mmap2Record record = m.record;
    record.filename = m.filename;
    record.build_id = m.build_id;
    r->OnMmap(record);
  }
  return r;
}

void WindowRecorder::Advance(uint64_t now_ns) {
  if (closed_) return;
  std::vector<Window> ready;
  while (now_ns >= WindowStart(next_index_ + 1)) {
    // The open window ends. The next one starts with the records of the processes alive.
    const uint64_t next_start = WindowStart(next_index_ + 1);
    Forget(next_start - options_.length_ns);
    std::unique_ptr<Recorder> fresh = NewRecorder(next_index_ + 1);
    sync::MutexLock lock(&mu_);
    if (previous_ != nullptr) ready.push_back(Take(previous_, next_index_ - 1));
    previous_ = std::move(current_);
    current_ = std::move(fresh);
    ++next_index_;
  }
  {
    sync::MutexLock lock(&mu_);
    if (previous_ != nullptr && now_ns >= WindowStart(next_index_) + options_.grace_ns) {
      ready.push_back(Take(previous_, next_index_ - 1));
    }
  }
  for (Window& w : ready) cut_(std::move(w));
}

WindowRecorder::Window WindowRecorder::Take(std::unique_ptr<Recorder>& recorder,
                                            uint64_t index) const {
  return Window{.index = index,
                .start_ns = WindowStart(index),
                .end_ns = WindowStart(index + 1),
                .recorder = std::move(recorder)};
}

void WindowRecorder::Forget(uint64_t before_ns) {
  // A process's last start (fork into it, or exec) and its last exit.
  absl::flat_hash_map<uint32_t, uint64_t> born, exited;
  absl::flat_hash_map<uint32_t, uint32_t> parent;         // process -> the one it was forked from
  absl::flat_hash_map<uint32_t, uint64_t> thread_exited;  // thread (not a process) -> when
  for (const event::TaskRecord& t : tasks_) {
    if (!t.exit && t.pid != t.ppid) {
      born[t.pid] = std::max(born[t.pid], t.time);
      parent[t.pid] = t.ppid;
    }
    if (t.exit && t.pid == t.tid) exited[t.pid] = std::max(exited[t.pid], t.time);
    if (t.exit && t.pid != t.tid) thread_exited[t.tid] = std::max(thread_exited[t.tid], t.time);
  }
  for (const KeptComm& c : comms_) {
    if (c.record.exec) born[c.record.pid] = std::max(born[c.record.pid], c.record.sid.time);
  }
  // What a process did up to an exit before the window is gone with it; a pid reused later has
  // its new process's records after that exit.
  absl::flat_hash_map<uint32_t, uint64_t> gone;  // process -> its exit
  for (const auto& [pid, time] : exited) {
    if (time < before_ns) gone[pid] = time;
  }
  // A process still alive keeps the line it was forked from.
  for (const auto& [child, from] : parent) {
    auto e = exited.find(child);
    auto b = born.find(child);
    const bool alive = e == exited.end() || (b != born.end() && b->second > e->second);
    if (!alive) continue;
    for (uint32_t p = from, hops = 0; hops < 64; ++hops) {
      gone.erase(p);
      auto it = parent.find(p);
      if (it == parent.end()) break;
      p = it->second;
    }
  }
  // A record of a process that is gone (up to its exit: a later one of the pid is its successor's),
  // or of a thread that exited before the window.
  auto stale = [&](uint32_t pid, uint32_t tid, uint64_t time) {
    if (auto g = gone.find(pid); g != gone.end() && time <= g->second) return true;
    if (pid == tid) return false;
    auto t = thread_exited.find(tid);
    return t != thread_exited.end() && t->second < before_ns && time <= t->second;
  };
  std::erase_if(tasks_, [&](const event::TaskRecord& t) { return stale(t.pid, t.tid, t.time); });
  std::erase_if(comms_, [&](const KeptComm& c) {
    return stale(c.record.pid, c.record.tid, c.record.sid.time);
  });
  std::erase_if(mmaps_, [&](const KeptMmap& m) {
    return stale(m.record.pid, m.record.pid, m.record.sid.time);
  });
  // Of a thread's names only the latest matters; of a process's mappings at one address and
  // length, only the latest.
  absl::flat_hash_map<uint32_t, size_t> latest_name;
  for (size_t i = 0; i < comms_.size(); ++i) {
    if (!comms_[i].record.exec) latest_name[comms_[i].record.tid] = i;
  }
  size_t i = 0;
  std::erase_if(comms_, [&](const KeptComm& c) {
    const size_t at = i++;
    return !c.record.exec && latest_name[c.record.tid] != at;
  });
  absl::flat_hash_map<std::tuple<uint32_t, uint64_t, uint64_t>, size_t> latest_map;
  for (size_t j = 0; j < mmaps_.size(); ++j) {
    const event::Mmap2Record& m = mmaps_[j].record;
    latest_map[{m.pid, m.address, m.length}] = j;
  }
  size_t k = 0;
  std::erase_if(mmaps_, [&](const KeptMmap& m) {
    const size_t at = k++;
    return latest_map[{m.record.pid, m.record.address, m.record.length}] != at;
  });
}

void WindowRecorder::OnEvent(const event::TraceEvent& e) {
  Advance(e.time_ns);
  sync::MutexLock lock(&mu_);
  // An event of the window before, delivered late (another CPU's buffer): into that window while
  // it waits for user stacks; after that it has no window left, and is counted.
  Recorder* to = current_.get();
  if (e.time_ns < WindowStart(next_index_)) {
    to = previous_.get();
    if (to == nullptr || e.time_ns < WindowStart(next_index_ - 1)) {
      ++late_events_;
      return;
    }
  }
  if (to != nullptr) to->OnEvent(e);
}

void WindowRecorder::OnUserStack(cookie::Cookie cookie, const event::UserStackTrace& trace) {
  // The cookie's events may lie in either open window: both keep the stack (a recording keeps a
  // user stack no event refers to, and names nothing for it).
  sync::MutexLock lock(&mu_);
  if (current_ != nullptr) current_->OnUserStack(cookie, trace);
  if (previous_ != nullptr) previous_->OnUserStack(cookie, trace);
}

void WindowRecorder::OnComm(const event::CommRecord& c) {
  KeptComm& kept = comms_.emplace_back(KeptComm{.record = c, .comm = std::string(c.comm)});
  kept.record.comm = {};
  if (c.exec) {
    // The program before the exec is gone for good: its names and mappings with it.
    const uint64_t at = c.sid.time;
    std::erase_if(
        mmaps_, [&](const KeptMmap& m) { return m.record.pid == c.pid && m.record.sid.time < at; });
  }
  sync::MutexLock lock(&mu_);
  if (current_ != nullptr) current_->OnComm(c);
}

void WindowRecorder::OnTask(const event::TaskRecord& t) {
  tasks_.push_back(t);
  sync::MutexLock lock(&mu_);
  if (current_ != nullptr) current_->OnTask(t);
}

void WindowRecorder::OnMmap(const event::Mmap2Record& m) {
  KeptMmap& kept = mmaps_.emplace_back(
      KeptMmap{.record = m,
               .filename = std::string(m.filename),
               .build_id = std::vector<uint8_t>(m.build_id.begin(), m.build_id.end())});
  kept.record.filename = {};
  kept.record.build_id = {};
  sync::MutexLock lock(&mu_);
  if (current_ != nullptr) current_->OnMmap(m);
}

void WindowRecorder::OnTick(uint64_t now_ns) {
  Advance(now_ns);
  sync::MutexLock lock(&mu_);
  if (current_ != nullptr) current_->OnTick(now_ns);
  if (previous_ != nullptr) previous_->OnTick(now_ns);
}

void WindowRecorder::Close(uint64_t now_ns) {
  if (closed_) return;
  Advance(now_ns);
  closed_ = true;
  std::vector<Window> last;
  {
    sync::MutexLock lock(&mu_);
    if (previous_ != nullptr) last.push_back(Take(previous_, next_index_ - 1));
    Window open = Take(current_, next_index_);
    open.end_ns = std::max(now_ns, open.start_ns);
    last.push_back(std::move(open));
    ++next_index_;
  }
  for (Window& w : last) cut_(std::move(w));
}

}  // namespace dprof::profile
