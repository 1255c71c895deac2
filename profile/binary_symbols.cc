#include "profile/internal/binary_symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "profile/internal/demangle.h"

namespace dprof::profile::internal {

struct BinarySymbols::Session {
  std::shared_ptr<const unwind::Binary> binary;  // keeps the descriptor libdw reads open
  std::string debug_path;
  char* debug_path_arg = nullptr;  // libdw reads the path through a char**: debug_path's bytes
  // dwfl_begin keeps a pointer to its callbacks: they live as long as the Dwfl.
  Dwfl_Callbacks callbacks = {
      .find_elf = nullptr,
      .find_debuginfo = dwfl_standard_find_debuginfo,
      .section_address = dwfl_offline_section_address,
      .debuginfo_path = &debug_path_arg,
  };
  Dwfl* dwfl = nullptr;
  Dwfl_Module* module = nullptr;
  uint64_t bias = 0;  // module address = ELF virtual address + bias

  // Each compile unit's address ranges (DWARF addresses), sorted by start: made on first need,
  // for files without .debug_aranges, where libdw finds no compile unit by address (clang writes
  // none unless asked to with -gdwarf-aranges).
  struct CuRange {
    Dwarf_Addr start = 0;
    Dwarf_Addr end = 0;  // exclusive
    Dwarf_Die cu;
  };
  std::optional<std::vector<CuRange>> cu_ranges;
  Dwarf_Addr dwarf_bias = 0;  // module address = DWARF address + dwarf_bias

  // The compile unit holding module address `address`, found by its own ranges (its DWARF
  // addresses are module addresses - dwarf_bias); false when none does or there is no DWARF.
  bool CuByRanges(Dwarf_Addr address, Dwarf_Die* cu);

  ~Session() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
};

bool BinarySymbols::Session::CuByRanges(Dwarf_Addr address, Dwarf_Die* cu) {
  if (!cu_ranges.has_value()) {
    cu_ranges.emplace();
    if (Dwarf* dwarf = dwfl_module_getdwarf(module, &dwarf_bias)) {
      Dwarf_Off offset = 0, next = 0;
      size_t header_size = 0;
      while (dwarf_nextcu(dwarf, offset, &next, &header_size, nullptr, nullptr, nullptr) == 0) {
        Dwarf_Die die;
        if (dwarf_offdie(dwarf, offset + header_size, &die) != nullptr) {
          Dwarf_Addr base = 0, start = 0, end = 0;
          for (ptrdiff_t at = 0; (at = dwarf_ranges(&die, at, &base, &start, &end)) > 0;) {
            if (start < end) cu_ranges->push_back({start, end, die});
          }
        }
        offset = next;
      }
      std::sort(cu_ranges->begin(), cu_ranges->end(),
                [](const CuRange& a, const CuRange& b) { return a.start < b.start; });
    }
  }
  const Dwarf_Addr at = address - dwarf_bias;
  auto it = std::upper_bound(cu_ranges->begin(), cu_ranges->end(), at,
                             [](Dwarf_Addr a, const CuRange& r) { return a < r.start; });
  if (it == cu_ranges->begin() || at >= std::prev(it)->end) return false;
  *cu = std::prev(it)->cu;
  return true;
}

namespace {

// The declaration a concrete DIE stands for: through DW_AT_abstract_origin (an inlined or
// out-of-line instance) and DW_AT_specification (a definition outside its class or namespace).
Dwarf_Die Declaration(Dwarf_Die* die) {
  Dwarf_Die d = *die;
  for (int hops = 0; hops < 8; ++hops) {  // bounded: a damaged file may loop
    Dwarf_Attribute attr;
    Dwarf_Die next;
    if ((dwarf_attr(&d, DW_AT_abstract_origin, &attr) == nullptr &&
         dwarf_attr(&d, DW_AT_specification, &attr) == nullptr) ||
        dwarf_formref_die(&attr, &next) == nullptr) {
      break;
    }
    d = next;
  }
  return d;
}

// Whether the compile unit of `die` is C, where nothing encloses a function's name (finding what
// does walks the unit's tree from its root: seconds over a large program's many addresses).
bool InC(Dwarf_Die* die) {
  Dwarf_Die cu;
  if (dwarf_diecu(die, &cu, nullptr, nullptr) == nullptr) return false;
  switch (dwarf_srclang(&cu)) {
    case DW_LANG_C89:
    case DW_LANG_C:
    case DW_LANG_C99:
    case DW_LANG_C11:
      return true;
    default:
      return false;
  }
}

// "ns::Class::name" from the namespaces, types and functions around a declaration.
std::string QualifiedName(Dwarf_Die* die) {
  Dwarf_Die declaration = Declaration(die);
  const char* name = dwarf_diename(&declaration);
  if (name == nullptr) return "";
  if (InC(&declaration)) return name;
  std::string qualified;
  Dwarf_Die* scopes = nullptr;
  const int depth = dwarf_getscopes_die(&declaration, &scopes);
  for (int i = depth - 1; i > 0; --i) {  // scopes[0] is the declaration itself
    switch (dwarf_tag(&scopes[i])) {
      case DW_TAG_namespace:
      case DW_TAG_subprogram:  // around a local class (a lambda's)
      case DW_TAG_class_type:
      case DW_TAG_structure_type:
      case DW_TAG_union_type: {
        const char* scope = dwarf_diename(&scopes[i]);
        qualified += scope != nullptr ? scope : "(anonymous namespace)";
        qualified += "::";
        break;
      }
      default:
        break;
    }
  }
  free(scopes);
  return qualified + name;
}

// A function's name as people read it: its demangled linkage name (qualified, with parameters),
// else its name qualified by the namespaces and classes around it. `mangled`: whether it came
// from a C++ linkage name (a C function has none, or its assembler name: "__GI___libc_malloc").
std::string FunctionName(Dwarf_Die* die, bool* mangled) {
  Dwarf_Attribute attr;
  *mangled = false;
  for (int name : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (dwarf_attr_integrate(die, name, &attr) != nullptr) {
      if (const char* s = dwarf_formstring(&attr)) {
        *mangled = std::string_view(s).starts_with("_Z");
        return Demangle(s);
      }
    }
  }
  return QualifiedName(die);
}

// The file and line an inlined subroutine was called from.
void CallSite(Dwarf_Die* inlined, Dwarf_Die* cu, std::string* file, uint32_t* line) {
  file->clear();
  *line = 0;
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &value) == 0) {
    *line = static_cast<uint32_t>(value);
  }
  Dwarf_Files* files = nullptr;
  size_t count = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &value) == 0 &&
      dwarf_getsrcfiles(cu, &files, &count) == 0 && value < count) {
    if (const char* name = dwarf_filesrc(files, value, nullptr, nullptr)) *file = name;
  }
}

}  // namespace

