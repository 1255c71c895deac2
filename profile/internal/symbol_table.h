// SymbolTable — the function names of one ELF module's symbol tables, one per address, with its
// PLT entries named after the functions they call.
//
// Libraries often name one function several times (malloc, __libc_malloc, __GI___libc_malloc):
// of the symbols that start at one address, the one people call wins, as perf picks it (a sized
// symbol over an unsized one, then global over weak over local, then fewer leading underscores,
// then the longer name), so that dprof and perf name the same code alike; symbol versions
// ("@@GLIBC_2.14") are left out. A call through the
// procedure linkage table lands in a PLT entry, which no symbol covers: entry i of .plt (or of
// .plt.sec, with indirect-branch tracking) is named "<function of .rela.plt's entry i>@plt".
//
// Context: a plain value once read; Find() from any thread, no allocation.
#ifndef DPROF_PROFILE_INTERNAL_SYMBOL_TABLE_H_
#define DPROF_PROFILE_INTERNAL_SYMBOL_TABLE_H_

#include <elfutils/libdwfl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dprof::profile::internal {

class SymbolTable {
 public:
  // The function symbols of `module` (the best table libdw has for it: .symtab of the file or of
  // its debug file, else .dynsym and .gnu_debugdata), and its PLT entries. Addresses are the
  // module's (ELF virtual address + the module's bias).
  static SymbolTable Read(Dwfl_Module* module);

  struct Function {
    uint64_t start = 0;
    uint64_t end = 0;  // exclusive
    std::string name;
  };

  // The function (or PLT entry) containing module address `address`; nullptr when none does. An
  // unsized symbol reaches to the next one.
  const Function* Find(uint64_t address) const;

  size_t size() const { return entries_.size(); }

 private:
  std::vector<Function> entries_;  // by start, one per start
};

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_SYMBOL_TABLE_H_
