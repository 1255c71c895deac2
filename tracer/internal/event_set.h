// The tracer's perf events and their ring buffers: every event opened on the threads, processes
// or CPUs recorded, and one ring buffer per CPU, which every event opened on that CPU writes into
// (PERF_EVENT_IOC_SET_OUTPUT). The first event opened on a buffer is its lead: it alone asks for
// the side-band records (internal/attrs.h), so each arrives once.
//
// Example:
//   EventSet events(backend, specs, settings, {.cpus = OnlineCpus()});
//   if (absl::Status s = events.OpenThreadsOf(pid, /*whole_process=*/true, {}); !s.ok()) ...;
//   events.EnableAll();
//   events.Read([](std::span<const uint8_t> record) { ... });  // every buffer, oldest first
//   Record r;
//   events.ids().parser().Parse(bytes, &r);
//
// Context: not thread-safe; one reader thread.
#ifndef DPROF_TRACER_INTERNAL_EVENT_SET_H_
#define DPROF_TRACER_INTERNAL_EVENT_SET_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "dprof/tracer/backend.h"
#include "dprof/tracer/records.h"
#include "dprof/tracer/ring_buffer.h"
#include "tracer/internal/attrs.h"
#include "tracer/internal/event_ids.h"
#include "tracer/internal/event_spec.h"

namespace dprof::tracer::internal {

class EventSet {
 public:
  struct Options {
    std::vector<int> cpus;        // where each target's events are opened
    size_t page_size = 4096;      // the ring buffers' metadata page
    bool enable_on_exec = false;  // a launched command: counting starts at its exec
    bool system_wide = false;     // for the errors' advice
  };

  // `specs` (in the order events are numbered) must outlive the set. settings.data_bytes is each
  // buffer's data area (pages of Options::page_size).
  EventSet(PerfBackend* backend, const std::vector<EventSpec>* specs, AttrSettings settings,
           Options options)
      : backend_(backend), specs_(specs), settings_(settings), options_(std::move(options)) {}
  ~EventSet();  // unmaps the buffers and closes the events
  EventSet(const EventSet&) = delete;
  EventSet& operator=(const EventSet&) = delete;

  // Opens every event on thread or process `pid` (or a cgroup's fd with PERF_FLAG_PID_CGROUP;
  // -1: every task) on `cpu`; `inherit`: also on the threads and processes it will create.
  // *gone, and Ok, when the task had exited first. A kernel without build-ids in MMAP2 records
  // (before 5.12) is asked again without them. Errors name the event and what to do.
  absl::Status OpenOn(pid_t pid, int cpu, bool inherit, unsigned long flags, bool* gone);
  // Every event on every CPU, for thread `pid`, or every thread of process `pid` (whole_process:
  // inherited by the threads and processes they create; threads made while opening are caught
  // by listing again). NotFound when it exited first. Threads in `excluded` are left out.
  absl::Status OpenThreadsOf(pid_t pid, bool whole_process,
                             const absl::flat_hash_set<uint32_t>& excluded);
  // Every event on every CPU for every task, or those of cgroup `cgroup` (a name under
  // /sys/fs/cgroup, internal/cgroup.h) when not empty.
  absl::Status OpenSystemWide(const std::string& cgroup);
  // Starts every event opened (those of a launched command start at its exec instead).
  absl::Status EnableAll();

  // Calls `fn` with each record of every buffer, as RingBuffer::Read.
  void Read(absl::FunctionRef<void(std::span<const uint8_t>)> fn);
  // The events opened, by perf id, and the parser of their records.
  const EventIds& ids() const { return ids_; }
  // Bytes of records the buffers found corrupt and skipped.
  uint64_t corrupt_bytes() const;
  size_t buffers() const { return buffers_.size(); }
  size_t events_opened() const { return fds_.size(); }

 private:
  struct Buffer {
    int fd = -1;
    void* base = nullptr;
    size_t bytes = 0;
    std::unique_ptr<RingBuffer> ring;
  };

  // Makes `fd` write into `cpu`'s buffer, mapping it when it is the first there.
  absl::Status AttachBuffer(int fd, int cpu);

  PerfBackend* backend_;
  const std::vector<EventSpec>* specs_;
  AttrSettings settings_;
  Options options_;
  std::vector<int> fds_;
  std::map<int, Buffer> buffers_;  // by CPU
  EventIds ids_;
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_EVENT_SET_H_
