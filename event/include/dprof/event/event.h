// dprof::event — the contract between what produces events and what consumes them.
//
// A source (the perf_event Tracer, the TimerSampler of a process profiling itself, and later a
// perf.data reader) turns what it observes into TraceEvents, user stacks delivered by cookie, and
// task records (names, forks, exits, mappings), and hands them to a TraceSink: the Recorder, a
// live view, a caller's own sink. Nothing here opens a perf event: the offline views (report,
// flame graph, export, stat) depend on this header and the stack depot, never on the tracer.
//
// Example:
//   class Counter : public event::ForwardingSink {   // sees events, passes everything on
//    public:
//     using ForwardingSink::ForwardingSink;
//     void OnEvent(const event::TraceEvent& e) override { ++n; ForwardingSink::OnEvent(e); }
//     uint64_t n = 0;
//   };
//   Counter counter({&recorder});
//   auto tracer = tracer::Tracer::Create(options, &counter).value();
//
// Context: types only; TraceSink's comment says which thread calls what.
#ifndef DPROF_EVENT_EVENT_H_
#define DPROF_EVENT_EVENT_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/cookie/cookie.h"
#include "dprof/stackdepot/depot.h"
#include "dprof/unwind/binary.h"
#include "dprof/unwind/deferred_unwinder.h"
#include "dprof/unwind/unwinder.h"

namespace dprof::event {

// Tags a source puts in the caller-owned bits of the handles it saves.
inline constexpr uint32_t kKernelStackTag = 1;
inline constexpr uint32_t kUserStackTag = 2;

// A user stack copy size as every source takes it: `bytes` rounded down to a multiple of 8 (the
// kernel's unit), or InvalidArgument naming the range (8 to unwind::kMaxStackCopy).
absl::StatusOr<uint32_t> CheckStackSize(uint32_t bytes);

// The clock every event's time_ns is on: CLOCK_MONOTONIC, in nanoseconds.
uint64_t MonotonicNs();

enum class EventKind : uint8_t {
  kSample,      // a counter overflowed: cpu-clock, task-clock, page-faults
  kTracepoint,  // a tracepoint hit
  kOffCpu,      // a thread was off the CPU from time_ns for weight nanoseconds
};

// Where the user half of an event's stack comes from.
enum class UserStack : uint8_t {
  kDeferred,  // TraceSink::OnUserStack(cookie) delivers it (dwarf, native)
  kInline,    // user_stack holds it (frame pointers)
  kNone,      // no user context: a kernel thread, or call graphs off
  kDropped,   // the engine's queue was full: the snapshot was dropped (counted)
  kMissing,   // the sample had no usable registers or stack (counted)
};

struct TraceEvent {
  EventKind kind = EventKind::kSample;
  uint32_t event = 0;  // index into the source's events (off-CPU: their count)
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t cpu = 0;
  uint64_t time_ns = 0;    // CLOCK_MONOTONIC
  uint64_t weight = 0;     // period (ns for the clocks), 1 per tracepoint hit, ns off the CPU
  bool user_mode = false;  // interrupted user code (no kernel frames then)
  stackdepot::Handle kernel_stack = stackdepot::kNoHandle;
  UserStack user = UserStack::kNone;
  cookie::Cookie cookie = cookie::kNoCookie;              // kDeferred
  stackdepot::Handle user_stack = stackdepot::kNoHandle;  // kInline
  std::span<const uint8_t> raw = {};                      // tracepoint fields; valid during OnEvent
  // The frames of a stack the depot refused to store (full: TracerStats::depot counts it), whose
  // handle is then kNoHandle; valid during OnEvent. A recording keeps them all the same.
  std::span<const uint64_t> kernel_pcs = {};
  std::span<const uint64_t> user_pcs = {};  // kInline
};

struct UserStackTrace {
  std::span<const uint64_t> pcs = {};  // innermost first; valid during the call
  stackdepot::Handle handle = stackdepot::kNoHandle;
  unwind::StopReason reason = unwind::StopReason::kOutermost;
  bool native = false;  // from the kernel (PERF_RECORD_CALLCHAIN_DEFERRED), not an unwind
};

// Which task and when, as a source knows it for any record (perf's sample_id).
struct SampleId {
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t time = 0;
  uint32_t cpu = 0;
  uint64_t id = 0;  // the perf event behind the record
};

// An executable mapping appeared (mmap), or was already there when recording began.
struct Mmap2Record {
  SampleId sid;
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t address = 0;
  uint64_t length = 0;
  uint64_t pgoff = 0;
  std::span<const uint8_t> build_id = {};  // when the kernel gave one (attr.build_id)
  uint32_t prot = 0;
  uint32_t flags = 0;
  std::string_view filename = {};
};

// A task's name changed.
struct CommRecord {
  SampleId sid;
  uint32_t pid = 0;
  uint32_t tid = 0;
  std::string_view comm = {};
  bool exec = false;  // the name changed because the task exec'd
};

// A task forked or exited (PERF_RECORD_FORK and PERF_RECORD_EXIT share a layout).
struct TaskRecord {
  SampleId sid;
  bool exit = false;
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint32_t tid = 0;
  uint32_t ptid = 0;
  uint64_t time = 0;
};

// Receives what a source produces. OnEvent and the task callbacks run on the source's reader
// thread, in time order. OnUserStack runs on unwind worker threads (dwarf) or the reader thread
// (native), possibly before or after the events with that cookie, and concurrently with OnEvent.
class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void OnEvent(const TraceEvent& event) = 0;
  virtual void OnUserStack(cookie::Cookie cookie, const UserStackTrace& trace) = 0;
  virtual void OnComm(const CommRecord&) {}
  virtual void OnTask(const TaskRecord&) {}  // fork or exit
  // Executable mappings: from MMAP2 records, and those of /proc/PID/maps for processes that were
  // running before the recording began (synthesized, as perf does).
  virtual void OnMmap(const Mmap2Record&) {}
  // Once per round of the reader's loop, after the round's events (at least every 100 ms while
  // the source runs, also when nothing happens): `now_ns` is CLOCK_MONOTONIC. Where a sink does
  // periodic work on the reader thread: flushing, a status line, checking its own failures.
  virtual void OnTick(uint64_t /*now_ns*/) {}
};

