// dprof::profile::WindowRecorder — the tracer sink of a continuous profiler: the event stream cut
// into windows of equal length, each kept as an in-memory recording of its own.
//
// Window k holds the events whose time lies in [start + k·length, start + (k+1)·length), where
// `start` is when the recorder was made (CLOCK_MONOTONIC, the events' clock). Each window's
// Recorder (in memory) also gets the mappings, names and forks of every process still alive when
// it begins, so its recording names its frames on its own. A window is cut when the first event
// or tick past its end arrives; it stays open to user stacks that come late (unwinds run behind
// the events) until `grace` after its end, and is then handed to `cut`, not yet finished: the
// caller finishes it (Recorder::Finish, which names the frames) wherever that may take long.
// Windows with no event are handed over too, so the windows tile the run. Close() cuts the last
// one at the moment given. Each window's metadata says when it started (start_time), the rest is
// the metadata given.
//
// An event that arrives after its window was handed over is dropped and counted (late_events()):
// the windows hold only events of their own time.
//
// Memory: one recorder per open window (at most two), plus the task records of the processes
// alive: an exited process's records are dropped at the first window that begins a whole window
// after its exit, unless a live process was forked from it (its mappings are the child's); an
// exited thread's too; of a thread's names only the latest is kept, of a process's mappings at
// one address and length only the latest.
//
// Example:
//   WindowRecorder windows(depot, metadata, event_names, {.length_ns = 10'000'000'000},
//                          [&](WindowRecorder::Window w) { finisher.Push(std::move(w)); });
//   ... the tracer calls windows.OnEvent(...) ...
//   windows.Close(event::MonotonicNs());
//
// Context: OnUserStack() from any thread; everything else from the reader thread (the source's).
// `cut` runs on the reader thread and must not call back into the recorder.
#ifndef DPROF_PROFILE_WINDOW_RECORDER_H_
#define DPROF_PROFILE_WINDOW_RECORDER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "dprof/event/event.h"
#include "dprof/profile/recorder.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/sync/mutex.h"

namespace dprof::profile {

class WindowRecorder : public event::TraceSink {
 public:
  struct Options {
    uint64_t length_ns = 10'000'000'000;
    uint64_t grace_ns = 500'000'000;  // how long a cut window waits for late user stacks
    std::map<uint32_t, event::Tracepoint> tracepoints = {};  // Recorder::Options::tracepoints
  };
  struct Window {
    uint64_t index = 0;  // 0, 1, ... in time order
    uint64_t start_ns = 0;
    uint64_t end_ns = 0;                 // a closed run's last window ends when it was closed
    std::unique_ptr<Recorder> recorder;  // in memory; to Finish() and TakeRecording()
  };
  using Cut = std::function<void(Window)>;

  // `depot` must outlive the recorder and every window handed out.
  WindowRecorder(const stackdepot::Depot* depot, std::map<std::string, std::string> metadata,
                 std::vector<std::string> event_names, Options options, Cut cut);
  ~WindowRecorder() override;

  void OnEvent(const event::TraceEvent& event) override;
  void OnUserStack(cookie::Cookie cookie, const event::UserStackTrace& trace) override;
  void OnComm(const event::CommRecord& comm) override;
  void OnTask(const event::TaskRecord& task) override;
  void OnMmap(const event::Mmap2Record& mmap) override;
  void OnTick(uint64_t now_ns) override;

  // The run ended at `now_ns` (after the source stopped and every user stack arrived): the open
  // windows are handed over, the last one ending at `now_ns`. Once.
  void Close(uint64_t now_ns);

  uint64_t windows_cut() const { return next_index_; }
  // Events that came after their window was handed over (dropped).
  uint64_t late_events() const {
    sync::MutexLock lock(&mu_);
    return late_events_;
  }

 private:
  // A task record kept for the windows to come, owning what the record points at.
  struct KeptMmap {
    event::Mmap2Record record;
    std::string filename;
    std::vector<uint8_t> build_id;
  };
  struct KeptComm {
    event::CommRecord record;
    std::string comm;
  };

  // Cuts every window that ends at or before `now_ns`, and hands over those past their grace.
  void Advance(uint64_t now_ns);
  // Window `index`'s recorder, with the records of the processes alive.
  std::unique_ptr<Recorder> NewRecorder(uint64_t index) const;
  uint64_t WindowStart(uint64_t index) const { return start_ns_ + index * options_.length_ns; }
  // Window `index`, moving `recorder` into it.
  Window Take(std::unique_ptr<Recorder>& recorder, uint64_t index) const;
  // Drops the records of processes that exited before `before_ns` and that no live process was
  // forked from.
  void Forget(uint64_t before_ns);

  const stackdepot::Depot* depot_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::string> event_names_;
  Options options_;
  Cut cut_;

  uint64_t start_ns_;  // the first window's start
  int64_t unix_minus_monotonic_ns_;
  uint64_t next_index_ = 0;  // the open window's index
  bool closed_ = false;
  std::vector<KeptMmap> mmaps_;
  std::vector<KeptComm> comms_;
  std::vector<event::TaskRecord> tasks_;

  // The open window and the one cut but still waiting for user stacks; workers deliver to them.
  mutable sync::Mutex mu_;
  std::unique_ptr<Recorder> current_ ABSL_GUARDED_BY(mu_);
  uint64_t late_events_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<Recorder> previous_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_WINDOW_RECORDER_H_
