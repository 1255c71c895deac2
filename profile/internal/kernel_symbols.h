// KernelSymbols — kernel function names from /proc/kallsyms, modules included.
//
// Each text symbol covers the addresses up to the next symbol; an address in a module ("[ext4]",
// "[bpf]") is named within that module, and one past a module's extent (/proc/modules) is
// unknown. When kallsyms shows only zero addresses (kptr_restrict, or not root), nothing is named.
// Image()/FromImage() keep the parsed symbols in a compact form between runs (KernelSymbolCache).
//
// Context: const methods from any thread.
#ifndef DPROF_PROFILE_INTERNAL_KERNEL_SYMBOLS_H_
#define DPROF_PROFILE_INTERNAL_KERNEL_SYMBOLS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace dprof::profile::internal {

inline constexpr std::string_view kKernelModule = "[kernel.kallsyms]";

// The whole of a file, read in large pieces (/proc/kallsyms is megabytes the kernel formats per
// read; a regular file is read into one allocation of its size). NotFound when it cannot be
// opened.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

class KernelSymbols {
 public:
  // From the texts of /proc/kallsyms and /proc/modules (empty when there is none). Fails on a
  // malformed kallsyms line, naming it.
  static absl::StatusOr<KernelSymbols> Parse(std::string_view kallsyms, std::string_view modules);

  struct Found {
    std::string_view module = {};    // "[kernel.kallsyms]" or "[name]"
    uint64_t offset = 0;             // from the module's start (the kernel's: _text)
    std::string_view function = {};  // empty when no symbol covers the address
    uint64_t function_offset = 0;    // from the function's start
  };
  Found Lookup(uint64_t address) const;

  // Whether kallsyms showed real addresses.
  bool has_addresses() const { return !symbols_.empty(); }

  // Whether the name of `address` stays the same for the rest of the boot: it lies in the
  // kernel's own text (_text to _etext) or in a module /proc/modules listed (loading or unloading
  // modules changes that list). BPF programs and ftrace trampolines come and go.
  bool Lasting(uint64_t address) const;

  // The symbols in a compact binary form, and back: nullopt for an image this version did not
  // write or one damaged (every index checked).
  std::string Image() const;
  static std::optional<KernelSymbols> FromImage(std::string_view image);

 private:
  struct Entry {
    uint64_t address = 0;
    uint32_t name = 0;    // into names_
    uint32_t module = 0;  // into modules_; 0: the kernel
  };
  struct Module {
    std::string name = {};         // with brackets
    uint64_t start = 0, size = 0;  // size 0: extent unknown
  };

  std::string names_;            // every symbol name, NUL-separated
  std::vector<Entry> symbols_;   // sorted by address
  std::vector<Module> modules_;  // [0]: the kernel, from _text
  uint64_t text_end_ = 0;        // _etext; 0 when kallsyms has none
};

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_KERNEL_SYMBOLS_H_