// A sink that passes every call on to each of `next`, in order: derive from it to see some of
// the calls and forward all of them.
class ForwardingSink : public TraceSink {
 public:
  explicit ForwardingSink(std::vector<TraceSink*> next = {}) : next_(std::move(next)) {}
  void Add(TraceSink* next) { next_.push_back(next); }

  void OnEvent(const TraceEvent& e) override {
    for (TraceSink* s : next_) s->OnEvent(e);
  }
  void OnUserStack(cookie::Cookie c, const UserStackTrace& t) override {
    for (TraceSink* s : next_) s->OnUserStack(c, t);
  }
  void OnComm(const CommRecord& r) override {
    for (TraceSink* s : next_) s->OnComm(r);
  }
  void OnTask(const TaskRecord& r) override {
    for (TraceSink* s : next_) s->OnTask(r);
  }
  void OnMmap(const Mmap2Record& r) override {
    for (TraceSink* s : next_) s->OnMmap(r);
  }
  void OnTick(uint64_t now_ns) override {
    for (TraceSink* s : next_) s->OnTick(now_ns);
  }

 private:
  std::vector<TraceSink*> next_;
};

enum class TracerStat : int {
  kSamples,  // counter samples
  kTracepointHits,
  kOffCpuIntervals,
  kLost,         // records the kernel could not write (PERF_RECORD_LOST)
  kLostSamples,  // samples lost (PERF_RECORD_LOST_SAMPLES)
  kThrottled,    // PERF_RECORD_THROTTLE: the kernel slowed sampling down
  kUnthrottled,
  kDroppedSnapshots,    // user stack copies the engine's full queue dropped
  kTruncatedSnapshots,  // stack copies that filled stack_size: likely cut short
  kNoUserContext,       // events with no user registers (kernel threads)
  kDeferredCallchains,  // PERF_RECORD_CALLCHAIN_DEFERRED records
  kUnknownRecords,      // record types skipped by size
  kMalformedRecords,    // records that did not parse (skipped)
  kForeignRecords,      // records of no event the tracer opened
  kCorruptBytes,        // ring-buffer bytes discarded after a malformed header
  kFilteredOut,         // system-wide events of other processes than the filter's
  kThreadsNotSampled,   // TimerSampler: threads beyond Options::max_threads
  kCount,
};
inline constexpr int kNumTracerStats = static_cast<int>(TracerStat::kCount);
std::string_view TracerStatName(TracerStat stat);

struct ThreadStats {
  uint64_t samples = 0;
  uint64_t off_cpu = 0;
  uint64_t lost = 0;
  uint64_t throttled = 0;
  uint64_t dropped_snapshots = 0;
  uint64_t truncated_snapshots = 0;
};

struct TracerStats {
  std::array<uint64_t, kNumTracerStats> values{};
  absl::flat_hash_map<uint32_t, ThreadStats> threads;
  unwind::EngineStats engine;    // of the source's engine (or the caller's)
  stackdepot::DepotStats depot;  // of the depot the source saves stacks in

  uint64_t operator[](TracerStat s) const { return values[static_cast<int>(s)]; }
  // Events delivered: counter samples, tracepoint hits and off-CPU intervals.
  uint64_t events() const {
    return (*this)[TracerStat::kSamples] + (*this)[TracerStat::kTracepointHits] +
           (*this)[TracerStat::kOffCpuIntervals];
  }
  // What the kernel could not write: records, and samples among them.
  uint64_t lost() const { return (*this)[TracerStat::kLost] + (*this)[TracerStat::kLostSamples]; }
};

// What produces events for a TraceSink: perf_event (tracer::Tracer), or the CPU-time timer
// signals of a process profiling itself (tracer::TimerSampler). Start() then Run() on one thread;
// RequestStop() from anywhere.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // Begins sampling. Errors name the fix.
  virtual absl::Status Start() = 0;
  // Delivers events until the targets are gone, RequestStop() was called or `duration` passed
  // (0: no limit); then delivers what is left, every user stack included.
  virtual absl::Status Run(std::chrono::nanoseconds duration) = 0;
  // Makes Run() finish. Context: any thread; async-signal-safe.
  virtual void RequestStop() = 0;
  // Context: any thread, also while Run() runs.
  virtual TracerStats Stats() const = 0;
  // Where kernel and user stacks are saved.
  virtual stackdepot::Depot* depot() const = 0;
  // The files opened for unwinding, for a symbolizer.
  virtual unwind::BinaryCache* binaries() const = 0;
};

}  // namespace dprof::event

#endif  // DPROF_EVENT_EVENT_H_
