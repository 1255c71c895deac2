// dprof::tracer records — perf_event records as typed values, parsed from raw bytes.
//
// RecordParser knows the layout every event was opened with (its sample_type and user-register
// mask, keyed by the event's id) and turns one record from a ring buffer into one of the types
// below. Every read is bounds-checked against the record's size: a malformed record is reported
// as such and never read past, and a record type dprof does not know is reported as unknown so
// the caller can skip it by size and count it.
//
// Parsed records point into the bytes they were parsed from (no copies, no allocation); they are
// valid as long as those bytes are.
//
// All events dprof opens set PERF_SAMPLE_IDENTIFIER and sample_id_all, so the event behind any
// record is found from the record alone: first word of a sample, last word of everything else.
//
// Context: RecordParser::AddEvent() allocates; call it on one thread before parsing. Then Parse(),
// ParseSampleId() and SampleRecord::Reg() may run on any threads at once: they
// only read, neither allocate nor lock, and are async-signal-safe.
#ifndef DPROF_TRACER_RECORDS_H_
#define DPROF_TRACER_RECORDS_H_

#include <linux/perf_event.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "dprof/event/event.h"

namespace dprof::tracer {

// How an event's records are laid out: what it was opened with.
struct EventLayout {
  uint64_t sample_type = 0;
  uint64_t regs_user_mask = 0;
};

struct SampleRecord {
  event::SampleId sid;
  uint16_t misc = 0;
  uint64_t ip = 0;
  uint64_t addr = 0;  // PERF_SAMPLE_ADDR: the data address (perf record -d)
  uint64_t period = 0;
  // Context markers (PERF_CONTEXT_*) and addresses, as the kernel wrote them.
  std::span<const uint64_t> callchain = {};
  std::span<const uint8_t> raw = {};    // tracepoint fields (PERF_SAMPLE_RAW)
  uint64_t regs_abi = 0;                // PERF_SAMPLE_REGS_ABI_*; NONE for kernel threads
  std::span<const uint64_t> regs = {};  // one per bit of regs_user_mask, lowest bit first
  uint64_t regs_mask = 0;
  std::span<const uint8_t> stack = {};  // the valid bytes (dyn_size) of the user stack copy
  uint64_t stack_reserved = 0;          // the size asked for: stack.size() == it may be cut short

  bool user_mode() const { return (misc & PERF_RECORD_MISC_CPUMODE_MASK) == PERF_RECORD_MISC_USER; }
  // The value of perf register `perf_reg`, if it was sampled.
  bool Reg(int perf_reg, uint64_t* value) const;
};

struct LostRecord {
  event::SampleId sid;
  uint64_t id = 0;
  uint64_t lost = 0;
};

struct LostSamplesRecord {
  event::SampleId sid;
  uint64_t lost = 0;
};

struct ThrottleRecord {
  event::SampleId sid;
  bool throttle = true;  // false: PERF_RECORD_UNTHROTTLE
  uint64_t time = 0;
  uint64_t id = 0;
};

// PERF_RECORD_SWITCH (the sampled task) and PERF_RECORD_SWITCH_CPU_WIDE (any task on the CPU).
struct SwitchRecord {
  event::SampleId sid;
  bool out = false;      // switched out; else switched in
  bool preempt = false;  // switched out while runnable
  bool cpu_wide = false;
  uint32_t next_prev_pid = 0;  // cpu_wide: the task switched to (out) or from (in)
  uint32_t next_prev_tid = 0;
};

// PERF_RECORD_CALLCHAIN_DEFERRED (Linux 6.19): the user frames of a deferred cookie.
struct DeferredCallchainRecord {
  event::SampleId sid;
  uint64_t cookie = 0;
  std::span<const uint64_t> ips = {};
};

struct UnknownRecord {
  uint32_t type = 0;
  uint16_t size = 0;
};

using Record = std::variant<SampleRecord, event::Mmap2Record, event::CommRecord, event::TaskRecord,
                            LostRecord, LostSamplesRecord, ThrottleRecord, SwitchRecord,
                            DeferredCallchainRecord, UnknownRecord>;

enum class ParseStatus {
  kOk,
  kUnknownType,   // a record type dprof does not parse; `record` is an UnknownRecord
  kUnknownEvent,  // its id names no event the parser knows
  kMalformed,     // shorter than its fields, or a count that overruns it
};

class RecordParser {
 public:
  // Sample fields the kernel lays out after the user stack: a sample may carry them (perf asks for
  // some: DATA_SRC, WEIGHT with --call-graph dwarf), and the parser leaves them unread.
  static constexpr uint64_t kTrailingSampleType =
      PERF_SAMPLE_WEIGHT | PERF_SAMPLE_WEIGHT_STRUCT | PERF_SAMPLE_DATA_SRC |
      PERF_SAMPLE_TRANSACTION | PERF_SAMPLE_REGS_INTR | PERF_SAMPLE_PHYS_ADDR | PERF_SAMPLE_CGROUP |
      PERF_SAMPLE_DATA_PAGE_SIZE | PERF_SAMPLE_CODE_PAGE_SIZE | PERF_SAMPLE_AUX;
  // Sample types the parser can lay out; events must not ask for others.
  static constexpr uint64_t kSupportedSampleType =
      PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
      PERF_SAMPLE_ADDR | PERF_SAMPLE_ID | PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU |
      PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_RAW | PERF_SAMPLE_REGS_USER |
      PERF_SAMPLE_STACK_USER | kTrailingSampleType;

  // Records of the event with `id` follow `layout`. False (and nothing added) unless its
  // sample_type includes PERF_SAMPLE_IDENTIFIER and nothing outside kSupportedSampleType: any
  // other field would shift everything after it.
  bool AddEvent(uint64_t id, const EventLayout& layout);
  // The layout of records whose id names no event added: every record of a source whose records
  // carry no PERF_SAMPLE_IDENTIFIER (a perf.data file whose events share one layout), and the
  // records perf synthesizes into a file (id 0). False (nothing set) unless `layout` asks only
  // for kSupportedSampleType.
  bool SetDefaultEvent(const EventLayout& layout);

  // Parses one whole record (header included).
  ParseStatus Parse(std::span<const uint8_t> bytes, Record* record) const;

  // Only the sample_id part (for ordering): false when the record names no known event or is
  // too short.
  bool ParseSampleId(std::span<const uint8_t> bytes, event::SampleId* sid) const;

 private:
  const EventLayout* LayoutOf(std::span<const uint8_t> bytes, uint32_t type) const;

  absl::flat_hash_map<uint64_t, EventLayout> layouts_;
  std::optional<EventLayout> default_;  // SetDefaultEvent()
};

}  // namespace dprof::tracer

#endif  // DPROF_TRACER_RECORDS_H_
