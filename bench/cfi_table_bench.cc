// The compiled CFI table (unwind/internal/cfi_table.h) on big binaries nobody here wrote, against
// libdw reading the same CFI:
//
//   BM_FirstRules/<binary>/table   a fresh table, then the rules at 2,000 pcs spread over the
//                                  binary (one inside each of 2,000 functions): what the first
//                                  unwinds in a binary cost
//   BM_FirstRules/<binary>/libdw   a fresh libdw CFI handle, then dwarf_cfi_addrframe at the same
//                                  pcs: libdw's own CFI read, the baseline
//   BM_WholeTable/<binary>         every row of every FDE compiled into a fresh table; counters:
//                                  rows and the table's bytes
//
// Binaries: Debian's libc, libLLVM-14 (clang's) and chromium (scripts/deps.sh installs both);
// a missing one is skipped. Run: build/bench/cfi_table_bench (scripts/bench.sh cfi).
#include <elfutils/libdw.h>
#include <libelf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "dprof/unwind/binary.h"
#include "unwind/internal/cfi_table.h"

namespace {

using dprof::unwind::Binary;
using dprof::unwind::DwarfRuleStats;
using dprof::unwind::internal::CfiTable;
using dprof::unwind::internal::Row;

// The start of every FDE, from .eh_frame_hdr's search table (4-byte entries relative to the
// header), sorted.
std::vector<uint64_t> FdeStarts(const Binary& binary) {
  std::vector<uint64_t> starts;
  const auto& hdr = binary.eh_frame_hdr();
  if (!hdr) return starts;
  for (const dprof::unwind::Segment& s : binary.segments()) {
    if (hdr->table_vaddr < s.vaddr || hdr->table_vaddr + hdr->fde_count * 8 > s.vaddr + s.filesz) {
      continue;
    }
    const uint8_t* table = binary.bytes().data() + s.offset + (hdr->table_vaddr - s.vaddr);
    for (uint64_t i = 0; i < hdr->fde_count; ++i) {
      int32_t start = 0;
      std::memcpy(&start, table + i * 8, sizeof(start));
      starts.push_back(hdr->vaddr + static_cast<int64_t>(start));
    }
  }
  std::sort(starts.begin(), starts.end());
  return starts;
}

// 2,000 pcs, each halfway from the start of one of 2,000 FDEs spread evenly over the binary to
// the next FDE's start: inside the function, as the pcs of a stack are.
std::vector<uint64_t> SpreadPcs(const std::vector<uint64_t>& starts) {
  std::vector<uint64_t> pcs;
  const size_t n = std::min<size_t>(2000, starts.size() - 1);
  for (size_t i = 0; i < n; ++i) {
    const size_t f = i * (starts.size() - 1) / n;
    pcs.push_back(starts[f] + (starts[f + 1] - starts[f]) / 2);
  }
  return pcs;
}

void BM_FirstRulesTable(benchmark::State& state, std::shared_ptr<const Binary> binary,
                        std::vector<uint64_t> pcs) {
  uint64_t found = 0;
  for (auto _ : state) {
    CfiTable table(binary);
    DwarfRuleStats stats;
    for (uint64_t pc : pcs) found += table.RowAt(pc, stats).rule.found;
  }
  state.counters["pcs"] = static_cast<double>(pcs.size());
  state.counters["found_pct"] =
      100.0 * static_cast<double>(found) / static_cast<double>(state.iterations() * pcs.size());
}

void BM_FirstRulesLibdw(benchmark::State& state, std::shared_ptr<const Binary> binary,
                        std::vector<uint64_t> pcs) {
  uint64_t found = 0;
  for (auto _ : state) {
    Elf* elf = elf_begin(binary->fd(), ELF_C_READ_MMAP, nullptr);
    Dwarf_CFI* cfi = elf != nullptr ? dwarf_getcfi_elf(elf) : nullptr;
    for (uint64_t pc : pcs) {
      Dwarf_Frame* frame = nullptr;
      if (cfi != nullptr && dwarf_cfi_addrframe(cfi, pc, &frame) == 0) {
        ++found;
        free(frame);  // NOLINT: libdw allocates frames with malloc
      }
    }
    if (cfi != nullptr) dwarf_cfi_end(cfi);
    if (elf != nullptr) elf_end(elf);
  }
  state.counters["found_pct"] =
      100.0 * static_cast<double>(found) / static_cast<double>(state.iterations() * pcs.size());
}

void BM_WholeTable(benchmark::State& state, std::shared_ptr<const Binary> binary,
                   std::vector<uint64_t> starts) {
  size_t rows = 0, bytes = 0;
  for (auto _ : state) {
    CfiTable table(binary);
    DwarfRuleStats stats;
    for (size_t i = 0; i < starts.size(); ++i) {
      const uint64_t limit = i + 1 < starts.size() ? starts[i + 1] : UINT64_MAX;
      for (uint64_t pc = starts[i]; pc < limit;) {
        const Row row = table.RowAt(pc, stats);
        if (!row.rule.found) break;
        pc = row.end;
      }
    }
    rows = table.rows();
    bytes = table.bytes();
  }
  state.counters["fdes"] = static_cast<double>(starts.size());
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["MiB"] = static_cast<double>(bytes) / (1 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  elf_version(EV_CURRENT);
  const std::pair<const char*, const char*> binaries[] = {
      {"libc", "/lib/x86_64-linux-gnu/libc.so.6"},
      {"libLLVM", "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1"},
      {"chromium", "/usr/lib/chromium/chromium"},
  };
  for (const auto& [name, path] : binaries) {
    absl::StatusOr<std::unique_ptr<Binary>> opened = Binary::Open(path);
    if (!opened.ok()) {
      std::fprintf(stderr, "cfi_table_bench: %s skipped: %s\n", path,
                   std::string(opened.status().message()).c_str());
      continue;
    }
    std::shared_ptr<const Binary> binary = *std::move(opened);
    const std::vector<uint64_t> starts = FdeStarts(*binary);
    if (starts.size() < 2) {
      std::fprintf(stderr, "cfi_table_bench: %s skipped: no .eh_frame_hdr table\n", path);
      continue;
    }
    const std::vector<uint64_t> pcs = SpreadPcs(starts);
    const std::string n(name);
    benchmark::RegisterBenchmark(("BM_FirstRules/" + n + "/table").c_str(), BM_FirstRulesTable,
                                 binary, pcs)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_FirstRules/" + n + "/libdw").c_str(), BM_FirstRulesLibdw,
                                 binary, pcs)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_WholeTable/" + n).c_str(), BM_WholeTable, binary, starts)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
  }
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
