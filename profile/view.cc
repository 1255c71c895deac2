#include "dprof/profile/view.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "dprof/profile/process_history.h"

namespace dprof::profile {

std::string UnknownFrame(const Symbol* symbol, uint64_t address) {
  if (symbol == nullptr || symbol->module.empty())
    return absl::StrFormat("[unknown] (0x%x)", address);
  return absl::StrFormat("[unknown] (%s+0x%x)",
                         std::filesystem::path(symbol->module).filename().string(), symbol->offset);
}

std::string_view UnnamedReason(Unnamed reason) {
  switch (reason) {
    case Unnamed::kUnmapped:
      return "no mapping";
    case Unnamed::kAnonymous:
      return "anonymous executable memory";
    case Unnamed::kDeleted:
      return "deleted file";
    case Unnamed::kNoSymbols:
      return "no symbols";
    case Unnamed::kCount:
      break;
  }
  return "?";
}

uint64_t UnnamedCounts::unnamed() const {
  uint64_t n = 0;
  for (uint64_t f : frames) n += f;
  return n;
}

namespace {

// Why the user address `symbol` names (in `mapping`) has no function, or nullopt when it has one.
std::optional<Unnamed> UnnamedFrame(const Symbol* symbol, uint32_t mapping) {
  if (symbol != nullptr && !symbol->frames.empty()) return std::nullopt;
  if (symbol == nullptr) return mapping == kNoMapping ? Unnamed::kUnmapped : Unnamed::kNoSymbols;
  const std::string& m = symbol->module;
  if (m.empty()) return Unnamed::kUnmapped;
  if (m == "//anon" || m.starts_with("[anon") || m == "[heap]" || m == "[stack]") {
    return Unnamed::kAnonymous;
  }
  return symbol->deleted ? Unnamed::kDeleted : Unnamed::kNoSymbols;
}

class Builder {
 public:
  Builder(const Recording& r, std::vector<View::Frame>* frames,
          std::vector<View::Location>* locations)
      : r_(r), frames_(*frames), locations_(*locations) {}

  uint32_t Intern(View::Frame frame) {
    auto [it, inserted] = frame_ids_.try_emplace(frame, static_cast<uint32_t>(frames_.size()));
    if (inserted) frames_.push_back(std::move(frame));
    return it->second;
  }

  // A location of one frame of its own: a pseudo-frame (thread, orphan).
  uint32_t PseudoLocation(View::Frame frame) {
    const uint32_t id = Intern(std::move(frame));
    auto [it, inserted] =
        pseudo_locations_.try_emplace(id, static_cast<uint32_t>(locations_.size()));
    if (inserted) {
      locations_.push_back(View::Location{.frames = {id}});
      unnamed_.push_back(std::nullopt);
    }
    return it->second;
  }

  // The location of one address of `pid` (kKernelPid for the kernel's) in recorded mapping
  // `mapping` (kNoMapping: none held it). Processes share the locations of a mapping.
  uint32_t LocationAt(uint32_t pid, uint32_t mapping, uint64_t address, View::FrameKind kind) {
    auto [it, inserted] =
        location_ids_.try_emplace(std::tuple(mapping, mapping == kNoMapping ? pid : 0, address),
                                  static_cast<uint32_t>(locations_.size()));
    if (!inserted) return it->second;
    const Symbol* symbol = r_.SymbolAt(pid, mapping, address);
    unnamed_.push_back(kind == View::FrameKind::kUser ? UnnamedFrame(symbol, mapping)
                                                      : std::nullopt);
    View::Location location{.module = symbol ? symbol->module : "",
                            .offset = symbol ? symbol->offset : address,
                            .address = address,
                            .mapping = mapping,
                            .function_offset = symbol ? symbol->function_offset : std::nullopt};
    if (symbol == nullptr || symbol->frames.empty()) {
      location.frames.push_back(Intern(View::Frame{.name = UnknownFrame(symbol, address),
                                                   .module = location.module,
                                                   .deleted = symbol && symbol->deleted,
                                                   .kind = kind}));
    } else {
      for (auto f = symbol->frames.rbegin(); f != symbol->frames.rend(); ++f) {
        location.frames.push_back(Intern(
            View::Frame{.name = f->function.empty() ? UnknownFrame(symbol, address) : f->function,
                        .module = symbol->module,
                        .file = f->file,
                        .line = f->line,
                        .inlined = f->inlined,
                        .deleted = symbol->deleted,
                        .kind = kind}));
      }
    }
    locations_.push_back(std::move(location));
    return it->second;
  }

