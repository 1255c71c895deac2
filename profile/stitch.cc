#include "dprof/profile/stitch.h"

namespace dprof::profile {

std::string_view OrphanFrame(Orphan orphan) {
  static constexpr std::string_view kFrames[kNumOrphans] = {
      "",
      "[user stack dropped: unwind queue full]",
      "[user stack missing: no registers or stack copy]",
      "[user stack never arrived: task exited or recording cut short]",
      "[user stack unwind failed]",
      "[user stack lost: not in the recording]",
  };
  const int i = static_cast<int>(orphan);
  return i >= 0 && i < kNumOrphans ? kFrames[i] : "";
}

StitchedStack Stitch(const Recording& r, const Event& e) {
  StitchedStack s;
  if (e.kernel_stack != kNoStack) {
    if (const std::vector<uint64_t>* k = r.Stack(e.kernel_stack)) {
      s.kernel = *k;
    } else {
      s.kernel_lost = true;
    }
  }
  auto user_from = [&](StackId id) {
    const std::vector<uint64_t>* u = r.Stack(id);
    if (u == nullptr) {
      s.orphan = Orphan::kStackLost;
    } else if (u->empty()) {
      s.orphan = Orphan::kUnwindFailed;
    } else {
      s.user = *u;
    }
  };
  switch (e.user) {
    case event::UserStack::kNone:
      break;
    case event::UserStack::kDropped:
      s.orphan = Orphan::kDropped;
      break;
    case event::UserStack::kMissing:
      s.orphan = Orphan::kNoSnapshot;
      break;
    case event::UserStack::kInline:
      user_from(e.user_stack);
      break;
    case event::UserStack::kDeferred: {
      auto it = r.user_stacks.find(e.cookie);
      if (it == r.user_stacks.end()) {
        s.orphan = Orphan::kNeverDelivered;
      } else if (it->second.stack == kNoStack) {
        s.orphan = Orphan::kUnwindFailed;
      } else {
        user_from(it->second.stack);
      }
      break;
    }
  }
  return s;
}

void StitchCounts::Add(const StitchedStack& s, const Event& e) {
  ++events;
  ++orphans[static_cast<int>(s.orphan)];
  if (s.user.empty()) return;
  if (e.user == event::UserStack::kInline) {
    ++inline_user;
  } else {
    ++stitched;
  }
}

}  // namespace dprof::profile
