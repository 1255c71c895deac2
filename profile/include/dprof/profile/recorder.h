// dprof::profile::Recorder — the tracer sink that writes a recording file while recording.
//
// Events, mappings, thread names and forks/exits arrive on the tracer's reader thread, user stacks
// on unwind workers. The recorder keeps them pending and writes chunks from the reader thread:
// every Options::flush_events events, or when Options::flush_interval_ns has passed since the last
// chunk (by event time, and by the tracer's ticks while no events come), and on Flush(). Stacks go
// out before the first chunk that refers to them, each once. A recording killed at any moment is
// readable up to its last chunk.
//
// The file is written once and never read back. What naming the frames at Finish() needs is kept
// as it is written: the mappings, threads and tasks, the stacks, the cookies' user stacks, and
// the events reduced to their distinct sites (internal/event_sites.h). With
// Options::keep_recording (and always in memory) the whole recording is kept instead, and
// TakeRecording() gives it back after Finish() as a reader of the file would see it.
//
// Example:
//   auto depot = stackdepot::Depot::Create({}).value();
//   auto recorder = Recorder::Create("dprof.data", depot.get(), metadata, event_names).value();
//   auto tracer = Tracer::Create({.target = ..., .depot = depot.get()}, recorder.get()).value();
//   tracer->Start();
//   tracer->Run();
//   Symbolizer symbolizer({}, tracer->binaries());
//   recorder->Finish(CountersOf(tracer->Stats()), &symbolizer);
//   absl::StatusOr<Recording> recording = recorder->TakeRecording();  // with keep_recording
//
// Context: OnUserStack() from any thread; everything else from the reader thread (or after
// Tracer::Run() returned).
#ifndef DPROF_PROFILE_RECORDER_H_
#define DPROF_PROFILE_RECORDER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/event/event.h"
#include "dprof/profile/recording.h"
#include "dprof/profile/recording_writer.h"
#include "dprof/profile/symbolizer.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/sync/mutex.h"

namespace dprof::profile {

namespace internal {
class EventSites;
}  // namespace internal

// The counters a recording keeps: the tracer's by name ("samples", "lost records", ...), its
// engine's ("engine.unwinds", ...) and why unwinds stopped ("stopped.no unwind info", ...); and
// per thread.
struct RunCounters {
  std::map<std::string, uint64_t> run;
  std::map<uint32_t, std::map<std::string, uint64_t>> threads;
};
RunCounters CountersOf(const event::TracerStats& stats);

class Recorder : public event::TraceSink {
 public:
  struct Options {
    size_t flush_events = 16384;
    uint64_t flush_interval_ns = 250'000'000;
    mode_t mode = kPrivateMode;  // the file's (RecordingWriter::Options::mode)
    // Keep every event in memory too, for TakeRecording(); otherwise only their sites.
    bool keep_recording = false;
    // The layouts of the tracepoint events' fields, by event index (Recording::tracepoints).
    std::map<uint32_t, event::Tracepoint> tracepoints = {};
  };

  // Creates the file at `path` and writes the metadata. Stacks are read from `depot` (the
  // tracer's), which must outlive the recorder.
  static absl::StatusOr<std::unique_ptr<Recorder>> Create(
      const std::string& path, const stackdepot::Depot* depot,
      const std::map<std::string, std::string>& metadata,
      const std::vector<std::string>& event_names, Options options);
  static absl::StatusOr<std::unique_ptr<Recorder>> Create(
      const std::string& path, const stackdepot::Depot* depot,
      const std::map<std::string, std::string>& metadata,
      const std::vector<std::string>& event_names) {
    return Create(path, depot, metadata, event_names, Options{});
  }

  // Keeps the recording in memory only (no file; Options::keep_recording is implied):
  // TakeRecording() gives it back.
  static std::unique_ptr<Recorder> CreateInMemory(
      const stackdepot::Depot* depot, const std::map<std::string, std::string>& metadata,
      const std::vector<std::string>& event_names, Options options);
  ~Recorder() override;

  void OnEvent(const event::TraceEvent& event) override;
  void OnUserStack(cookie::Cookie cookie, const event::UserStackTrace& trace) override;
  void OnComm(const event::CommRecord& comm) override;
  void OnTask(const event::TaskRecord& task) override;
  void OnMmap(const event::Mmap2Record& mmap) override;
  // Writes what is pending once Options::flush_interval_ns passed since the last chunk: mappings,
  // names and late user stacks of a quiet target reach the file too.
  void OnTick(uint64_t now_ns) override;

  // Writes everything pending.
  absl::Status Flush();
  // After the tracer finished: writes what is pending, the symbols of every address a stored
  // stack references (when given a `symbolizer`: the binaries are still there now, and the file
  // then reports the same anywhere), `counters`, and the end chunk.
  absl::Status Finish(const RunCounters& counters, Symbolizer* symbolizer);

  // The first write that failed; writing stops there (the file stays readable up to it).
  absl::Status status() const { return status_; }
  // 0 in memory.
  uint64_t bytes_written() const { return writer_ ? writer_->bytes_written() : 0; }
  // After Finish(), with Options::keep_recording or in memory: the whole recording, as a reader
  // of the file would see it (FailedPrecondition otherwise). Once.
  absl::StatusOr<Recording> TakeRecording();

 private:
  Recorder(std::unique_ptr<RecordingWriter> writer, const stackdepot::Depot* depot,
           const std::map<std::string, std::string>& metadata,
           const std::vector<std::string>& event_names, Options options);
  // Moves what Flush() wrote (or, in memory, would have written) into what is kept.
  void Keep(std::vector<std::pair<StackId, std::vector<uint64_t>>>& stacks,
            std::vector<std::pair<cookie::Cookie, UserStackEntry>>& user_stacks);
  // Names every address the kept stacks reference and writes the symbols.
  absl::Status WriteSymbols(Symbolizer& symbolizer);
  // The id under which `handle`'s stack is (or will be) written; `pcs` when it has no handle.
  StackId Reference(stackdepot::Handle handle, std::span<const uint64_t> pcs = {})
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<RecordingWriter> writer_;  // null in memory
  const stackdepot::Depot* depot_;
  Options options_;
  absl::Status status_;
  bool finished_ = false;
  bool taken_ = false;

  // What was written, kept: everything with keep_recording; else all but the events and their
  // tracepoint fields, which sites_ stands for. The reader thread's.
  Recording kept_;
  std::unique_ptr<internal::EventSites> sites_;  // without keep_recording

  // Pending; the reader thread's.
  std::vector<Event> events_;
  std::vector<uint8_t> raw_;
  std::vector<Mapping> mappings_;
  std::vector<ThreadName> threads_;
  std::vector<TaskChange> tasks_;
  uint64_t last_flush_ns_ = 0;

  // Stacks and user stacks, which unwind workers add too.
  sync::Mutex mu_;
  std::vector<std::pair<StackId, std::vector<uint64_t>>> stacks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<StackId> known_stacks_ ABSL_GUARDED_BY(mu_);  // written or pending
  std::vector<std::pair<cookie::Cookie, UserStackEntry>> user_stacks_ ABSL_GUARDED_BY(mu_);
  // Stacks not in the depot (it was full) get ids above every depot record.
  static constexpr StackId kOwnStackIds = StackId{1} << 31;
  StackId next_own_id_ ABSL_GUARDED_BY(mu_) = kOwnStackIds;
};

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_RECORDER_H_
