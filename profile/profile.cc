#include "dprof/profile/profile.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"

namespace dprof::profile {

std::string UnknownFrame(const Symbol* symbol, uint64_t address) {
  if (symbol == nullptr || symbol->module.empty())
    return absl::StrFormat("[unknown] (0x%x)", address);
  const size_t slash = symbol->module.rfind('/');
  const std::string module =
      slash == std::string::npos ? symbol->module : symbol->module.substr(slash + 1);
  return absl::StrFormat("[unknown] (%s+0x%x)", module, symbol->offset);
}

namespace {

bool IsClock(const std::string& event) {
  return event.starts_with("cpu-clock") || event.starts_with("task-clock");
}

class Builder {
 public:
  explicit Builder(const Recording& r) : r_(r) {}

  uint32_t Intern(Profile::Frame frame, std::vector<Profile::Frame>& frames) {
    auto [it, inserted] = frame_ids_.try_emplace(frame, static_cast<uint32_t>(frames.size()));
    if (inserted) frames.push_back(std::move(frame));
    return it->second;
  }

  // The frames of one address, root (outermost inlined caller) first.
  const std::vector<uint32_t>& FramesAt(uint32_t pid, uint64_t address, Profile::FrameKind kind,
                                        std::vector<Profile::Frame>& frames) {
    auto [it, inserted] = address_frames_.try_emplace(std::pair(pid, address));
    if (!inserted) return it->second;
    const Symbol* symbol = r_.SymbolAt(pid, address);
    if (symbol == nullptr || symbol->frames.empty()) {
      it->second.push_back(Intern(Profile::Frame{.name = UnknownFrame(symbol, address),
                                                 .module = symbol ? symbol->module : "",
                                                 .deleted = symbol && symbol->deleted,
                                                 .kind = kind},
                                  frames));
      return it->second;
    }
    for (auto f = symbol->frames.rbegin(); f != symbol->frames.rend(); ++f) {
      it->second.push_back(Intern(
          Profile::Frame{.name = f->function.empty() ? UnknownFrame(symbol, address) : f->function,
                         .module = symbol->module,
                         .file = f->file,
                         .line = f->line,
                         .inlined = f->inlined,
                         .deleted = symbol->deleted,
                         .kind = kind},
          frames));
    }
    return it->second;
  }

 private:
  const Recording& r_;
  absl::flat_hash_map<Profile::Frame, uint32_t> frame_ids_;
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, std::vector<uint32_t>> address_frames_;
};

// Each thread's name: the last one recorded for it.
absl::flat_hash_map<uint32_t, std::string> ThreadNames(const Recording& r) {
  absl::flat_hash_map<uint32_t, std::string> names;
  for (const ThreadName& t : r.threads) names[t.tid] = t.comm;
  return names;
}

}  // namespace

Profile Profile::Build(const Recording& r, const ProfileOptions& options) {
  Profile p;
  Builder builder(r);
  const absl::flat_hash_map<uint32_t, std::string> names = ThreadNames(r);
  absl::flat_hash_map<std::vector<uint32_t>, uint32_t> stack_ids;
  // The unit: time when every event is a clock sample or off-CPU time.
  bool all_off_cpu = true, all_time = true;
  std::vector<uint32_t> frames;
  for (const Event& e : r.events) {
    if ((!options.events.empty() && !options.events.contains(e.event)) ||
        (!options.pids.empty() && !options.pids.contains(e.pid)) ||
        (!options.tids.empty() && !options.tids.contains(e.tid))) {
      continue;
    }
    auto name = names.find(e.tid);
    const std::string comm = name == names.end() ? "" : name->second;
    if (!options.comms.empty() && !options.comms.contains(comm)) continue;

    const StitchedStack s = Stitch(r, e);
    frames.clear();
    if (options.thread_root) {
      frames.push_back(
          builder.Intern(Frame{.name = comm.empty() ? absl::StrFormat("[tid %u]", e.tid) : comm,
                               .kind = FrameKind::kThread},
                         p.frames_));
    }
    if (options.user) {
      if (s.orphan != Orphan::kNone) {
        frames.push_back(builder.Intern(
            Frame{.name = std::string(OrphanFrame(s.orphan)), .kind = FrameKind::kOrphan},
            p.frames_));
      }
      for (auto pc = s.user.rbegin(); pc != s.user.rend(); ++pc) {
        const auto& at = builder.FramesAt(e.pid, *pc, FrameKind::kUser, p.frames_);
        frames.insert(frames.end(), at.begin(), at.end());
      }
    }
    if (options.kernel) {
      for (auto pc = s.kernel.rbegin(); pc != s.kernel.rend(); ++pc) {
        const auto& at = builder.FramesAt(kKernelPid, *pc, FrameKind::kKernel, p.frames_);
        frames.insert(frames.end(), at.begin(), at.end());
      }
    }
    if (frames.empty() || (options.thread_root && frames.size() == 1)) continue;

    p.stitch_counts_.Add(s, e);
    const bool off_cpu = e.kind == tracer::EventKind::kOffCpu;
    all_off_cpu &= off_cpu;
    all_time &= off_cpu || (e.event < r.event_names.size() && IsClock(r.event_names[e.event]));
    auto [it, inserted] = stack_ids.try_emplace(frames, static_cast<uint32_t>(p.stacks_.size()));
    if (inserted) p.stacks_.push_back(Stack{.frames = frames});
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
