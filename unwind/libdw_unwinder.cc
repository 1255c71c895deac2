// The DWARF CFI unwinder over elfutils libdw.
//
// libdwfl walks a thread's frames given three things this file supplies: the modules of the
// address space (reported from our AddressSpace), the thread's registers (the snapshot's), and a
// memory reader (the snapshot's stack, else the mapped files). It finds each frame's CFI in
// .eh_frame or .debug_frame (separate debug files included), evaluates it, and falls back to
// rbp on x86-64 where there is none.
//
// State kept, never rebuilt per sample:
//  - one Dwfl per address-space version (AddressSpace::id()), its modules reported once, its CFI
//    parsed lazily by libdw and cached in the modules; the least recently used few are kept;
//  - one libelf handle per binary, this unwinder's own, shared by all its Dwfls that map the
//    binary (find_elf hands out references to it instead of opening the file again).
// Debian's libelf is not built thread-safe, and shared Elf handles fill their caches lazily, so
// every libdw call here runs under one lock: concurrent Unwind() calls are correct but take turns.
// The libunwind unwinder is the one that runs in parallel.
#include <elfutils/libdwfl.h>
#include <libelf.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "dprof/sync/mutex.h"
#include "dprof/unwind/unwinder.h"
#include "unwind/internal/preconditions.h"

namespace dprof::unwind {
namespace {

constexpr size_t kMaxCachedSpaces = 16;

// One Unwind() call, reachable from the libdwfl callbacks.
struct Walk {
  const Snapshot* snapshot = nullptr;
  std::span<uint64_t> pcs;
  size_t frames = 0;
  uint64_t last_sp = 0;
  // The first failed memory read while libdwfl computed the next frame.
  ReadResult failure = ReadResult::kOk;
  bool stopped = false;  // the frame callback ended the walk
  StopReason reason = StopReason::kOutermost;
};

// This unwinder's libelf handle on one binary (libelf handles are not thread-safe: no one else
// uses it, and this unwinder uses it under its lock).
struct BinaryElf {
  std::shared_ptr<const Binary> binary;  // keeps the file open
  Elf* elf;

  explicit BinaryElf(std::shared_ptr<const Binary> b)
      : binary(std::move(b)), elf(elf_begin(binary->fd(), ELF_C_READ_MMAP, nullptr)) {}
  ~BinaryElf() {
    if (elf != nullptr) elf_end(elf);
  }
  BinaryElf(const BinaryElf&) = delete;
  BinaryElf& operator=(const BinaryElf&) = delete;
};

// A Dwfl for one address-space version.
struct SpaceState {
  Dwfl* dwfl = nullptr;
  std::vector<const Binary*> binaries;  // the modules' files
  Walk* walk = nullptr;                 // the Unwind() in progress

  ~SpaceState() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
};

int FindElf(Dwfl_Module*, void** userdata, const char*, Dwarf_Addr, char** file_name, Elf** elfp) {
  const BinaryElf* binary = static_cast<const BinaryElf*>(*userdata);
  if (binary->elf == nullptr) return -1;
  // A new reference to the unwinder's handle, not a new open of the file: for a non-archive,
  // elf_begin with a reference just counts it. dwfl_end() drops it again.
  *elfp = elf_begin(-1, ELF_C_READ_MMAP, binary->elf);
  *file_name = strdup(binary->binary->path().c_str());
  return -1;
}

const Dwfl_Callbacks kCallbacks = {
    .find_elf = FindElf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = nullptr,
    .debuginfo_path = nullptr,
};

pid_t NextThread(Dwfl*, void* arg, void** thread_arg) {
  if (*thread_arg != nullptr) return 0;  // one thread: the snapshot's
  *thread_arg = arg;
  return static_cast<pid_t>(static_cast<SpaceState*>(arg)->walk->snapshot->tid);
}

bool GetThread(Dwfl*, pid_t, void* arg, void** thread_arg) {
  *thread_arg = arg;
  return true;
}

bool ReadMemoryWord(Dwfl*, Dwarf_Addr address, Dwarf_Word* result, void* arg) {
  Walk* walk = static_cast<SpaceState*>(arg)->walk;
  uint64_t value = 0;
  const ReadResult r = ReadWord(*walk->snapshot, address, &value);
  if (r != ReadResult::kOk) {
    if (walk->failure == ReadResult::kOk) walk->failure = r;
    return false;
  }
  *result = value;
  return true;
}

bool SetInitialRegisters(Dwfl_Thread* thread, void* thread_arg) {
  const Registers& regs = static_cast<SpaceState*>(thread_arg)->walk->snapshot->regs;
  dwfl_thread_state_register_pc(thread, regs.ip());
  // Only the registers the snapshot has: the others stay unknown to libdwfl.
  for (int r = 0; r < kRip; ++r) {
    if (!regs.Has(r)) continue;
    const Dwarf_Word value = regs.value[r];
    if (!dwfl_thread_state_registers(thread, r, 1, &value)) return false;
  }
  return true;
}

const Dwfl_Thread_Callbacks kThreadCallbacks = {
    .next_thread = NextThread,
    .get_thread = GetThread,
    .memory_read = ReadMemoryWord,
    .set_initial_registers = SetInitialRegisters,
    .detach = nullptr,
    .thread_detach = nullptr,
};

int OnFrame(Dwfl_Frame* frame, void* arg) {
  Walk* walk = static_cast<Walk*>(arg);
  walk->failure = ReadResult::kOk;  // whatever failed before was recovered from
  Dwarf_Addr pc = 0;
  if (!dwfl_frame_pc(frame, &pc, nullptr)) {
    walk->stopped = true;
    walk->reason = StopReason::kBadMemory;
    return DWARF_CB_ABORT;
  }
  // Each caller's frame lies further out than its callee's: a stack pointer that does not move
  // outward means the CFI (or the rbp fallback) is going round in circles.
  Dwarf_Word sp = 0;
  if (dwfl_frame_reg(frame, kRsp, &sp) == 0) {
    if (walk->frames > 0 && sp <= walk->last_sp) {
      walk->stopped = true;
      walk->reason = StopReason::kLoop;
      return DWARF_CB_ABORT;
    }
    walk->last_sp = sp;
  }
  if (walk->frames == walk->pcs.size()) {
    walk->stopped = true;
    walk->reason = StopReason::kFrameLimit;
    return DWARF_CB_ABORT;
  }
  walk->pcs[walk->frames++] = pc;
  return DWARF_CB_OK;
}

class LibdwUnwinder final : public Unwinder {
 public:
  UnwindResult Unwind(const Snapshot& snapshot, std::span<uint64_t> pcs) override {
    if (auto refused = internal::RefuseToUnwind(snapshot, pcs)) return *refused;
    sync::MutexLock lock(&mu_);
    SpaceState* state = StateFor(snapshot);
    if (state == nullptr) {
      pcs[0] = snapshot.regs.ip();
      return {1, StopReason::kNoUnwindInfo};
    }
    Walk walk{.snapshot = &snapshot, .pcs = pcs};
    state->walk = &walk;
    const int rc =
        dwfl_getthread_frames(state->dwfl, static_cast<pid_t>(snapshot.tid), OnFrame, &walk);
    state->walk = nullptr;
    if (walk.stopped) return {walk.frames, walk.reason};
    // A read that failed after the last frame was delivered is why there is no next one, whatever
    // libdwfl returns: it ends a walk with 0 ("all frames") when the return address is unreadable.
    if (walk.failure != ReadResult::kOk) return {walk.frames, StopReasonForRead(walk.failure)};
    return {walk.frames, rc == 0 ? StopReason::kOutermost : StopReason::kNoUnwindInfo};
  }

