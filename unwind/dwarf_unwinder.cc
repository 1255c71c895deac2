// dprof's DWARF CFI unwinder: rules read with libdw, cached, executed here.
//
// The libdw (Dwfl) and libunwind unwinders re-read and re-interpret CFI for every frame of every
// sample, behind locks. This one does the lookup once: for each (binary, pc) it asks libdw's CFI
// parser (dwarf_cfi_addrframe) for the frame's rules and compiles them into a small value,
// "CFA = rsp + 16; return address at CFA - 8; rbx at CFA - 24; ...", kept in a per-thread cache.
// A warm unwind is then one cache lookup and a few stack reads per frame.
//
// What it reads: .eh_frame, .debug_frame in the binary, and .debug_frame in the separate debug
// file /usr/lib/debug/.build-id/xx/yyyy.debug. Rules beyond "register + offset" (PLT entries,
// realigned stacks) are kept as DWARF expressions and evaluated (internal/dwarf_expression.h).
// Where no CFI covers a pc (JIT code, hand-written assembly without annotations) it falls back
// to rbp, as the kernel and framehop do.
//
// Per-binary state (libdw handles over the Binary's mapped bytes) is built once and shared by
// every process mapping the binary; lookups in it take that binary's lock, only on cache misses.
// Rules depend only on the binary's bytes, so the per-thread caches are shared by every
// DwarfUnwinder in the process and need no locking.
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "dprof/sync/mutex.h"
#include "dprof/unwind/unwinder.h"
#include "unwind/internal/dwarf_expression.h"
#include "unwind/internal/preconditions.h"

