#include "unwind/internal/dwarf_expression.h"

#include <dwarf.h>

#include <vector>

#include "gtest/gtest.h"

namespace dprof::unwind::internal {
namespace {

using Status = ExpressionResult::Status;

Dwarf_Op Op(uint8_t atom, uint64_t number = 0, uint64_t number2 = 0) {
  return Dwarf_Op{atom, number, number2, 0};
}

class DwarfExpressionTest : public ::testing::Test {
 protected:
  DwarfExpressionTest() {
    regs_.Set(kRsp, 0x7000);
    regs_.Set(kRip, 0x401010);
    regs_.Set(kRbp, 0x7040);
    for (uint64_t i = 0; i < stack_.size(); ++i) stack_[i] = 0x1000 + i;  // word i at 0x7000 + 8i
    snapshot_.stack_address = 0x7000;
    snapshot_.stack = std::span(reinterpret_cast<const uint8_t*>(stack_.data()), stack_.size() * 8);
    snapshot_.regs = regs_;
  }
  ExpressionResult Eval(std::vector<Dwarf_Op> ops, uint64_t cfa = 0x7010) {
    return Evaluate(ops, regs_, cfa, snapshot_);
  }

  Registers regs_;
  std::vector<uint64_t> stack_ = std::vector<uint64_t>(64);
  Snapshot snapshot_;
};

TEST_F(DwarfExpressionTest, RegisterPlusOffset) {
  ExpressionResult r = Eval({Op(DW_OP_breg7, 16)});
  EXPECT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.value, 0x7010u);
  r = Eval({Op(DW_OP_bregx, kRbp, static_cast<uint64_t>(-8))});
  EXPECT_EQ(r.value, 0x7038u);
}

TEST_F(DwarfExpressionTest, CfaPlusOffsetsAndDeref) {
  EXPECT_EQ(Eval({Op(DW_OP_call_frame_cfa), Op(DW_OP_plus_uconst, 8)}).value, 0x7018u);
  EXPECT_EQ(
      Eval({Op(DW_OP_call_frame_cfa), Op(DW_OP_consts, static_cast<uint64_t>(-16)), Op(DW_OP_plus)})
          .value,
      0x7000u);
  // The word at CFA - 8 = 0x7008 is stack word 1.
  ExpressionResult r = Eval({Op(DW_OP_call_frame_cfa), Op(DW_OP_lit8), Op(DW_OP_minus),
                             Op(DW_OP_deref), Op(DW_OP_stack_value)});
  EXPECT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.value, 0x1001u);
}

// GCC's CFA rule for x86-64 PLT entries: rsp + 8, plus 8 more once past the push at offset 11.
TEST_F(DwarfExpressionTest, PltEntryCfa) {
  const std::vector<Dwarf_Op> plt = {Op(DW_OP_breg7, 8), Op(DW_OP_breg16, 0), Op(DW_OP_lit15),
                                     Op(DW_OP_and),      Op(DW_OP_lit11),     Op(DW_OP_ge),
                                     Op(DW_OP_lit3),     Op(DW_OP_shl),       Op(DW_OP_plus)};
  regs_.Set(kRip, 0x401010);  // offset 0 in its 16-byte entry: before the push
  EXPECT_EQ(Evaluate(plt, regs_, 0, snapshot_).value, 0x7008u);
  regs_.Set(kRip, 0x40101b);  // offset 11: after it
  EXPECT_EQ(Evaluate(plt, regs_, 0, snapshot_).value, 0x7010u);
}

TEST_F(DwarfExpressionTest, StackOperations) {
  EXPECT_EQ(Eval({Op(DW_OP_lit3), Op(DW_OP_lit5), Op(DW_OP_swap), Op(DW_OP_minus)}).value, 2u);
  EXPECT_EQ(Eval({Op(DW_OP_lit3), Op(DW_OP_dup), Op(DW_OP_mul)}).value, 9u);
  EXPECT_EQ(
      Eval({Op(DW_OP_lit3), Op(DW_OP_lit5), Op(DW_OP_over), Op(DW_OP_drop), Op(DW_OP_plus)}).value,
      8u);
  EXPECT_EQ(Eval({Op(DW_OP_lit1), Op(DW_OP_neg)}).value, ~uint64_t{0});
  EXPECT_EQ(Eval({Op(DW_OP_const8u, 0xff00), Op(DW_OP_lit4), Op(DW_OP_shr)}).value, 0xff0u);
}

TEST_F(DwarfExpressionTest, FailuresAreReportedNotGuessed) {
  EXPECT_EQ(Eval({}).status, Status::kUnsupported);                // empty
  EXPECT_EQ(Eval({Op(DW_OP_plus)}).status, Status::kUnsupported);  // underflow
  EXPECT_EQ(Eval({Op(DW_OP_lit1), Op(DW_OP_plus)}).status, Status::kUnsupported);
  EXPECT_EQ(Eval({Op(DW_OP_lit1), Op(DW_OP_skip, 2)}).status, Status::kUnsupported);  // branches
  EXPECT_EQ(Eval({Op(DW_OP_breg3, 0)}).status, Status::kUnknownRegister);  // rbx: not captured
  std::vector<Dwarf_Op> deep(17, Op(DW_OP_lit1));
  EXPECT_EQ(Eval(deep).status, Status::kUnsupported);  // beyond the evaluation stack
  // Just above the copied 512 bytes: the stack we did not copy.
  ExpressionResult r = Eval({Op(DW_OP_const4u, 0x7200), Op(DW_OP_deref)});
  EXPECT_EQ(r.status, Status::kMemory);
  EXPECT_EQ(r.read, ReadResult::kOutOfStack);
  r = Eval({Op(DW_OP_lit0), Op(DW_OP_deref)});
  EXPECT_EQ(r.read, ReadResult::kBadMemory);
}

}  // namespace
}  // namespace dprof::unwind::internal