BinarySymbols::BinarySymbols(std::unique_ptr<Session> session) : session_(std::move(session)) {}
BinarySymbols::~BinarySymbols() = default;

absl::StatusOr<std::unique_ptr<BinarySymbols>> BinarySymbols::Open(
    std::shared_ptr<const unwind::Binary> binary, const std::string& debug_path) {
  auto session = std::make_unique<Session>();
  session->binary = std::move(binary);
  session->debug_path = debug_path;
  session->debug_path_arg = session->debug_path.data();
  session->dwfl = dwfl_begin(&session->callbacks);
  if (session->dwfl == nullptr) {
    return absl::InternalError(absl::StrCat("libdw: ", dwfl_errmsg(-1)));
  }
  // The binary's own descriptor, duplicated: libdw owns and closes what it is given.
  const int fd = dup(session->binary->fd());
  if (fd < 0) return absl::ErrnoToStatus(errno, "dup");
  const std::string& path = session->binary->path();
  // Base 0, addresses as the file has them: module address = ELF virtual address + bias.
  session->module = dwfl_report_elf(session->dwfl, path.c_str(), path.c_str(), fd, 0, false);
  if (session->module == nullptr) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": libdw cannot read it: ", dwfl_errmsg(-1)));
  }
  dwfl_report_end(session->dwfl, nullptr, nullptr);
  Dwarf_Addr bias = 0;
  if (dwfl_module_getelf(session->module, &bias) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": libdw cannot read it: ", dwfl_errmsg(-1)));
  }
  session->bias = bias;
  return std::unique_ptr<BinarySymbols>(new BinarySymbols(std::move(session)));
}

const BinarySymbols::Named& BinarySymbols::Lookup(uint64_t vaddr) {
  auto [it, inserted] = cache_.try_emplace(vaddr);
  if (inserted) it->second = Resolve(vaddr);
  return it->second;
}

const SymbolTable::Function* BinarySymbols::SymbolAt(uint64_t address) {
  if (!table_.has_value()) table_ = SymbolTable::Read(session_->module);
  return table_->Find(address);
}

