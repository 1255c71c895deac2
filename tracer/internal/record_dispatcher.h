// Each perf record, parsed, to the models it changes — the address spaces, the cookies of kernel
// entries, off-CPU intervals, the unwind engine's per-task state — and to the sink: samples as
// events with their stacks attached (internal/sample_stacks.h), mappings, names and tasks as they
// are, losses and throttling counted. The live tracer dispatches through this class, and so will a
// source that replays recorded records; what only a live source does (reading /proc for a
// process first seen, following the target's processes) is its Host's.
//
// Example:
//   RecordDispatcher dispatch({.specs = &specs, .requested = 1}, {}, parts, &host, sink);
//   dispatch.Process(record_bytes);  // in time order
//   dispatch.Finish(now_ns);         // off-CPU intervals still open end now
//
// Context: one thread (the reader); not thread-safe.
#ifndef DPROF_TRACER_INTERNAL_RECORD_DISPATCHER_H_
#define DPROF_TRACER_INTERNAL_RECORD_DISPATCHER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "dprof/cookie/context_tracker.h"
#include "dprof/event/event.h"
#include "dprof/tracer/records.h"
#include "tracer/internal/address_spaces.h"
#include "tracer/internal/event_ids.h"
#include "tracer/internal/event_spec.h"
#include "tracer/internal/off_cpu.h"
#include "tracer/internal/sample_stacks.h"
#include "tracer/internal/source_counters.h"
#include "tracer/internal/stack_services.h"

namespace dprof::tracer::internal {

class RecordDispatcher {
 public:
  // What the source does around the dispatch.
  class Host {
   public:
    virtual ~Host() = default;
    // The clock that stamps what is read now (mappings of a process first seen).
    virtual uint64_t NowNs() = 0;
    // Process `pid`'s first event is about to reach the sink (the live tracer names its threads).
    virtual void FirstEventOf(uint32_t pid) { (void)pid; }
    // A process of the recorded tree began (fork), or ended.
    virtual void ProcessForked(uint32_t pid) { (void)pid; }
    virtual void ProcessExited(uint32_t pid) { (void)pid; }
  };

  struct Events {
    const std::vector<EventSpec>* specs = nullptr;  // by event number
    size_t requested = 0;    // the user's events, [0, requested); the others feed off-CPU only
    int off_cpu_event = -1;  // the sched_switch whose samples begin off-CPU intervals
  };
  struct Filters {
    absl::flat_hash_set<uint32_t> excluded = {};  // threads whose samples are dropped
    // When either is set: only samples of these processes or threads (system-wide recording).
    absl::flat_hash_set<uint32_t> pids = {}, tids = {};
  };
  // Not owned; each must outlive the dispatcher.
  struct Parts {
    const EventIds* ids = nullptr;
    AddressSpaces* spaces = nullptr;
    cookie::ContextTracker* tracker = nullptr;
    StackServices* stacks = nullptr;
    SampleStacks* sample_stacks = nullptr;
    SourceCounters* counters = nullptr;
    // Build-ids by path, for mappings whose records carry none (a perf.data file's BUILD_ID
    // feature); may be null.
    const absl::flat_hash_map<std::string, std::string>* build_ids = nullptr;
  };

  RecordDispatcher(Events events, Filters filters, Parts parts, Host* host, event::TraceSink* sink);

  // One record, whole (header included); `buffer`, when given, holds it and may be taken (a
  // sample's stack copy moves on to the unwind engine in it).
  void Process(std::span<const uint8_t> record, unwind::StackBuffer* buffer = nullptr);
  // The end: threads still off the CPU get their intervals, ending at `now_ns`.
  void Finish(uint64_t now_ns);

 private:
  void OnSample(const SampleRecord& s, uint32_t event, unwind::StackBuffer* buffer);
  void OnMmap(const event::Mmap2Record& m);
  void OnTask(const event::TaskRecord& t);
  void OnDeferredCallchain(const DeferredCallchainRecord& d);
  std::shared_ptr<const unwind::AddressSpace> SpaceFor(uint32_t pid);
  bool Filtered(uint32_t pid, uint32_t tid) const;
  void Emit(const event::TraceEvent& e);

  Events events_;
  Filters filters_;
  Parts parts_;
  Host* host_;
  event::TraceSink* sink_;
  OffCpuTracker off_cpu_;
  absl::flat_hash_set<uint32_t> seen_;  // processes whose first event went out
  std::vector<uint64_t> frames_;        // a deferred callchain without its markers
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_RECORD_DISPATCHER_H_