  // Why location `id` (a user address) is unnamed, if it is.
  std::optional<Unnamed> unnamed(uint32_t id) const { return unnamed_[id]; }

 private:
  const Recording& r_;
  std::vector<View::Frame>& frames_;
  std::vector<View::Location>& locations_;
  absl::flat_hash_map<View::Frame, uint32_t> frame_ids_;
  absl::flat_hash_map<uint32_t, uint32_t> pseudo_locations_;  // by frame
  // By (mapping, pid when no mapping, address).
  absl::flat_hash_map<std::tuple<uint32_t, uint32_t, uint64_t>, uint32_t> location_ids_;
  std::vector<std::optional<Unnamed>> unnamed_;  // by location
};

}  // namespace

std::set<uint32_t> DefaultEvents(const Recording& recording) {
  const std::vector<std::string>& names = recording.event_names;
  std::set<uint32_t> events;
  if (names.empty()) return events;
  events.insert(0);
  const auto off_cpu = std::find(names.begin(), names.end(), kOffCpuEvent);
  if (recording.metadata.contains("wall") && off_cpu != names.end()) {
    events.insert(static_cast<uint32_t>(off_cpu - names.begin()));
  }
  return events;
}

bool WeighsTime(std::string_view event) {
  return event.starts_with("cpu-clock") || event.starts_with("task-clock") || event == kOffCpuEvent;
}

absl::flat_hash_map<uint32_t, std::string> ThreadNames(const Recording& r) {
  absl::flat_hash_map<uint32_t, std::string> names = ProcessHistory(r).LatestNames();
  for (const Event& e : r.events) {
    if (names.contains(e.tid)) continue;
    if (auto process = names.find(e.pid); process != names.end()) {
      names.emplace(e.tid, std::string(process->second));
    }
  }
  return names;
}

View View::Build(const Recording& r, const ViewOptions& options) {
  View p;
  Builder builder(r, &p.frames_, &p.locations_);
  const ProcessHistory history(r);
  // Recordings written before symbols were keyed by mapping name each user address per process:
  // their locations stay per process too.
  const bool by_mapping = !r.mapped_symbol_of.empty();
  // By locations, with by_thread after pid, tid and name (its id in comm_ids).
  absl::flat_hash_map<std::vector<uint32_t>, uint32_t> stack_ids;
  absl::flat_hash_map<const std::string*, uint32_t> comm_ids;
  std::vector<uint32_t> key;
  // The unit: time when every event is a clock sample or off-CPU time.
  bool all_off_cpu = true, all_time = true;
  std::vector<bool> time_events;  // by event index
  for (const std::string& name : r.event_names) time_events.push_back(WeighsTime(name));
  // Pseudo-frames' locations, by reason and by thread.
  constexpr uint32_t kNone = ~uint32_t{0};
  std::array<uint32_t, kNumOrphans> orphan_location;
  orphan_location.fill(kNone);
  absl::flat_hash_map<std::pair<uint32_t, const std::string*>, uint32_t> thread_root;
  std::vector<uint32_t> locations;
  for (uint32_t index = 0; index < r.events.size(); ++index) {
    const Event& e = r.events[index];
    if ((!options.events.empty() && !options.events.contains(e.event)) ||
        (!options.pids.empty() && !options.pids.contains(e.pid)) ||
        (!options.tids.empty() && !options.tids.contains(e.tid))) {
      continue;
    }
    const std::string& comm = history.NameAt(e.pid, e.tid, e.time_ns);
    if (!options.comms.empty() && !options.comms.contains(comm)) continue;

    const StitchedStack s = Stitch(r, e);
    locations.clear();
    if (options.user) {
      if (s.orphan != Orphan::kNone) {
        uint32_t& location = orphan_location[static_cast<int>(s.orphan)];
        if (location == kNone) {
          location = builder.PseudoLocation(
              Frame{.name = std::string(OrphanFrame(s.orphan)), .kind = FrameKind::kOrphan});
        }
        locations.push_back(location);
      }
      for (auto pc = s.user.rbegin(); pc != s.user.rend(); ++pc) {
        const uint32_t mapping =
            by_mapping ? history.MappingAt(e.pid, e.time_ns, *pc, !e.user_mode) : kNoMapping;
        const uint32_t location = builder.LocationAt(e.pid, mapping, *pc, FrameKind::kUser);
        locations.push_back(location);
        UnnamedCounts& u = p.unnamed_counts_;
        ++u.user_frames;
        if (const std::optional<Unnamed> why = builder.unnamed(location)) {
          if (*why == Unnamed::kUnmapped && u[Unnamed::kUnmapped] == 0) {
            u.first_pid = e.pid;
            u.first_time_ns = e.time_ns;
          }
          ++u.frames[static_cast<int>(*why)];
          if (*why == Unnamed::kNoSymbols || *why == Unnamed::kDeleted) {
            ++u.modules[static_cast<int>(*why)][p.locations_[location].module];
          }
        }
      }
    }
    if (options.kernel) {
      for (auto pc = s.kernel.rbegin(); pc != s.kernel.rend(); ++pc) {
        locations.push_back(builder.LocationAt(kKernelPid, kNoMapping, *pc, FrameKind::kKernel));
      }
    }
    if (locations.empty()) continue;
    if (options.thread_root) {
      // By thread and name: a thread that execs changes its name.
      auto [root, inserted] = thread_root.try_emplace(std::pair(e.tid, &comm));
      if (inserted) {
        root->second = builder.PseudoLocation(
            Frame{.name = !comm.empty() ? comm : absl::StrFormat("[tid %u]", e.tid),
                  .kind = FrameKind::kThread});
      }
      locations.insert(locations.begin(), root->second);
    }

    p.stitch_counts_.Add(s, e);
    const bool off_cpu = e.kind == event::EventKind::kOffCpu;
    all_off_cpu &= off_cpu;
    all_time &= off_cpu || (e.event < time_events.size() && time_events[e.event]);
    key.clear();
    if (options.by_thread) {  // a prefix of fixed length: keys stay unambiguous
      key.insert(
          key.end(),
          {e.pid, e.tid,
           comm_ids.try_emplace(&comm, static_cast<uint32_t>(comm_ids.size())).first->second});
    }
    key.insert(key.end(), locations.begin(), locations.end());
    auto [it, inserted] = stack_ids.try_emplace(key, static_cast<uint32_t>(p.stacks_.size()));
    if (inserted) {
      Stack stack{.locations = locations};
      if (options.by_thread) {
        stack.pid = e.pid;
        stack.tid = e.tid;
        stack.comm = comm;
      }
      for (uint32_t l : locations) {
        const std::vector<uint32_t>& at = p.locations_[l].frames;
        stack.frames.insert(stack.frames.end(), at.begin(), at.end());
      }
      p.stacks_.push_back(std::move(stack));
    }
    if (options.keep_events) p.events_.push_back({.event = index, .stack = it->second});
    Stack& stack = p.stacks_[it->second];
    stack.weight += e.weight;
    stack.count += 1;
    p.total_weight_ += e.weight;
    p.total_count_ += 1;
  }

  p.unit_ = p.total_count_ == 0 ? WeightUnit::kCount
            : all_off_cpu       ? WeightUnit::kOffCpuNanoseconds
            : all_time          ? WeightUnit::kNanoseconds
                                : WeightUnit::kCount;
  return p;
}

}  // namespace dprof::profile