  std::string_view name() const override { return "libdw"; }

 private:
  struct Cached {
    std::unique_ptr<SpaceState> state;  // nullptr: libdwfl refused this address space
    uint64_t last_used = 0;
  };

  // The Dwfl for the snapshot's address space, made on first use; nullptr when libdwfl refuses
  // it (remembered: it would refuse again).
  SpaceState* StateFor(const Snapshot& snapshot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const uint64_t id = snapshot.space->id();
    auto it = spaces_.find(id);
    if (it == spaces_.end()) {
      if (spaces_.size() >= kMaxCachedSpaces) EvictLeastRecentlyUsed();
      it = spaces_.emplace(id, Cached{MakeState(snapshot)}).first;
    }
    it->second.last_used = ++clock_;
    return it->second.state.get();
  }

  BinaryElf* ElfFor(const std::shared_ptr<const Binary>& binary)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::unique_ptr<BinaryElf>& elf = elves_[binary->id()];
    if (elf == nullptr) elf = std::make_unique<BinaryElf>(binary);
    return elf.get();
  }

  std::unique_ptr<SpaceState> MakeState(const Snapshot& snapshot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto state = std::make_unique<SpaceState>();
    state->dwfl = dwfl_begin(&kCallbacks);
    if (state->dwfl == nullptr) return nullptr;
    dwfl_report_begin(state->dwfl);
    for (const Mapping& m : snapshot.space->mappings()) {
      if (m.binary == nullptr || !m.executable() ||
          std::find(state->binaries.begin(), state->binaries.end(), m.binary.get()) !=
              state->binaries.end()) {
        continue;
      }
      // libdwfl places a module so that its first PT_LOAD (aligned down) is at the module's low
      // address; with that low address it derives the same bias the mapping has.
      const std::span<const Segment> segments = m.binary->segments();
      if (segments.empty()) continue;
      const uint64_t align = std::max<uint64_t>(segments.front().align, 1);
      uint64_t high = 0;
      for (const Segment& s : segments) high = std::max(high, s.vaddr + s.memsz);
      const uint64_t low = m.bias + (segments.front().vaddr & ~(align - 1));
      Dwfl_Module* module = dwfl_report_module(state->dwfl, m.path.c_str(), low, m.bias + high);
      if (module == nullptr) continue;
      void** userdata = nullptr;
      dwfl_module_info(module, &userdata, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
      *userdata = ElfFor(m.binary);
      state->binaries.push_back(m.binary.get());
    }
    if (dwfl_report_end(state->dwfl, nullptr, nullptr) != 0 || state->binaries.empty() ||
        !dwfl_attach_state(state->dwfl, nullptr, static_cast<pid_t>(snapshot.pid),
                           &kThreadCallbacks, state.get())) {
      return nullptr;
    }
    return state;
  }

  void EvictLeastRecentlyUsed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto oldest = std::min_element(
        spaces_.begin(), spaces_.end(),
        [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
    spaces_.erase(oldest);
  }

  sync::Mutex mu_;
  // Before spaces_: Dwfls hold references to these handles until they end. One per binary ever
  // seen, for the unwinder's lifetime.
  absl::flat_hash_map<uint64_t, std::unique_ptr<BinaryElf>> elves_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Cached> spaces_ ABSL_GUARDED_BY(mu_);
  uint64_t clock_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::unique_ptr<Unwinder> MakeLibdwUnwinder() { return std::make_unique<LibdwUnwinder>(); }

}  // namespace dprof::unwind
