#include "unwind/internal/cfi_table.h"

#include <dwarf.h>
#include <fcntl.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"

namespace dprof::unwind::internal {
namespace {

template <typename T>
bool Fits(int64_t v) {
  return v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
}

// A rule's register description as libdw gives it (see dwarf_frame_register in libdw.h) into
// rule slot `i`; false when an offset does not fit the rule (nonsense CFI).
bool CompileRegister(Dwarf_Op* ops, size_t nops, Dwarf_Op* ops_mem, size_t i, Rule& rule,
                     Expressions& expressions) {
  RuleKind& kind = rule.kinds[i];
  int64_t n = 0;
  if (nops == 0) {
    kind = ops == ops_mem ? RuleKind::kUndefined : RuleKind::kSame;
    return true;
  }
  const bool value = ops[nops - 1].atom == DW_OP_stack_value;
  const size_t count = value ? nops - 1 : nops;
  if (count == 1 && !value && ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31) {
    // "In register R" (DW_CFA_register), as a register location.
    kind = RuleKind::kRegister;
    n = ops[0].atom - DW_OP_reg0;
  } else if (count == 1 && !value && ops[0].atom == DW_OP_regx) {
    kind = RuleKind::kRegister;
    n = static_cast<int64_t>(ops[0].number);
  } else if (count >= 1 && ops[0].atom == DW_OP_call_frame_cfa &&
             (count == 1 || (count == 2 && ops[1].atom == DW_OP_plus_uconst) ||
              (count == 3 && (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_constu) &&
               ops[2].atom == DW_OP_plus))) {
    // The common shapes, "CFA + offset", compiled.
    kind = value ? RuleKind::kValOffset : RuleKind::kOffset;
    n = count == 1 ? 0 : static_cast<int64_t>(ops[1].number);
  } else {
    kind = value ? RuleKind::kValExpression : RuleKind::kExpression;
    expressions.regs[i].assign(ops, ops + nops);
  }
  rule.n[i] = static_cast<int16_t>(n);
  return Fits<int16_t>(n);
}

Rule Compile(Dwarf_Frame* frame, Expressions& expressions) {
  Rule rule;
  Dwarf_Addr start = 0, end = 0;
  const int ra_column = dwarf_frame_info(frame, &start, &end, &rule.signal_frame);
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops == 0) return Rule{};
  // "Register + offset", the common CFA rule; libdw writes it as DW_OP_bregx.
  int64_t offset = 0;
  if (nops == 1 && ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
    rule.cfa_reg = static_cast<uint8_t>(ops[0].atom - DW_OP_breg0);
    offset = static_cast<int64_t>(ops[0].number);
  } else if (nops == 1 && ops[0].atom == DW_OP_bregx && ops[0].number < kNumRegs) {
    rule.cfa_reg = static_cast<uint8_t>(ops[0].number);
    offset = static_cast<int64_t>(ops[0].number2);
  } else {
    rule.cfa_expression = true;
    expressions.cfa.assign(ops, ops + nops);
  }
  if (!Fits<int32_t>(offset) || rule.cfa_reg >= kNumRegs) return Rule{};
  rule.cfa_offset = static_cast<int32_t>(offset);
  for (size_t i = 0; i < std::size(kTracked); ++i) {
    const int regno = kTracked[i] == kRip ? ra_column : kTracked[i];
    Dwarf_Op ops_mem[3];
    if (dwarf_frame_register(frame, regno, ops_mem, &ops, &nops) != 0) continue;  // undefined
    if (!CompileRegister(ops, nops, ops_mem, i, rule, expressions)) return Rule{};
  }
  rule.found = true;
  rule.Summarize();
  return rule;
}

}  // namespace

void Rule::Summarize() {
  offset_mask = other_mask = 0;
  same_regs = 0;
  has_expressions = cfa_expression;
  for (size_t i = 0; i < kinds.size(); ++i) {
    const uint8_t bit = static_cast<uint8_t>(1u << i);
    switch (kinds[i]) {
      case RuleKind::kUndefined:
        break;
      case RuleKind::kSame:
        same_regs |= 1u << kTracked[i];
        break;
      case RuleKind::kOffset:
        offset_mask |= bit;
        break;
      case RuleKind::kExpression:
      case RuleKind::kValExpression:
        has_expressions = true;
        other_mask |= bit;
        break;
      case RuleKind::kValOffset:
      case RuleKind::kRegister:
        other_mask |= bit;
        break;
    }
  }
}

// Where no CFI covers a pc: a standard rbp frame.
const Rule& FramePointerRule() {
  static const Rule rule = [] {
    Rule r;
    r.found = true;
    r.cfa_reg = kRbp;
    r.cfa_offset = 16;
    for (size_t i = 0; i < std::size(kTracked); ++i) {
      r.kinds[i] = RuleKind::kSame;
      if (kTracked[i] == kRbp) r.kinds[i] = RuleKind::kOffset, r.n[i] = -16;
      if (kTracked[i] == kRip) r.kinds[i] = RuleKind::kOffset, r.n[i] = -8;
    }
    r.Summarize();
    return r;
  }();
  return rule;
}