namespace dprof::unwind {
namespace {

using internal::Evaluate;
using internal::ExpressionResult;

// The registers followed from frame to frame: the return address column, the stack pointer (the
// CFA) and the x86-64 callee-saved registers. The others are clobbered by calls: unknown in
// callers.
constexpr int kTracked[] = {kRbx, kRbp, kR12, kR13, kR14, kR15, kRip};
// Rules per thread (about 160 bytes each); past it the cache starts over.
constexpr size_t kCacheLimit = 16384;

enum class RuleKind : uint8_t {
  kUndefined,      // not recoverable
  kSame,           // unchanged from this frame
  kOffset,         // saved at CFA + n
  kValOffset,      // = CFA + n
  kRegister,       // = this frame's register n (DW_CFA_register)
  kExpression,     // saved at the address `expression` computes
  kValExpression,  // = the value `expression` computes
};

struct RegRule {
  RuleKind kind = RuleKind::kUndefined;
  int64_t n = 0;
  std::vector<Dwarf_Op> expression;
};

struct Rule {
  bool found = false;  // CFI covers the pc
  bool signal_frame = false;
  // CFA = value of cfa_reg + cfa_offset, unless cfa_expression is set.
  int cfa_reg = kRsp;
  int64_t cfa_offset = 0;
  std::vector<Dwarf_Op> cfa_expression;
  std::array<RegRule, std::size(kTracked)> regs;
};

// A rule's register description as libdw gives it (see dwarf_frame_register in libdw.h).
RegRule CompileRegister(Dwarf_Op* ops, size_t nops, Dwarf_Op* ops_mem) {
  RegRule r;
  if (nops == 0) {
    r.kind = ops == ops_mem ? RuleKind::kUndefined : RuleKind::kSame;
    return r;
  }
  const bool value = ops[nops - 1].atom == DW_OP_stack_value;
  const size_t n = value ? nops - 1 : nops;
  // "In register R" (DW_CFA_register), as a register location.
  if (n == 1 && !value && ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31) {
    r.kind = RuleKind::kRegister;
    r.n = ops[0].atom - DW_OP_reg0;
    return r;
  }
  if (n == 1 && !value && ops[0].atom == DW_OP_regx) {
    r.kind = RuleKind::kRegister;
    r.n = static_cast<int64_t>(ops[0].number);
    return r;
  }
  // The common shapes, "CFA + offset", compiled; anything else kept as an expression.
  if (n >= 1 && ops[0].atom == DW_OP_call_frame_cfa) {
    if (n == 1) {
      r.kind = value ? RuleKind::kValOffset : RuleKind::kOffset;
      return r;
    }
    if (n == 2 && ops[1].atom == DW_OP_plus_uconst) {
      r.kind = value ? RuleKind::kValOffset : RuleKind::kOffset;
      r.n = static_cast<int64_t>(ops[1].number);
      return r;
    }
    if (n == 3 && (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_constu) &&
        ops[2].atom == DW_OP_plus) {
      r.kind = value ? RuleKind::kValOffset : RuleKind::kOffset;
      r.n = static_cast<int64_t>(ops[1].number);
      return r;
    }
  }
  r.kind = value ? RuleKind::kValExpression : RuleKind::kExpression;
  r.expression.assign(ops, ops + nops);
  return r;
}

Rule Compile(Dwarf_Frame* frame) {
  Rule rule;
  rule.found = true;
  Dwarf_Addr start = 0, end = 0;
  const int ra_column = dwarf_frame_info(frame, &start, &end, &rule.signal_frame);
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops == 0) {
    rule.found = false;
    return rule;
  }
  // "Register + offset", the common CFA rule; libdw writes it as DW_OP_bregx.
  if (nops == 1 && ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
    rule.cfa_reg = ops[0].atom - DW_OP_breg0;
    rule.cfa_offset = static_cast<int64_t>(ops[0].number);
  } else if (nops == 1 && ops[0].atom == DW_OP_bregx && ops[0].number < kNumRegs) {
    rule.cfa_reg = static_cast<int>(ops[0].number);
    rule.cfa_offset = static_cast<int64_t>(ops[0].number2);
  } else {
    rule.cfa_expression.assign(ops, ops + nops);
  }
  for (size_t i = 0; i < std::size(kTracked); ++i) {
    const int regno = kTracked[i] == kRip ? ra_column : kTracked[i];
    Dwarf_Op ops_mem[3];
    if (dwarf_frame_register(frame, regno, ops_mem, &ops, &nops) != 0) continue;  // undefined
    rule.regs[i] = CompileRegister(ops, nops, ops_mem);
  }
  return rule;
}

// Where no CFI covers a pc: a standard rbp frame.
const Rule& FramePointerRule() {
  static const Rule rule = [] {
    Rule r;
    r.found = true;
    r.cfa_reg = kRbp;
    r.cfa_offset = 16;
    for (size_t i = 0; i < std::size(kTracked); ++i) {
      if (kTracked[i] == kRbp) r.regs[i] = {RuleKind::kOffset, -16, {}};
      if (kTracked[i] == kRip) r.regs[i] = {RuleKind::kOffset, -8, {}};
      if (kTracked[i] != kRbp && kTracked[i] != kRip) r.regs[i] = {RuleKind::kSame, 0, {}};
    }
    return r;
  }();
  return rule;
}

// libdw's view of one binary's CFI. Lookups mutate libdw's caches: one lock per binary.
class BinaryCfi {
 public:
  explicit BinaryCfi(std::shared_ptr<const Binary> binary_ptr) : binary_(std::move(binary_ptr)) {
    const Binary& binary = *binary_;
    // A libelf handle of our own (libelf is not thread-safe), read-only: libdw decompresses
    // compressed debug sections into memory of its own rather than in place.
    elf_ = elf_begin(binary.fd(), ELF_C_READ_MMAP, nullptr);
    if (elf_ != nullptr) {
      eh_ = dwarf_getcfi_elf(elf_);
      dwarf_ = dwarf_begin_elf(elf_, DWARF_C_READ, nullptr);
      if (dwarf_ != nullptr) debug_ = dwarf_getcfi(dwarf_);
    }
    // .debug_frame in the separate debug file, found by build-id.
    if (debug_ == nullptr && binary.build_id().size() >= 2) {
      const std::string hex = absl::BytesToHexString(binary.build_id());
      const std::string path =
          "/usr/lib/debug/.build-id/" + hex.substr(0, 2) + "/" + hex.substr(2) + ".debug";
      debug_fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      struct stat st = {};
      if (debug_fd_ >= 0 && (fstat(debug_fd_, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(debug_fd_);
        debug_fd_ = -1;
      }
      if (debug_fd_ >= 0) {
        debug_dwarf_ = dwarf_begin(debug_fd_, DWARF_C_READ);
        if (debug_dwarf_ != nullptr) debug_ = dwarf_getcfi(debug_dwarf_);
      }
    }
  }
  ~BinaryCfi() {
    // dwarf_getcfi_elf's CFI is ours to end; dwarf_getcfi's belongs to its Dwarf.
    if (eh_ != nullptr) dwarf_cfi_end(eh_);
    if (dwarf_ != nullptr) dwarf_end(dwarf_);
    if (debug_dwarf_ != nullptr) dwarf_end(debug_dwarf_);
    if (debug_fd_ >= 0) close(debug_fd_);
    if (elf_ != nullptr) elf_end(elf_);
  }
  BinaryCfi(const BinaryCfi&) = delete;
  BinaryCfi& operator=(const BinaryCfi&) = delete;

  Rule RuleAt(uint64_t elf_pc) ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(&mu_);
    for (Dwarf_CFI* cfi : {eh_, debug_}) {
      Dwarf_Frame* frame = nullptr;
      if (cfi == nullptr || dwarf_cfi_addrframe(cfi, elf_pc, &frame) != 0) continue;
      Rule rule = Compile(frame);
      free(frame);  // NOLINT: libdw allocates frames with malloc
      if (rule.found) return rule;
    }
    return Rule{};
  }

 private:
  std::shared_ptr<const Binary> binary_;
  sync::Mutex mu_;
  Elf* elf_ = nullptr;
  Dwarf* dwarf_ = nullptr;
  Dwarf_CFI* eh_ = nullptr;
  Dwarf_CFI* debug_ = nullptr;
  int debug_fd_ = -1;
  Dwarf* debug_dwarf_ = nullptr;
};

struct RuleKey {
  uint64_t binary_id;
  uint64_t elf_pc;
  bool operator==(const RuleKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const RuleKey& k) {
    return H::combine(std::move(h), k.binary_id, k.elf_pc);
  }
};

ReadResult ApplyRegister(const RegRule& rule, uint64_t cfa, const Snapshot& snapshot,
                         const Registers& current, int reg, Registers* next) {
  uint64_t value = 0;
  switch (rule.kind) {
    case RuleKind::kUndefined:
      return ReadResult::kOk;
    case RuleKind::kSame:
      if (current.Has(reg)) next->Set(reg, current.value[reg]);
      return ReadResult::kOk;
    case RuleKind::kOffset:
      if (ReadResult r = ReadWord(snapshot, cfa + rule.n, &value); r != ReadResult::kOk) return r;
      next->Set(reg, value);
      return ReadResult::kOk;
    case RuleKind::kValOffset:
      next->Set(reg, cfa + rule.n);
      return ReadResult::kOk;
    case RuleKind::kRegister:
      if (rule.n >= 0 && rule.n < kNumRegs && current.Has(static_cast<int>(rule.n))) {
        next->Set(reg, current.value[rule.n]);
      }
      return ReadResult::kOk;
    case RuleKind::kExpression:
    case RuleKind::kValExpression: {
      const ExpressionResult e = Evaluate(rule.expression, current, cfa, snapshot);
      if (e.status == ExpressionResult::Status::kMemory) return e.read;
      if (e.status != ExpressionResult::Status::kOk) return ReadResult::kOk;  // stays unknown
      if (rule.kind == RuleKind::kValExpression) {
        next->Set(reg, e.value);
        return ReadResult::kOk;
      }
      if (ReadResult r = ReadWord(snapshot, e.value, &value); r != ReadResult::kOk) return r;
      next->Set(reg, value);
      return ReadResult::kOk;
    }
  }
  return ReadResult::kOk;
}

class DwarfUnwinder final : public Unwinder {
 public:
  UnwindResult Unwind(const Snapshot& snapshot, std::span<uint64_t> pcs) override {
    if (auto refused = internal::RefuseToUnwind(snapshot, pcs)) return *refused;
    Registers regs = snapshot.regs;
    size_t n = 0;
    pcs[n++] = regs.ip();
    bool exact_pc = true;  // the first frame's pc, or a signal frame's caller
    while (n < pcs.size()) {
      const uint64_t pc = regs.ip();
      const uint64_t lookup = exact_pc ? pc : pc - 1;  // inside the call, not after it
      const Mapping* mapping = snapshot.space->Find(lookup);
      if (mapping == nullptr || !mapping->executable()) return {n, StopReason::kBadMemory};
      const Rule* rule = RuleFor(*mapping, lookup);
      if (rule == nullptr) {
        // No CFI for code that is there (JIT code, bare assembly): try an rbp frame.
        if (!regs.Has(kRbp)) return {n, StopReason::kNoUnwindInfo};
        rule = &FramePointerRule();
      }
      // The CFA.
      uint64_t cfa = 0;
      if (!rule->cfa_expression.empty()) {
        const ExpressionResult e = Evaluate(rule->cfa_expression, regs, 0, snapshot);
        if (e.status == ExpressionResult::Status::kMemory) return {n, StopReasonForRead(e.read)};
        if (e.status != ExpressionResult::Status::kOk) return {n, StopReason::kBadMemory};
        cfa = e.value;
      } else {
        if (!regs.Has(rule->cfa_reg)) return {n, StopReason::kBadMemory};
        cfa = regs.value[rule->cfa_reg] + rule->cfa_offset;
      }
      // Each caller's frame lies further out than its callee's.
      if (cfa <= regs.sp()) return {n, StopReason::kLoop};
      // The caller's registers.
      Registers caller;
      for (size_t i = 0; i < std::size(kTracked); ++i) {
        const int reg = kTracked[i];
        const ReadResult r = ApplyRegister(rule->regs[i], cfa, snapshot, regs, reg, &caller);
        if (r == ReadResult::kOk) continue;
        if (reg == kRip) return {n, StopReasonForRead(r)};
        // A callee-saved register whose slot cannot be read need not end the walk (libdw's and
        // perf's unwinders go on too): only a later frame that uses it can fail. A slot below the
        // stack pointer, in an epilogue after its pops, held a value already restored: the
        // register's own.
        const RegRule& saved = rule->regs[i];
        if (saved.kind == RuleKind::kOffset && cfa + saved.n < snapshot.stack_address &&
            regs.Has(reg)) {
          caller.Set(reg, regs.value[reg]);
        }
      }
      if (!caller.Has(kRip) || caller.ip() == 0) return {n, StopReason::kOutermost};
      caller.Set(kRsp, cfa);
      pcs[n++] = caller.ip();
      exact_pc = rule->signal_frame;
      regs = caller;
    }
    return {n, StopReason::kFrameLimit};
  }

