#include "unwind/internal/dwarf_expression.h"

#include <dwarf.h>

namespace dprof::unwind::internal {

ExpressionResult Evaluate(std::span<const Dwarf_Op> ops, const Registers& regs, uint64_t cfa,
                          const Snapshot& snapshot) {
  using Status = ExpressionResult::Status;
  constexpr int kDepth = 16;
  uint64_t stack[kDepth];
  int top = 0;  // number of values on the stack
  auto push = [&](uint64_t v) {
    if (top == kDepth) return false;
    stack[top++] = v;
    return true;
  };
  auto reg = [&](uint64_t r, uint64_t* v) {
    if (r >= kNumRegs || !regs.Has(static_cast<int>(r))) return false;
    *v = regs.value[r];
    return true;
  };
  for (const Dwarf_Op& op : ops) {
    const uint8_t atom = op.atom;
    if (atom >= DW_OP_lit0 && atom <= DW_OP_lit31) {
      if (!push(atom - DW_OP_lit0)) return {Status::kUnsupported};
      continue;
    }
    if (atom >= DW_OP_breg0 && atom <= DW_OP_breg31) {
      uint64_t v = 0;
      if (!reg(atom - DW_OP_breg0, &v)) return {Status::kUnknownRegister};
      if (!push(v + op.number)) return {Status::kUnsupported};  // number: signed offset
      continue;
    }
    switch (atom) {
      case DW_OP_bregx: {
        uint64_t v = 0;
        if (!reg(op.number, &v)) return {Status::kUnknownRegister};
        if (!push(v + op.number2)) return {Status::kUnsupported};
        continue;
      }
      case DW_OP_const1u:
      case DW_OP_const2u:
      case DW_OP_const4u:
      case DW_OP_const8u:
      case DW_OP_const1s:
      case DW_OP_const2s:
      case DW_OP_const4s:
      case DW_OP_const8s:
      case DW_OP_constu:
      case DW_OP_consts:
        // libdw stores the value sign-extended where the operation is signed.
        if (!push(op.number)) return {Status::kUnsupported};
        continue;
      case DW_OP_call_frame_cfa:
        if (!push(cfa)) return {Status::kUnsupported};
        continue;
      case DW_OP_stack_value:
      case DW_OP_nop:
        continue;
      default:
        break;
    }
    // Everything below needs at least one operand.
    if (top == 0) return {Status::kUnsupported};
    uint64_t& a = stack[top - 1];
    switch (atom) {
      case DW_OP_plus_uconst:
        a += op.number;
        continue;
      case DW_OP_dup:
        if (!push(a)) return {Status::kUnsupported};
        continue;
      case DW_OP_drop:
        --top;
        continue;
      case DW_OP_not:
        a = ~a;
        continue;
      case DW_OP_neg:
        a = -a;
        continue;
      case DW_OP_abs:
        a = static_cast<int64_t>(a) < 0 ? -a : a;
        continue;
      case DW_OP_deref: {
        uint64_t v = 0;
        const ReadResult r = ReadWord(snapshot, a, &v);
        if (r != ReadResult::kOk) return {Status::kMemory, 0, r};
        a = v;
        continue;
      }
      default:
        break;
    }
    // Binary operations: b is the second from the top, the result replaces both.
    if (top < 2) return {Status::kUnsupported};
    uint64_t& b = stack[top - 2];
    switch (atom) {
      case DW_OP_over:
        if (!push(b)) return {Status::kUnsupported};
        continue;
      case DW_OP_swap:
        std::swap(a, b);
        continue;
      default:
        break;
    }
    const uint64_t x = b, y = a;
    --top;
    uint64_t& out = stack[top - 1];
    switch (atom) {
      case DW_OP_plus:
        out = x + y;
        break;
      case DW_OP_minus:
        out = x - y;
        break;
      case DW_OP_mul:
        out = x * y;
        break;
      case DW_OP_and:
        out = x & y;
        break;
      case DW_OP_or:
        out = x | y;
        break;
      case DW_OP_xor:
        out = x ^ y;
        break;
      case DW_OP_shl:
        out = y < 64 ? x << y : 0;
        break;
      case DW_OP_shr:
        out = y < 64 ? x >> y : 0;
        break;
      case DW_OP_shra:
        out = static_cast<uint64_t>(static_cast<int64_t>(x) >> (y < 64 ? y : 63));
        break;
      case DW_OP_eq:
        out = x == y;
        break;
      case DW_OP_ne:
        out = x != y;
        break;
      case DW_OP_ge:
        out = static_cast<int64_t>(x) >= static_cast<int64_t>(y);
        break;
      case DW_OP_gt:
        out = static_cast<int64_t>(x) > static_cast<int64_t>(y);
        break;
      case DW_OP_le:
        out = static_cast<int64_t>(x) <= static_cast<int64_t>(y);
        break;
      case DW_OP_lt:
        out = static_cast<int64_t>(x) < static_cast<int64_t>(y);
        break;
      default:
        return {Status::kUnsupported};
    }
  }
  if (top == 0) return {Status::kUnsupported};
  return {Status::kOk, stack[top - 1]};
}

}  // namespace dprof::unwind::internal