CfiTable::CfiTable(std::shared_ptr<const Binary> binary_ptr) : binary_(std::move(binary_ptr)) {
  // A libelf handle of our own (libelf is not thread-safe), read-only: libdw decompresses
  // compressed debug sections into memory of its own rather than in place.
  elf_ = elf_begin(binary_->fd(), ELF_C_READ_MMAP, nullptr);
  if (elf_ != nullptr) eh_ = dwarf_getcfi_elf(elf_);
}

Dwarf_CFI* CfiTable::DebugCfi() {
  if (debug_tried_) return debug_;
  debug_tried_ = true;
  // .debug_frame in the binary itself.
  if (elf_ != nullptr) {
    dwarf_ = dwarf_begin_elf(elf_, DWARF_C_READ, nullptr);
    if (dwarf_ != nullptr) debug_ = dwarf_getcfi(dwarf_);
  }
  // Else, for a binary without .eh_frame, in the separate debug file found by build-id. Where
  // .eh_frame exists, the toolchain wrote the same rules there: a pc it leaves out (padding,
  // code without CFI) is not in the debug file's .debug_frame either, and opening that file
  // (libdw decompresses its sections) costs more than all of .eh_frame's reads.
  if (debug_ == nullptr && eh_ == nullptr && binary_->build_id().size() >= 2) {
    const std::string hex = absl::BytesToHexString(binary_->build_id());
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
  return debug_;
}

CfiTable::~CfiTable() {
  // dwarf_getcfi_elf's CFI is ours to end; dwarf_getcfi's belongs to its Dwarf.
  if (eh_ != nullptr) dwarf_cfi_end(eh_);
  if (dwarf_ != nullptr) dwarf_end(dwarf_);
  if (debug_dwarf_ != nullptr) dwarf_end(debug_dwarf_);
  if (debug_fd_ >= 0) close(debug_fd_);
  if (elf_ != nullptr) elf_end(elf_);
}

Rule CfiTable::Read(uint64_t elf_pc, Expressions& expressions, uint64_t* end) {
  for (int source = 0; source < 2; ++source) {
    // .eh_frame first; .debug_frame, opened (and decompressed) only when .eh_frame has no rule.
    Dwarf_CFI* cfi = source == 0 ? eh_ : DebugCfi();
    Dwarf_Frame* frame = nullptr;
    if (cfi == nullptr || dwarf_cfi_addrframe(cfi, elf_pc, &frame) != 0) continue;
    expressions = Expressions{};
    const Rule rule = Compile(frame, expressions);
    // Where the row ends. libdw's start of the row is not used: after DW_CFA_restore_state it
    // is the start of the row DW_CFA_remember_state saved, earlier than the rules it gives.
    Dwarf_Addr row_start = 0, row_end = 0;
    bool signal = false;
    dwarf_frame_info(frame, &row_start, &row_end, &signal);
    free(frame);  // NOLINT: libdw allocates frames with malloc
    if (!rule.found) continue;
    *end = row_end > elf_pc ? row_end : elf_pc + 1;
    return rule;
  }
  *end = elf_pc + 1;
  return Rule{};
}

Row CfiTable::RowAt(uint64_t elf_pc, DwarfRuleStats& stats) {
  sync::MutexLock lock(&mu_);
  auto it = std::upper_bound(rows_.begin(), rows_.end(), elf_pc,
                             [](uint64_t pc, const Row& r) { return pc < r.start; });
  if (it != rows_.begin() && elf_pc < std::prev(it)->end) {
    ++stats.table_hits;
    return *std::prev(it);
  }
  ++stats.cfi_reads;
  Expressions expressions;
  uint64_t end = 0;
  const Rule rule = Read(elf_pc, expressions, &end);
  Row row{.start = elf_pc, .end = end, .rule = rule};
  if (!rule.found) return row;
  // From `elf_pc` to the row's end, overlapping no row of the table.
  if (it != rows_.end()) row.end = std::min(row.end, it->start);
  if (row.rule.has_expressions) row.expressions = &expressions_.emplace_back(std::move(expressions));
  rows_.insert(it, row);
  return row;
}

Rule CfiTable::ReadRule(uint64_t elf_pc, Expressions& expressions) {
  sync::MutexLock lock(&mu_);
  uint64_t end = 0;
  return Read(elf_pc, expressions, &end);
}

size_t CfiTable::rows() const {
  sync::MutexLock lock(&mu_);
  return rows_.size();
}

size_t CfiTable::bytes() const {
  sync::MutexLock lock(&mu_);
  size_t bytes = rows_.capacity() * sizeof(Row) + expressions_.size() * sizeof(Expressions);
  for (const Expressions& e : expressions_) {
    bytes += e.cfa.capacity() * sizeof(Dwarf_Op);
    for (const std::vector<Dwarf_Op>& r : e.regs) bytes += r.capacity() * sizeof(Dwarf_Op);
  }
  return bytes;
}

}  // namespace dprof::unwind::internal
