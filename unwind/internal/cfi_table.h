// dprof::unwind::internal::CfiTable — one binary's DWARF CFI compiled row by row into small
// rules, for the DWARF unwinder (dwarf_unwinder.cc). Internal to unwind/.
//
// libdw's CFI parser (dwarf_cfi_addrframe) gives the rules at a pc and where their row ends;
// each row becomes a Rule of 36 bytes, "CFA = rsp + 16; return address at CFA - 8; rbx at
// CFA - 24; ...", kept in a table sorted by address, so a later pc of a row seen before costs a
// binary search instead of CFI parsing. What it reads: .eh_frame; where that has no rule,
// .debug_frame in the binary; for a binary without .eh_frame, .debug_frame in the separate
// debug file /usr/lib/debug/.build-id/xx/yyyy.debug. Rules
// beyond "register + offset" (PLT entries, realigned stacks) keep their DWARF expressions beside
// the rule (Expressions).
//
// Context: thread-safe; RowAt() and ReadRule() take the table's lock (libdw's handles fill caches
// as they are read).
#ifndef DPROF_UNWIND_INTERNAL_CFI_TABLE_H_
#define DPROF_UNWIND_INTERNAL_CFI_TABLE_H_

#include <elfutils/libdw.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "dprof/sync/mutex.h"
#include "dprof/unwind/binary.h"
#include "dprof/unwind/registers.h"
#include "dprof/unwind/unwinder.h"

namespace dprof::unwind::internal {

// The registers followed from frame to frame: the return address column, the stack pointer (the
// CFA) and the x86-64 callee-saved registers. The others are clobbered by calls: unknown in
// callers.
inline constexpr int kTracked[] = {kRbx, kRbp, kR12, kR13, kR14, kR15, kRip};

enum class RuleKind : uint8_t {
  kUndefined,      // not recoverable
  kSame,           // unchanged from this frame
  kOffset,         // saved at CFA + n
  kValOffset,      // = CFA + n
  kRegister,       // = this frame's register n (DW_CFA_register)
  kExpression,     // saved at the address its expression computes
  kValExpression,  // = the value its expression computes
};

// The rules of one row of CFI, in 36 bytes: expressions live beside it (Expressions), so that
// the rule is a small value the caches copy. Offsets of saved registers from the CFA are a few
// words; one beyond int16 is not a rule this unwinder follows (the row counts as no CFI).
struct Rule {
  int32_t cfa_offset = 0;
  uint32_t same_regs = 0;  // the kSame registers, as Registers::valid bits
  bool found = false;      // CFI covers the pc
  bool signal_frame = false;
  bool cfa_expression = false;  // the CFA is Expressions::cfa's value, not cfa_reg + cfa_offset
  bool has_expressions = false;  // the CFA or a register needs Expressions
  uint8_t cfa_reg = kRsp;
  // Bit i: kinds[i] is kOffset; anything else but kSame and kUndefined. Frame to frame, the walk
  // visits only these bits, without a branch per register on its kind.
  uint8_t offset_mask = 0;
  uint8_t other_mask = 0;
  std::array<RuleKind, std::size(kTracked)> kinds{};
  std::array<int16_t, std::size(kTracked)> n{};  // offset from the CFA, or a register number

  bool operator==(const Rule&) const = default;

  // Sets the masks and has_expressions from the kinds.
  void Summarize();
};

// The DWARF expressions of a rule that has them.
struct Expressions {
  std::vector<Dwarf_Op> cfa;
  std::array<std::vector<Dwarf_Op>, std::size(kTracked)> regs;
};

// Where no CFI covers a pc: a standard rbp frame.
const Rule& FramePointerRule();

// A row of CFI: its rules hold for [start, end).
struct Row {
  uint64_t start = 0;
  uint64_t end = 0;
  Rule rule;
  const Expressions* expressions = nullptr;  // when rule.has_expressions
};

// One binary's CFI, read with libdw, and the rows compiled from it so far.
class CfiTable {
 public:
  explicit CfiTable(std::shared_ptr<const Binary> binary);
  ~CfiTable();
  CfiTable(const CfiTable&) = delete;
  CfiTable& operator=(const CfiTable&) = delete;

  // The row holding `elf_pc` (a row with !rule.found when no CFI covers it), from the table or
  // read from CFI into it (counted in `stats`). Its expressions live as long as the table.
  Row RowAt(uint64_t elf_pc, DwarfRuleStats& stats) ABSL_LOCKS_EXCLUDED(mu_);
  // The rules libdw gives at `elf_pc`, read afresh and kept nowhere: what RowAt() must agree
  // with (tests). `expressions` receives the row's expressions.
  Rule ReadRule(uint64_t elf_pc, Expressions& expressions) ABSL_LOCKS_EXCLUDED(mu_);
  // Rows compiled so far, and the bytes the table holds for them (rows and expressions).
  size_t rows() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t bytes() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // libdw's rules at `elf_pc` and where their row ends; !found when no CFI covers it.
  Rule Read(uint64_t elf_pc, Expressions& expressions, uint64_t* end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The .debug_frame CFI, opened on first need: the binary's own, else (no .eh_frame) the
  // separate debug file's.
  Dwarf_CFI* DebugCfi() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::shared_ptr<const Binary> binary_;
  mutable sync::Mutex mu_;
  Elf* elf_ = nullptr;
  Dwarf_CFI* eh_ = nullptr;
  bool debug_tried_ ABSL_GUARDED_BY(mu_) = false;
  Dwarf* dwarf_ ABSL_GUARDED_BY(mu_) = nullptr;
  Dwarf_CFI* debug_ ABSL_GUARDED_BY(mu_) = nullptr;
  int debug_fd_ ABSL_GUARDED_BY(mu_) = -1;
  Dwarf* debug_dwarf_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<Row> rows_ ABSL_GUARDED_BY(mu_);  // sorted by start, disjoint
  std::deque<Expressions> expressions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dprof::unwind::internal

#endif  // DPROF_UNWIND_INTERNAL_CFI_TABLE_H_
