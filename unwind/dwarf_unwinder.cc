// dprof's DWARF CFI unwinder: rules compiled from CFI once, executed here.
//
// The libdw (Dwfl) and libunwind unwinders re-read and re-interpret CFI for every frame of every
// sample, behind locks. This one finds each pc's rule, "CFA = rsp + 16; return address at
// CFA - 8; rbx at CFA - 24; ...", at one of three levels:
//   1. a per-thread direct-mapped cache keyed by (binary, pc): a warm unwind is one probe of it
//      and a few stack reads per frame, with no allocation and no lock;
//   2. the binary's table of rows compiled so far (internal/cfi_table.h): a binary search under
//      the binary's lock, for a pc in a row seen before;
//   3. libdw's CFI parser, whose row then joins the table.
// Rules beyond "register + offset" (PLT entries, realigned stacks) keep DWARF expressions, which
// are evaluated (internal/dwarf_expression.h). Where no CFI covers a pc (JIT code, hand-written
// assembly without annotations) it falls back to rbp, as the kernel and framehop do.
//
// Per-binary tables are built once per unwinder and shared by every process mapping the binary.
// Rules depend only on the binary's bytes, so the per-thread caches are shared by every
// DwarfUnwinder in the process and need no locking.
#include <array>
#include <bit>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "dprof/sync/mutex.h"
#include "dprof/unwind/unwinder.h"
#include "unwind/internal/cfi_table.h"
#include "unwind/internal/dwarf_expression.h"
#include "unwind/internal/preconditions.h"

namespace dprof::unwind {
namespace {

using internal::CfiTable;
using internal::Evaluate;
using internal::ExpressionResult;
using internal::Expressions;
using internal::FramePointerRule;
using internal::kTracked;
using internal::Row;
using internal::Rule;
using internal::RuleKind;

// A thread's rules by (binary, pc), direct-mapped: a slot holds the last pc that hashed to it.
// Rules depend only on a binary's bytes and binary ids are never reused, so the cache is shared
// by every DwarfUnwinder the thread runs and needs no lock. Expressions are not kept here (they
// belong to an unwinder's CfiTable): a rule with expressions is found again in the table.
class RuleCache {
 public:
  static constexpr size_t kSlots = 4096;  // 256 KiB a thread, made on first use

  struct alignas(64) Slot {  // one cache line
    uint64_t binary_id = 0;  // 0: empty (ids start at 1)
    uint64_t elf_pc = 0;
    Rule rule;
  };

  // A pc's low bits spread it; its next bits and the binary's id mix in without a multiply,
  // which would lengthen the chain from one frame's return address to the next frame's rule.
  Slot& SlotFor(uint64_t binary_id, uint64_t elf_pc) {
    return slots_[(elf_pc ^ (elf_pc >> 12) ^ (binary_id * 97)) & (kSlots - 1)];
  }

  DwarfRuleStats stats;

