#include "dprof/profile/profile.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"

namespace dprof::profile {

std::string UnknownFrame(const Symbol* symbol, uint64_t address) {
  if (symbol == nullptr || symbol->module.empty())
    return absl::StrFormat("[unknown] (0x%x)", address);
  return absl::StrFormat("[unknown] (%s+0x%x)",
                         std::filesystem::path(symbol->module).filename().string(), symbol->offset);
}

namespace {

class Builder {
 public:
  Builder(const Recording& r, std::vector<Profile::Frame>* frames,
          std::vector<Profile::Location>* locations)
      : r_(r), frames_(*frames), locations_(*locations) {}

  uint32_t Intern(Profile::Frame frame) {
    auto [it, inserted] = frame_ids_.try_emplace(frame, static_cast<uint32_t>(frames_.size()));
    if (inserted) frames_.push_back(std::move(frame));
    return it->second;
  }

  // A location of one frame of its own: a pseudo-frame (thread, orphan).
  uint32_t PseudoLocation(Profile::Frame frame) {
    const uint32_t id = Intern(std::move(frame));
    auto [it, inserted] =
        pseudo_locations_.try_emplace(id, static_cast<uint32_t>(locations_.size()));
    if (inserted) locations_.push_back(Profile::Location{.frames = {id}});
    return it->second;
  }

  // The location of one address of `pid` (kKernelPid for the kernel's).
  uint32_t LocationAt(uint32_t pid, uint64_t address, Profile::FrameKind kind) {
    auto [it, inserted] = location_ids_.try_emplace(std::pair(pid, address),
                                                    static_cast<uint32_t>(locations_.size()));
    if (!inserted) return it->second;
    const Symbol* symbol = r_.SymbolAt(pid, address);
    Profile::Location location{.module = symbol ? symbol->module : "",
                               .offset = symbol ? symbol->offset : address};
    if (symbol == nullptr || symbol->frames.empty()) {
      location.frames.push_back(Intern(Profile::Frame{.name = UnknownFrame(symbol, address),
                                                      .module = location.module,
                                                      .deleted = symbol && symbol->deleted,
                                                      .kind = kind}));
    } else {
      for (auto f = symbol->frames.rbegin(); f != symbol->frames.rend(); ++f) {
        location.frames.push_back(Intern(Profile::Frame{
            .name = f->function.empty() ? UnknownFrame(symbol, address) : f->function,
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

 private:
  const Recording& r_;
  std::vector<Profile::Frame>& frames_;
  std::vector<Profile::Location>& locations_;
  absl::flat_hash_map<Profile::Frame, uint32_t> frame_ids_;
  absl::flat_hash_map<uint32_t, uint32_t> pseudo_locations_;  // by frame
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, uint32_t> location_ids_;
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
  absl::flat_hash_map<uint32_t, std::string> names;
  for (const ThreadName& t : r.threads) names[t.tid] = t.comm;
  for (const TaskChange& t : r.tasks) {  // in time order: a parent is named before its children
    if (t.exit || names.contains(t.tid)) continue;
    if (auto parent = names.find(t.ptid); parent != names.end()) {
      names.emplace(t.tid, std::string(parent->second));
    }
  }
  for (const Event& e : r.events) {
    if (names.contains(e.tid)) continue;
    if (auto process = names.find(e.pid); process != names.end()) {
      names.emplace(e.tid, std::string(process->second));
    }
  }
  names.try_emplace(0, "swapper");  // the idle task, as the kernel and perf call it
  return names;
}

Profile Profile::Build(const Recording& r, const ProfileOptions& options) {
  Profile p;
  Builder builder(r, &p.frames_, &p.locations_);
  const absl::flat_hash_map<uint32_t, std::string> names = ThreadNames(r);
  absl::flat_hash_map<std::vector<uint32_t>, uint32_t> stack_ids;  // by locations
  // The unit: time when every event is a clock sample or off-CPU time.
  bool all_off_cpu = true, all_time = true;
  std::vector<bool> time_events;  // by event index
  for (const std::string& name : r.event_names) time_events.push_back(WeighsTime(name));
  // Pseudo-frames' locations, by reason and by thread.
  constexpr uint32_t kNone = ~uint32_t{0};
  std::array<uint32_t, kNumOrphans> orphan_location;
  orphan_location.fill(kNone);
  absl::flat_hash_map<uint32_t, uint32_t> thread_root;
  std::vector<uint32_t> locations;
  for (const Event& e : r.events) {
    if ((!options.events.empty() && !options.events.contains(e.event)) ||
        (!options.pids.empty() && !options.pids.contains(e.pid)) ||
        (!options.tids.empty() && !options.tids.contains(e.tid))) {
      continue;
    }
    auto name = names.find(e.tid);
    const std::string* comm = name == names.end() ? nullptr : &name->second;
    if (!options.comms.empty() && !options.comms.contains(comm ? *comm : "")) continue;

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
        locations.push_back(builder.LocationAt(e.pid, *pc, FrameKind::kUser));
      }
    }
    if (options.kernel) {
      for (auto pc = s.kernel.rbegin(); pc != s.kernel.rend(); ++pc) {
        locations.push_back(builder.LocationAt(kKernelPid, *pc, FrameKind::kKernel));
      }
    }
    if (locations.empty()) continue;
    if (options.thread_root) {
      auto [root, inserted] = thread_root.try_emplace(e.tid);
      if (inserted) {
        root->second = builder.PseudoLocation(Frame{
            .name = comm != nullptr && !comm->empty() ? *comm : absl::StrFormat("[tid %u]", e.tid),
            .kind = FrameKind::kThread});
      }
      locations.insert(locations.begin(), root->second);
    }

    p.stitch_counts_.Add(s, e);
    const bool off_cpu = e.kind == tracer::EventKind::kOffCpu;
    all_off_cpu &= off_cpu;
    all_time &= off_cpu || (e.event < time_events.size() && time_events[e.event]);
    auto [it, inserted] = stack_ids.try_emplace(locations, static_cast<uint32_t>(p.stacks_.size()));
    if (inserted) {
      Stack stack{.locations = locations};
      for (uint32_t l : locations) {
        const std::vector<uint32_t>& at = p.locations_[l].frames;
        stack.frames.insert(stack.frames.end(), at.begin(), at.end());
      }
      p.stacks_.push_back(std::move(stack));
    }
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
