// Evaluation of the DWARF expressions CFI uses for the CFA and saved registers when a rule is more
// than "register + offset" (PLT entries, signal trampolines, realigned stacks). Internal to
// unwind/.
#ifndef DPROF_UNWIND_INTERNAL_DWARF_EXPRESSION_H_
#define DPROF_UNWIND_INTERNAL_DWARF_EXPRESSION_H_

#include <elfutils/libdw.h>

#include <cstdint>
#include <span>

#include "dprof/unwind/registers.h"
#include "dprof/unwind/snapshot.h"

namespace dprof::unwind::internal {

struct ExpressionResult {
  enum class Status {
    kOk,
    kUnsupported,  // an operation this evaluator does not implement, or a malformed expression
    kUnknownRegister,
    kMemory,  // a DW_OP_deref read failed; see `read`
  };
  Status status = Status::kOk;
  uint64_t value = 0;
  ReadResult read = ReadResult::kOk;
};

// Evaluates `ops` with registers `regs` (DW_OP_breg*), `cfa` (DW_OP_call_frame_cfa) and memory
// read from `snapshot` (DW_OP_deref). A trailing DW_OP_stack_value is ignored: the caller decides
// whether the result is a location or a value.
// Context: any thread; no allocation.
ExpressionResult Evaluate(std::span<const Dwarf_Op> ops, const Registers& regs, uint64_t cfa,
                          const Snapshot& snapshot);

}  // namespace dprof::unwind::internal

#endif  // DPROF_UNWIND_INTERNAL_DWARF_EXPRESSION_H_