 private:
  std::array<Slot, kSlots> slots_{};
};

RuleCache& ThreadRuleCache() {
  thread_local std::unique_ptr<RuleCache> cache = std::make_unique<RuleCache>();
  return *cache;
}

// Applies a rule the walk does not handle itself (kValOffset, kRegister, expressions): sets `reg`
// in `next`, or leaves it unknown.
ReadResult ApplyOtherRule(RuleKind kind, int32_t n, const std::vector<Dwarf_Op>* expression,
                          uint64_t cfa, const Snapshot& snapshot, const Registers& current, int reg,
                          Registers* next) {
  switch (kind) {
    case RuleKind::kUndefined:
    case RuleKind::kSame:
    case RuleKind::kOffset:
      return ReadResult::kOk;  // the walk's own (Rule::same_regs, offset_mask)
    case RuleKind::kValOffset:
      next->Set(reg, cfa + n);
      return ReadResult::kOk;
    case RuleKind::kRegister:
      if (n >= 0 && n < kNumRegs && current.Has(n)) next->Set(reg, current.value[n]);
      return ReadResult::kOk;
    case RuleKind::kExpression:
    case RuleKind::kValExpression: {
      if (expression == nullptr) return ReadResult::kOk;  // stays unknown
      const ExpressionResult e = Evaluate(*expression, current, cfa, snapshot);
      if (e.status == ExpressionResult::Status::kMemory) return e.read;
      if (e.status != ExpressionResult::Status::kOk) return ReadResult::kOk;  // stays unknown
      if (kind == RuleKind::kValExpression) {
        next->Set(reg, e.value);
        return ReadResult::kOk;
      }
      uint64_t value = 0;
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
    RuleCache& cache = ThreadRuleCache();
    const StackCopy stack(snapshot);
    // Two register sets, swapped frame to frame: nothing copied or cleared but the valid bits.
    Registers sets[2];
    Registers* regs = &sets[0];
    Registers* caller = &sets[1];
    *regs = snapshot.regs;
    // The last frame's mapping, its binary and bias: callers are often in the same binary.
    const Mapping* mapping = nullptr;
    uint64_t binary_id = 0;
    uint64_t bias = 0;
    size_t n = 0;
    pcs[n++] = regs->ip();
    bool exact_pc = true;  // the first frame's pc, or a signal frame's caller
    // The end of the copy's bytes read so far (offset from its start), for the engine's content
    // cache; past the copy's size when a read fell beyond it. Expressions may read anywhere:
    // a walk that evaluates one reports the whole copy.
    uint64_t high = 0;
    bool expressions_used = false;
    auto stop = [&](StopReason reason) {
      return UnwindResult{n, reason, expressions_used || high > stack.size ? kWholeStack : high};
    };
    while (n < pcs.size()) {
      const uint64_t pc = regs->ip();
      const uint64_t lookup = exact_pc ? pc : pc - 1;  // inside the call, not after it
      if (mapping == nullptr || !mapping->Contains(lookup)) {
        mapping = snapshot.space->Find(lookup);
        if (mapping == nullptr || !mapping->executable()) return stop(StopReason::kBadMemory);
        binary_id = mapping->binary != nullptr ? mapping->binary->id() : 0;
        bias = mapping->bias;
      }
      const Expressions* expressions = nullptr;
      const Rule* rule = binary_id == 0
                             ? nullptr
                             : RuleFor(cache, *mapping, binary_id, lookup - bias, &expressions);
      if (rule == nullptr) {
        // No CFI for code that is there (JIT code, bare assembly): try an rbp frame.
        if (!regs->Has(kRbp)) return stop(StopReason::kNoUnwindInfo);
        rule = &FramePointerRule();
      }
      // The CFA.
      uint64_t cfa = 0;
      expressions_used |= rule->has_expressions || expressions != nullptr;
      if (rule->cfa_expression) {
        if (expressions == nullptr) return stop(StopReason::kBadMemory);
        const ExpressionResult e = Evaluate(expressions->cfa, *regs, 0, snapshot);
        if (e.status == ExpressionResult::Status::kMemory) return stop(StopReasonForRead(e.read));
        if (e.status != ExpressionResult::Status::kOk) return stop(StopReason::kBadMemory);
        cfa = e.value;
      } else {
        if (!regs->Has(rule->cfa_reg)) return stop(StopReason::kBadMemory);
        cfa = regs->value[rule->cfa_reg] + rule->cfa_offset;
      }
      // Each caller's frame lies further out than its callee's.
      if (cfa <= regs->sp()) return stop(StopReason::kLoop);
      // The caller's registers: unchanged ones, ones saved at CFA + n, then any other rule. The
      // valid bits gather in a local and are stored once: a read-modify-write of
      // caller->valid per register would chain every frame's stores through memory.
      // Unchanged registers: every tracked one copied (a fixed number of moves, no branch),
      // valid where the rule keeps it and it was known.
      const uint32_t had = regs->valid;
      for (int reg : kTracked) caller->value[reg] = regs->value[reg];
      uint32_t valid = had & rule->same_regs;
      for (uint32_t bits = rule->offset_mask; bits != 0; bits &= bits - 1) {
        const int i = std::countr_zero(bits);
        const int reg = kTracked[i];
        const uint64_t slot = cfa + rule->n[i];
        if (slot >= stack.address) high = std::max(high, slot - stack.address + sizeof(uint64_t));
        const ReadResult r = ReadWord(snapshot, stack, slot, &caller->value[reg]);
        if (r == ReadResult::kOk) {
          valid |= 1u << reg;
        } else if (reg == kRip) {
          return stop(StopReasonForRead(r));
        } else if (slot < snapshot.stack_address && (had >> reg & 1) != 0) {
          // A callee-saved register whose slot cannot be read need not end the walk (libdw's
          // and perf's unwinders go on too): only a later frame that uses it can fail. A slot
          // below the stack pointer, in an epilogue after its pops, held a value already
          // restored: the register's own.
          caller->value[reg] = regs->value[reg];
          valid |= 1u << reg;
        }
      }
      caller->valid = valid;
      for (uint32_t bits = rule->other_mask; bits != 0; bits &= bits - 1) {
        const int i = std::countr_zero(bits);
        const ReadResult r = ApplyOtherRule(
            rule->kinds[i], rule->n[i], expressions != nullptr ? &expressions->regs[i] : nullptr,
            cfa, snapshot, *regs, kTracked[i], caller);
        if (r != ReadResult::kOk && kTracked[i] == kRip) return stop(StopReasonForRead(r));
      }
      if (!caller->Has(kRip) || caller->ip() == 0) return stop(StopReason::kOutermost);
      caller->Set(kRsp, cfa);
      pcs[n++] = caller->ip();
      exact_pc = rule->signal_frame;
      std::swap(regs, caller);
    }
    return stop(StopReason::kFrameLimit);
  }

  std::string_view name() const override { return "dwarf"; }

 private:
  // The compiled rule for ELF address `elf_pc` of `mapping`'s binary (and its expressions, when
  // it has some); nullptr when no CFI covers it.
  const Rule* RuleFor(RuleCache& cache, const Mapping& mapping, uint64_t binary_id, uint64_t elf_pc,
                      const Expressions** expressions) {
    RuleCache::Slot& slot = cache.SlotFor(binary_id, elf_pc);
    if (slot.binary_id == binary_id && slot.elf_pc == elf_pc && !slot.rule.has_expressions) {
      ++cache.stats.cache_hits;
      return slot.rule.found ? &slot.rule : nullptr;
    }
    const Row row = CfiFor(mapping.binary)->RowAt(elf_pc, cache.stats);
    slot = {.binary_id = binary_id, .elf_pc = elf_pc, .rule = row.rule};
    *expressions = row.expressions;
    return slot.rule.found ? &slot.rule : nullptr;
  }

  std::shared_ptr<CfiTable> CfiFor(const std::shared_ptr<const Binary>& binary)
      ABSL_LOCKS_EXCLUDED(mu_) {
    {
      sync::MutexLock lock(&mu_);
      if (auto it = cfi_.find(binary->id()); it != cfi_.end()) return it->second;
    }
    // Opened outside the lock (it reads the file): other workers go on unwinding meanwhile. Two
    // workers opening the same binary at once keep the first.
    auto opened = std::make_shared<CfiTable>(binary);
    sync::MutexLock lock(&mu_);
    return cfi_.try_emplace(binary->id(), std::move(opened)).first->second;
  }

  sync::Mutex mu_;
  // One per binary ever seen, kept (with the binary mapped) for the unwinder's lifetime: a
  // profiling session's binaries, opened once. Their expressions outlive every Unwind() call.
  absl::flat_hash_map<uint64_t, std::shared_ptr<CfiTable>> cfi_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Unwinder> MakeDwarfUnwinder() { return std::make_unique<DwarfUnwinder>(); }

DwarfRuleStats DwarfRuleStatsOfThisThread() { return ThreadRuleCache().stats; }

}  // namespace dprof::unwind
