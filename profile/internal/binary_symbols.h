// BinarySymbols — the source-level names of the addresses of one ELF file, through libdw.
//
// DWARF first, from the file itself or a separate debug file libdw finds by build-id or
// .gnu_debuglink under the debug directories: the function, its source file and line, and one
// frame per inlined call (innermost first, each marked inlined). Without DWARF, and for C functions
// (whose aliases DWARF does not know), the symbol tables (.symtab, .dynsym, .gnu_debugdata; PLT
// entries as "function@plt"): SymbolTable. C++ names are demangled. Every address is looked up
// once.
//
// Context: not thread-safe (libdw's lookups fill caches); one per thread.
#ifndef DPROF_PROFILE_INTERNAL_BINARY_SYMBOLS_H_
#define DPROF_PROFILE_INTERNAL_BINARY_SYMBOLS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "dprof/profile/recording.h"
#include "dprof/unwind/binary.h"
#include "profile/internal/symbol_table.h"

namespace dprof::profile::internal {

class BinarySymbols {
 public:
  // `debug_path`: where separate debug files are looked for, in libdw's debuginfo_path syntax
  // (directories separated by ':', e.g. "/usr/lib/debug").
  static absl::StatusOr<std::unique_ptr<BinarySymbols>> Open(
      std::shared_ptr<const unwind::Binary> binary, const std::string& debug_path);
  ~BinarySymbols();
  BinarySymbols(const BinarySymbols&) = delete;
  BinarySymbols& operator=(const BinarySymbols&) = delete;

  struct Named {
    // Innermost inlined first; empty when nothing in the file names the address.
    std::vector<SymbolFrame> frames;
    // The ELF virtual address where the function holding it starts (the symbol table's, else
    // DWARF's), when known.
    std::optional<uint64_t> function_start;
  };
  // What names ELF virtual address `vaddr`.
  const Named& Lookup(uint64_t vaddr);

 private:
  struct Session;  // libdw's state for the file
  explicit BinarySymbols(std::unique_ptr<Session> session);
  Named Resolve(uint64_t vaddr);
  // The symbol table's function holding module address `address` (read on first use), or
  // nullptr.
  const SymbolTable::Function* SymbolAt(uint64_t address);

  std::unique_ptr<Session> session_;
  std::optional<SymbolTable> table_;
  absl::flat_hash_map<uint64_t, Named> cache_;
  // Function DIEs (by their address in the mapped DWARF) to their names, and whether each came
  // from a C++ linkage name.
  absl::flat_hash_map<const void*, std::pair<std::string, bool>> function_names_;
};

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_BINARY_SYMBOLS_H_