BinarySymbols::Named BinarySymbols::Resolve(uint64_t vaddr) {
  Dwfl_Module* module = session_->module;
  const Dwarf_Addr address = vaddr + session_->bias;
  const SymbolTable::Function* symbol = SymbolAt(address);
  Named named;
  if (symbol != nullptr) named.function_start = symbol->start - session_->bias;
  std::vector<SymbolFrame>& frames = named.frames;

  // The compile unit of the address: by .debug_aranges, else by the units' own ranges.
  Dwarf_Addr dwarf_bias = 0;
  Dwarf_Die cu_storage;
  Dwarf_Die* cu = dwfl_module_addrdie(module, address, &dwarf_bias);
  if (cu == nullptr && session_->CuByRanges(address, &cu_storage)) {
    cu = &cu_storage;
    dwarf_bias = session_->dwarf_bias;
  }

  // The source line of the address itself: the innermost frame's.
  std::string file;
  uint32_t line = 0;
  if (Dwfl_Line* source = dwfl_module_getsrc(module, address)) {
    int lineno = 0;
    if (const char* name = dwfl_lineinfo(source, nullptr, &lineno, nullptr, nullptr, nullptr)) {
      file = name;
      line = static_cast<uint32_t>(lineno);
    }
  } else if (Dwarf_Line* cu_line = cu ? dwarf_getsrc_die(cu, address - dwarf_bias) : nullptr) {
    int lineno = 0;
    if (const char* name = dwarf_linesrc(cu_line, nullptr, nullptr)) {
      file = name;
      if (dwarf_lineno(cu_line, &lineno) == 0) line = static_cast<uint32_t>(lineno);
    }
  }

  // The innermost function scope at the address (an inlined call or a function), then the DIEs
  // containing it in the compile unit, innermost first: each inlined subroutine is a frame whose
  // caller's location is its call site; the subprogram around them all is the last frame.
  // (dwarf_getscopes alone continues from an inlined function's abstract definition, skipping the
  // calls it was inlined through.)
  if (cu != nullptr) {
    Dwarf_Die* scopes = nullptr;
    const int count = dwarf_getscopes(cu, address - dwarf_bias, &scopes);
    Dwarf_Die innermost;
    bool found = false;
    for (int i = 0; i < count && !found; ++i) {
      const int tag = dwarf_tag(&scopes[i]);
      if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) {
        innermost = scopes[i];
        found = true;
      }
    }
    free(scopes);
    Dwarf_Die* chain = nullptr;
    const int depth = found ? dwarf_getscopes_die(&innermost, &chain) : 0;
    for (int i = 0; i < depth; ++i) {
      const int tag = dwarf_tag(&chain[i]);
      if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
      // Many addresses lie in one function: its name is made once (by the DIE's place in the
      // file's mapped DWARF, unique while the file is open).
      auto [known, fresh] = function_names_.try_emplace(chain[i].addr);
      if (fresh) known->second.first = FunctionName(&chain[i], &known->second.second);
      const bool mangled = known->second.second;
      frames.push_back(SymbolFrame{.function = known->second.first,
                                   .file = file,
                                   .line = line,
                                   .inlined = tag == DW_TAG_inlined_subroutine});
      if (tag == DW_TAG_subprogram) {
        // A C function may have several names (aliases) of which DWARF knows one: the one the
        // symbol table ranks first, as perf shows it (SymbolTable). (A C++ function keeps
        // DWARF's: a mangled symbol of a template demangles with its return type.)
        if (symbol != nullptr && !mangled && !symbol->name.starts_with("_Z")) {
          frames.back().function = symbol->name;
        }
        Dwarf_Addr low = 0;
        if (!named.function_start.has_value() && dwarf_lowpc(&chain[i], &low) == 0 &&
            low + dwarf_bias <= address) {
          named.function_start = low + dwarf_bias - session_->bias;
        }
        break;
      }
      CallSite(&chain[i], cu, &file, &line);
    }
    free(chain);
  }

  // No DWARF function (none at all, or code without it): the symbol table's name, with the
  // source line where there is one.
  if (frames.empty() || frames.back().inlined || frames.back().function.empty()) {
    if (symbol != nullptr) {
      if (!frames.empty() && frames.back().function.empty()) {
        frames.back().function = Demangle(symbol->name);
      } else {
        frames.push_back(
            SymbolFrame{.function = Demangle(symbol->name), .file = file, .line = line});
      }
    }
  }
  return named;
}

}  // namespace dprof::profile::internal
