// The DWARF CFI unwinder over libunwind's remote interface.
//
// libunwind steps frames through accessors this file supplies: registers from the snapshot,
// memory from the snapshot's stack or the mapped files, and, for each pc, the binary's
// .eh_frame_hdr search table, which libunwind searches in place (dwarf_search_unwind_table) and
// reads through the same memory accessor.
//
// State kept, never rebuilt per sample:
//  - each binary's .eh_frame_hdr location, parsed once when the Binary is opened;
//  - one unw_addr_space per address-space version (the least recently used few), with libunwind's
//    global cache of parsed unwind info per pc; libunwind locks it, so unwinds run in parallel.
// Covers what .eh_frame covers; code with only .debug_frame is the libdw unwinder's.
#include <libunwind.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "dprof/sync/mutex.h"
#include "dprof/unwind/unwinder.h"
#include "unwind/internal/preconditions.h"

// Exported by libunwind but not declared in its headers (perf declares it the same way).
extern "C" int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
                                                  unw_dyn_info_t* di, unw_proc_info_t* pi,
                                                  int need_unwind_info, void* arg);

namespace dprof::unwind {
namespace {

constexpr size_t kMaxCachedSpaces = 16;

// One Unwind() call: the `arg` of every accessor.
struct Walk {
  const Snapshot* snapshot;
  ReadResult failure = ReadResult::kOk;  // the first failed read since the last frame
};

int FindProcInfo(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t* pi, int need_unwind_info,
                 void* arg) {
  const Snapshot& snapshot = *static_cast<Walk*>(arg)->snapshot;
  const Mapping* m = snapshot.space->Find(ip);
  if (m == nullptr || m->binary == nullptr || !m->binary->eh_frame_hdr()) return -UNW_ENOINFO;
  const Segment* text = m->binary->ExecutableSegmentAt(ip - m->bias);
  if (text == nullptr) return -UNW_ENOINFO;
  const EhFrameHdr& hdr = *m->binary->eh_frame_hdr();
  unw_dyn_info_t info = {};
  info.format = UNW_INFO_FORMAT_REMOTE_TABLE;
  info.start_ip = m->bias + text->vaddr;
  info.end_ip = m->bias + text->vaddr + text->memsz;
  info.u.rti.segbase = m->bias + hdr.vaddr;
  info.u.rti.table_data = m->bias + hdr.table_vaddr;
  // In words; each entry is two 4-byte offsets.
  info.u.rti.table_len = hdr.fde_count * 8 / sizeof(unw_word_t);
  return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &info, pi, need_unwind_info, arg);
}

void PutUnwindInfo(unw_addr_space_t, unw_proc_info_t*, void*) {
  // Unwind info from dwarf_search_unwind_table is table-format: libunwind frees it itself.
}

int GetDynInfoListAddr(unw_addr_space_t, unw_word_t*, void*) { return -UNW_ENOINFO; }

int AccessMem(unw_addr_space_t, unw_word_t address, unw_word_t* value, int write, void* arg) {
  if (write) return -UNW_EINVAL;
  Walk* walk = static_cast<Walk*>(arg);
  uint64_t word = 0;
  const ReadResult r = ReadWord(*walk->snapshot, address, &word);
  if (r != ReadResult::kOk) {
    if (walk->failure == ReadResult::kOk) walk->failure = r;
    return -UNW_EINVAL;
  }
  *value = word;
  return 0;
}

int AccessReg(unw_addr_space_t, unw_regnum_t reg, unw_word_t* value, int write, void* arg) {
  // libunwind numbers x86-64 registers as DWARF does.
  const Registers& regs = static_cast<Walk*>(arg)->snapshot->regs;
  if (write || reg < 0 || reg >= kNumRegs || !regs.Has(reg)) return -UNW_EBADREG;
  *value = regs.value[reg];
  return 0;
}

int AccessFpreg(unw_addr_space_t, unw_regnum_t, unw_fpreg_t*, int, void*) { return -UNW_EBADREG; }

int Resume(unw_addr_space_t, unw_cursor_t*, void*) { return -UNW_EINVAL; }

int GetProcName(unw_addr_space_t, unw_word_t, char*, size_t, unw_word_t*, void*) {
  return -UNW_ENOINFO;
}

unw_accessors_t kAccessors = {
    .find_proc_info = FindProcInfo,
    .put_unwind_info = PutUnwindInfo,
    .get_dyn_info_list_addr = GetDynInfoListAddr,
    .access_mem = AccessMem,
    .access_reg = AccessReg,
    .access_fpreg = AccessFpreg,
    .resume = Resume,
    .get_proc_name = GetProcName,
};

// A libunwind address space, destroyed when the last unwind using it is done.
struct LibunwindSpace {
  unw_addr_space_t as;
  uint64_t last_used = 0;

