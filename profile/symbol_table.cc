#include "profile/internal/symbol_table.h"

#include <elf.h>
#include <gelf.h>

#include <algorithm>
#include <string_view>
#include <tuple>

namespace dprof::profile::internal {

namespace {

struct Candidate {
  uint64_t start;
  uint64_t size;
  int binding;  // STB_*
  std::string name;
};

// How strongly a symbol names its address: greater is better (see the header).
auto Rank(const Candidate& c) {
  const int binding = c.binding == STB_GLOBAL ? 2 : c.binding == STB_WEAK ? 1 : 0;
  const size_t underscores = std::min(c.name.find_first_not_of('_'), c.name.size());
  return std::tuple(c.size > 0, c.binding != STB_WEAK, binding, -static_cast<long>(underscores),
                    c.name.size());
}

// The entries of a procedure linkage table: where the first one starts, and each one's size.
struct PltLayout {
  uint64_t first = 0;
  uint64_t entry = 0;
};

// The section named `name`, or nullptr.
Elf_Scn* Section(Elf* elf, size_t strings, std::string_view name, GElf_Shdr* header) {
  for (Elf_Scn* s = elf_nextscn(elf, nullptr); s != nullptr; s = elf_nextscn(elf, s)) {
    if (gelf_getshdr(s, header) == nullptr) continue;
    const char* n = elf_strptr(elf, strings, header->sh_name);
    if (n != nullptr && name == n) return s;
  }
  return nullptr;
}

// "function@plt" for every entry of the module's PLT, in the order of its relocations.
void AddPltEntries(Dwfl_Module* module, std::vector<Candidate>* out) {
  Dwarf_Addr bias = 0;
  Elf* elf = dwfl_module_getelf(module, &bias);
  GElf_Ehdr ehdr;
  size_t strings = 0;
  if (elf == nullptr || gelf_getehdr(elf, &ehdr) == nullptr ||
      elf_getshdrstrndx(elf, &strings) != 0) {
    return;
  }
  // The first entry of .plt resolves lazily and calls nothing: 16 bytes on x86-64, 32 on arm64.
  uint64_t header_size = 0;
  if (ehdr.e_machine == EM_X86_64 || ehdr.e_machine == EM_386) {
    header_size = 16;
  } else if (ehdr.e_machine == EM_AARCH64) {
    header_size = 32;
  } else {
    return;
  }
  GElf_Shdr relocs_header, plt_header, symbols_header;
  Elf_Scn* relocs = Section(elf, strings, ".rela.plt", &relocs_header);
  if (relocs == nullptr) relocs = Section(elf, strings, ".rel.plt", &relocs_header);
  if (relocs == nullptr) return;
  // With indirect-branch tracking, calls go to .plt.sec, whose entries have no header before them.
  PltLayout layout;
  if (Section(elf, strings, ".plt.sec", &plt_header) != nullptr) {
    layout = {plt_header.sh_addr, plt_header.sh_entsize != 0 ? plt_header.sh_entsize : 16};
  } else if (Section(elf, strings, ".plt", &plt_header) != nullptr) {
    layout = {plt_header.sh_addr + header_size,
              plt_header.sh_entsize != 0 ? plt_header.sh_entsize : 16};
  } else {
    return;
  }
  Elf_Scn* symbols = elf_getscn(elf, relocs_header.sh_link);
  Elf_Data* relocs_data = elf_getdata(relocs, nullptr);
  Elf_Data* symbols_data = symbols != nullptr ? elf_getdata(symbols, nullptr) : nullptr;
  if (relocs_data == nullptr || symbols_data == nullptr ||
      gelf_getshdr(symbols, &symbols_header) == nullptr || relocs_header.sh_entsize == 0) {
    return;
  }
  const size_t count = relocs_header.sh_size / relocs_header.sh_entsize;
  for (size_t i = 0; i < count; ++i) {
    GElf_Rela rela;
    GElf_Rel rel;
    uint64_t info = 0;
    if (relocs_header.sh_type == SHT_RELA) {
      if (gelf_getrela(relocs_data, static_cast<int>(i), &rela) == nullptr) break;
      info = rela.r_info;
    } else {
      if (gelf_getrel(relocs_data, static_cast<int>(i), &rel) == nullptr) break;
      info = rel.r_info;
    }
    GElf_Sym sym;
    const size_t index = ehdr.e_ident[EI_CLASS] == ELFCLASS64
                             ? GELF_R_SYM(info)
                             : ELF32_R_SYM(static_cast<uint32_t>(info));
    const char* name = index != 0 && gelf_getsym(symbols_data, static_cast<int>(index), &sym)
                           ? elf_strptr(elf, symbols_header.sh_link, sym.st_name)
                           : nullptr;
    if (name == nullptr || *name == '\0') continue;  // an IRELATIVE slot: no function named
    out->push_back({.start = layout.first + i * layout.entry + bias,
                    .size = layout.entry,
                    .binding = STB_LOCAL,
                    .name = std::string(name) + "@plt"});
  }
}

}  // namespace

SymbolTable SymbolTable::Read(Dwfl_Module* module) {
  std::vector<Candidate> candidates;
  const int count = dwfl_module_getsymtab(module);
  for (int i = 1; i < count; ++i) {
    GElf_Sym sym;
    GElf_Addr address = 0;
    GElf_Word section = 0;
    const char* name =
        dwfl_module_getsym_info(module, i, &sym, &address, &section, nullptr, nullptr);
    const int type = GELF_ST_TYPE(sym.st_info);
    if (name == nullptr || *name == '\0' || address == 0 || section == SHN_UNDEF ||
        section == SHN_ABS || (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)) {
      continue;
    }
    // A versioned name ("memcpy@@GLIBC_2.14", in the .symtab of glibc's debug file) without its
    // version: the function's name is what callers write.
    std::string_view bare(name);
    bare = bare.substr(0, bare.find('@'));
    candidates.push_back({.start = address,
                          .size = sym.st_size,
                          .binding = GELF_ST_BIND(sym.st_info),
                          .name = std::string(bare)});
  }
  AddPltEntries(module, &candidates);
  // One per start: the best name.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.start != b.start ? a.start < b.start : Rank(a) > Rank(b);
  });
  SymbolTable table;
  for (Candidate& c : candidates) {
    if (!table.entries_.empty() && table.entries_.back().start == c.start) continue;
    table.entries_.push_back(
        {.start = c.start, .end = c.start + c.size, .name = std::move(c.name)});
  }
  // Unsized symbols reach to the next symbol.
  for (size_t i = 0; i < table.entries_.size(); ++i) {
    Function& e = table.entries_[i];
    if (e.end == e.start) {
      e.end = i + 1 < table.entries_.size() ? table.entries_[i + 1].start : e.start + 1;
    }
  }
  return table;
}

const SymbolTable::Function* SymbolTable::Find(uint64_t address) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), address,
                             [](uint64_t a, const Function& e) { return a < e.start; });
  // The nearest symbol at or below; an enclosing one further down when it ends before `address`
  // (a nested label inside a function), as far as a few entries back.
  for (int back = 0; back < 4 && it != entries_.begin(); ++back) {
    --it;
    if (address < it->end) return &*it;
  }
  return nullptr;
}

}  // namespace dprof::profile::internal
