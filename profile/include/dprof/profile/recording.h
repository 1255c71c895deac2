// dprof::profile::Recording — everything one recording holds, in memory.
//
// What RecordingReader returns from a file and what RecordingWriter writes, piece by piece, while
// a recording runs: the events with their kernel stacks and the cookies of their user stacks, the
// user stacks by cookie, every stack once (by id), the mappings and thread names of the recorded
// processes, the symbols of every address a stack references, run metadata and counters.
//
// Stacks are innermost first. A stack id names one stack within a recording (when recorded live,
// the depot record of its handle); kNoStack means none.
//
// Context: plain values, no locks or globals; const methods from any thread while no thread
// changes the value. RawOf(), Stack() and SymbolAt() neither allocate nor lock.
#ifndef DPROF_PROFILE_RECORDING_H_
#define DPROF_PROFILE_RECORDING_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dprof/cookie/cookie.h"
#include "dprof/event/event.h"
#include "dprof/event/tracepoint_format.h"
#include "dprof/unwind/unwinder.h"

namespace dprof::profile {

using StackId = uint32_t;
inline constexpr StackId kNoStack = 0;

// The pid under which kernel addresses are symbolized.
inline constexpr uint32_t kKernelPid = ~uint32_t{0};
// No recorded mapping (an index into Recording::mappings) held the address.
inline constexpr uint32_t kNoMapping = ~uint32_t{0};

struct Event {
  event::EventKind kind = event::EventKind::kSample;
  uint32_t event = 0;  // index into Recording::event_names
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t cpu = 0;
  uint64_t time_ns = 0;
  uint64_t weight = 0;
  bool user_mode = false;
  StackId kernel_stack = kNoStack;
  event::UserStack user = event::UserStack::kNone;
  cookie::Cookie cookie = cookie::kNoCookie;  // user == kDeferred
  StackId user_stack = kNoStack;              // user == kInline
  uint32_t raw_offset = 0;                    // tracepoint fields: Recording::raw bytes
  uint32_t raw_size = 0;

  bool operator==(const Event&) const = default;
};

// The user stack of one cookie: an unwind's result, or the kernel's (native).
struct UserStackEntry {
  StackId stack = kNoStack;
  unwind::StopReason reason = unwind::StopReason::kOutermost;
  bool native = false;

  bool operator==(const UserStackEntry&) const = default;
};

struct Mapping {
  uint32_t pid = 0;
  uint64_t time_ns = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t pgoff = 0;
  uint32_t prot = 0;
  std::string path = {};
  std::string build_id = {};  // raw bytes

  bool operator==(const Mapping&) const = default;
};

// A thread's name (COMM), and whether it came from an exec.
struct ThreadName {
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t time_ns = 0;
  bool exec = false;
  std::string comm = {};

  bool operator==(const ThreadName&) const = default;
};

// A fork (a new thread or process) or an exit.
struct TaskChange {
  bool exit = false;
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint32_t tid = 0;
  uint32_t ptid = 0;
  uint64_t time_ns = 0;

  bool operator==(const TaskChange&) const = default;
};

// One source-level frame at an address. An address in code that was inlined has several:
// the innermost inlined function first, the function the code was compiled into last.
struct SymbolFrame {
  std::string function = {};  // demangled; empty when unknown
  std::string file = {};
  uint32_t line = 0;
  bool inlined = false;

  bool operator==(const SymbolFrame&) const = default;
};

// What an address is: its module ("/usr/lib/x86_64-linux-gnu/libc.so.6", "[kernel.kallsyms]",
// "[ext4]", "[jit]"), its offset there (the ELF virtual address for files), and its frames (none
// when nothing names it).
struct Symbol {
  std::string module = {};
  uint64_t offset = 0;
  std::vector<SymbolFrame> frames = {};
  bool deleted = false;  // the module's file was deleted after it was mapped
  // How far the address lies into the function holding it (its outermost frame), when known:
  // perf's "function+0x1f". A return address lies in the function of the call before it.
  std::optional<uint64_t> function_offset = {};

  bool operator==(const Symbol&) const = default;
};

// (pid or mapping, address) -> index into Recording::symbols.
using SymbolLookups = absl::flat_hash_map<std::pair<uint32_t, uint64_t>, uint32_t>;

struct Recording {
  // Run metadata: "command", "kernel", "frequency", "call_graph", "start_time", ...
  std::map<std::string, std::string> metadata;
  // options.events, then "off-cpu" for off-CPU intervals.
  std::vector<std::string> event_names;
  // The layouts of the raw fields of the tracepoint events, by event index (Event::event).
  std::map<uint32_t, event::Tracepoint> tracepoints;
  std::vector<Event> events;
  std::vector<uint8_t> raw;  // tracepoint fields of all events
  absl::flat_hash_map<StackId, std::vector<uint64_t>> stacks;
  absl::flat_hash_map<cookie::Cookie, UserStackEntry> user_stacks;
  std::vector<Mapping> mappings;  // in time order
  std::vector<ThreadName> threads;
  std::vector<TaskChange> tasks;
  std::vector<Symbol> symbols;
  // (mapping, address) -> index into symbols: user addresses, under the recorded mapping (index
  // into mappings) that held them when the event happened (ProcessHistory::MappingAt), so that a
  // forked child shares its parent's symbols and an address means what it meant at that moment.
  SymbolLookups mapped_symbol_of;
  // (pid, address) -> index into symbols: kernel addresses under kKernelPid, and user addresses
  // that no recorded mapping held. Recordings written before mapped_symbol_of existed (it is
  // empty in them) hold every user address here.
  SymbolLookups symbol_of;
  // Counters of the run, by name ("samples", "lost", "engine.unwinds", ...), and per thread.
  std::map<std::string, uint64_t> counters;
  std::map<uint32_t, std::map<std::string, uint64_t>> thread_counters;

  // The earliest and the latest event time; {0, 0} without events.
  std::pair<uint64_t, uint64_t> EventSpan() const {
    if (events.empty()) return {0, 0};
    uint64_t first = events[0].time_ns, last = first;
    for (const Event& e : events) {
      first = std::min(first, e.time_ns);
      last = std::max(last, e.time_ns);
    }
    return {first, last};
  }
  std::span<const uint8_t> RawOf(const Event& e) const {
    return std::span<const uint8_t>(raw).subspan(e.raw_offset, e.raw_size);
  }
  const std::vector<uint64_t>* Stack(StackId id) const {
    auto it = stacks.find(id);
    return it == stacks.end() ? nullptr : &it->second;
  }
  // The symbol of `address` of process `pid`, which `mapping` held (kNoMapping: none did; kernel
  // addresses under kKernelPid).
  const Symbol* SymbolAt(uint32_t pid, uint32_t mapping, uint64_t address) const {
    if (mapping != kNoMapping) {
      if (auto it = mapped_symbol_of.find({mapping, address}); it != mapped_symbol_of.end()) {
        return &symbols[it->second];
      }
    }
    auto it = symbol_of.find({pid, address});
    return it == symbol_of.end() ? nullptr : &symbols[it->second];
  }
};

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_RECORDING_H_