  LibunwindSpace() : as(unw_create_addr_space(&kAccessors, 0)) {
    if (as != nullptr) unw_set_caching_policy(as, UNW_CACHE_GLOBAL);
  }
  ~LibunwindSpace() {
    if (as != nullptr) unw_destroy_addr_space(as);
  }
};

StopReason ReasonFor(const Walk& walk, int step_result) {
  if (walk.failure != ReadResult::kOk) return StopReasonForRead(walk.failure);
  return step_result == -UNW_ENOINFO ? StopReason::kNoUnwindInfo : StopReason::kBadMemory;
}

class LibunwindUnwinder final : public Unwinder {
 public:
  UnwindResult Unwind(const Snapshot& snapshot, std::span<uint64_t> pcs) override {
    if (auto refused = internal::RefuseToUnwind(snapshot, pcs)) return *refused;
    const std::shared_ptr<LibunwindSpace> space = SpaceFor(*snapshot.space);
    if (space->as == nullptr) return {0, StopReason::kNoUnwindInfo};
    Walk walk{.snapshot = &snapshot};
    unw_cursor_t cursor;
    if (unw_init_remote(&cursor, space->as, &walk) < 0) return {0, StopReason::kBadMemory};
    size_t n = 0;
    unw_word_t last_sp = 0;
    for (;;) {
      unw_word_t pc = 0, sp = 0;
      if (unw_get_reg(&cursor, UNW_REG_IP, &pc) < 0) return {n, StopReason::kBadMemory};
      if (unw_get_reg(&cursor, UNW_REG_SP, &sp) == 0) {
        // Each caller's frame lies further out than its callee's.
        if (n > 0 && sp <= last_sp) return {n, StopReason::kLoop};
        last_sp = sp;
      }
      if (n == pcs.size()) return {n, StopReason::kFrameLimit};
      pcs[n++] = pc;
      walk.failure = ReadResult::kOk;
      const int step = unw_step(&cursor);
      if (step == 0) return {n, StopReason::kOutermost};
      if (step < 0) return {n, ReasonFor(walk, step)};
    }
  }

  std::string_view name() const override { return "libunwind"; }

 private:
  std::shared_ptr<LibunwindSpace> SpaceFor(const AddressSpace& space) ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(&mu_);
    auto it = spaces_.find(space.id());
    if (it == spaces_.end()) {
      if (spaces_.size() >= kMaxCachedSpaces) {
        spaces_.erase(std::min_element(spaces_.begin(), spaces_.end(), [](auto& a, auto& b) {
          return a.second->last_used < b.second->last_used;
        }));
      }
      it = spaces_.emplace(space.id(), std::make_shared<LibunwindSpace>()).first;
    }
    it->second->last_used = ++clock_;
    return it->second;
  }

  sync::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<LibunwindSpace>> spaces_ ABSL_GUARDED_BY(mu_);
  uint64_t clock_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::unique_ptr<Unwinder> MakeLibunwindUnwinder() { return std::make_unique<LibunwindUnwinder>(); }

}  // namespace dprof::unwind