  std::string_view name() const override { return "dwarf"; }

 private:
  // The compiled rule for `pc` in `mapping`; nullptr when no CFI covers it.
  const Rule* RuleFor(const Mapping& mapping, uint64_t pc) {
    if (mapping.binary == nullptr) return nullptr;
    const RuleKey key{mapping.binary->id(), pc - mapping.bias};
    thread_local absl::flat_hash_map<RuleKey, Rule> cache;
    auto it = cache.find(key);
    if (it == cache.end()) {
      if (cache.size() >= kCacheLimit) cache.clear();
      it = cache.emplace(key, CfiFor(mapping.binary)->RuleAt(key.elf_pc)).first;
    }
    return it->second.found ? &it->second : nullptr;
  }

  std::shared_ptr<BinaryCfi> CfiFor(const std::shared_ptr<const Binary>& binary)
      ABSL_LOCKS_EXCLUDED(mu_) {
    {
      sync::MutexLock lock(&mu_);
      if (auto it = cfi_.find(binary->id()); it != cfi_.end()) return it->second;
    }
    // Opened outside the lock (it reads the file): other workers go on unwinding meanwhile. Two
    // workers opening the same binary at once keep the first.
    auto opened = std::make_shared<BinaryCfi>(binary);
    sync::MutexLock lock(&mu_);
    return cfi_.try_emplace(binary->id(), std::move(opened)).first->second;
  }

  sync::Mutex mu_;
  // One per binary ever seen, kept (with the binary mapped) for the unwinder's lifetime: a
  // profiling session's binaries, opened once.
  absl::flat_hash_map<uint64_t, std::shared_ptr<BinaryCfi>> cfi_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Unwinder> MakeDwarfUnwinder() { return std::make_unique<DwarfUnwinder>(); }

}  // namespace dprof::unwind
