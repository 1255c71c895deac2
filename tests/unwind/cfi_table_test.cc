// The compiled CFI table against libdw: at thousands of random pcs of libc, libstdc++ and
// python3.11 (Debian's builds), the rule CfiTable gives (from a row it compiled before, or read
// for the pc) equals the rule libdw's CFI parser gives there afresh. Each random pc is followed by
// pcs a few bytes on, so most answers come from rows already in the table: a row that claimed
// more addresses than its rules hold for would show here.
#include "unwind/internal/cfi_table.h"

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dprof/unwind/binary.h"
#include "gtest/gtest.h"

namespace dprof::unwind::internal {
namespace {

bool SameOps(const std::vector<Dwarf_Op>& a, const std::vector<Dwarf_Op>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].atom != b[i].atom || a[i].number != b[i].number || a[i].number2 != b[i].number2 ||
        a[i].offset != b[i].offset) {
      return false;
    }
  }
  return true;
}

bool SameExpressions(const Expressions& a, const Expressions& b) {
  if (!SameOps(a.cfa, b.cfa)) return false;
  for (size_t i = 0; i < a.regs.size(); ++i) {
    if (!SameOps(a.regs[i], b.regs[i])) return false;
  }
  return true;
}

class CfiTableTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CfiTableTest, AgreesWithLibdwAtRandomPcs) {
  absl::StatusOr<std::unique_ptr<Binary>> opened = Binary::Open(GetParam());
  ASSERT_TRUE(opened.ok()) << GetParam() << ": " << opened.status()
                           << " (Debian's package; scripts/deps.sh installs it)";
  std::shared_ptr<const Binary> binary = *std::move(opened);
  std::vector<Segment> code;
  for (const Segment& s : binary->segments()) {
    if ((s.flags & 1) != 0 && s.memsz > 0) code.push_back(s);  // PF_X
  }
  ASSERT_FALSE(code.empty());

  CfiTable table(binary);
  DwarfRuleStats stats;
  std::mt19937_64 random(20261207);
  int compared = 0, found = 0, with_expressions = 0;
  for (int anchor = 0; anchor < 3000; ++anchor) {
    const Segment& s = code[random() % code.size()];
    uint64_t pc = s.vaddr + random() % s.memsz;
    for (int step = 0; step < 4; ++step, pc += 1 + random() % 24) {
      const Row row = table.RowAt(pc, stats);
      Expressions want_expressions;
      const Rule want = table.ReadRule(pc, want_expressions);
      ++compared;
      ASSERT_EQ(row.rule.found, want.found) << std::hex << "pc 0x" << pc;
      if (!want.found) continue;
      ++found;
      ASSERT_TRUE(row.rule == want) << std::hex << "pc 0x" << pc << " in the row [0x" << row.start
                                    << ", 0x" << row.end << ")";
      ASSERT_TRUE(row.start <= pc && pc < row.end);
      if (want.has_expressions) {
        ++with_expressions;
        ASSERT_NE(row.expressions, nullptr) << std::hex << "pc 0x" << pc;
        EXPECT_TRUE(SameExpressions(*row.expressions, want_expressions))
            << std::hex << "pc 0x" << pc;
      }
    }
  }
  // Most pcs had CFI, and most answers came from the table, not from libdw.
  EXPECT_GT(found, compared * 9 / 10);
  EXPECT_GT(stats.table_hits, static_cast<uint64_t>(compared) / 3);
  EXPECT_EQ(stats.table_hits + stats.cfi_reads, static_cast<uint64_t>(compared));
  RecordProperty("rows", static_cast<int>(table.rows()));
  RecordProperty("with_expressions", with_expressions);
}

INSTANTIATE_TEST_SUITE_P(Debian, CfiTableTest,
                         ::testing::Values("/lib/x86_64-linux-gnu/libc.so.6",
                                           "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
                                           "/usr/bin/python3.11"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return std::string(param.index == 0   ? "libc"
                                              : param.index == 1 ? "libstdcxx"
                                                                 : "python3");
                         });

}  // namespace
}  // namespace dprof::unwind::internal
