// The running kernel's symbols kept on disk from one run to the next.
//
// /proc/kallsyms takes the kernel about 0.1 s to print (120k lines on a Debian kernel), at the
// end of every recording and import made on the machine. Within one boot the kernel's own text
// never moves, and modules move only when loaded or unloaded: one file per boot
// (DIR/kallsyms-BOOT_ID, mode 0600, since kernel addresses are root's secret) keeps the parsed
// symbols with the /proc/modules text they were made with, and serves while that text is the
// same. Addresses outside what lasts (KernelSymbols::Lasting: BPF programs, ftrace trampolines)
// are the caller's to read afresh.
//
// Context: free functions, from any thread; a writer replaces the file whole (a rename), so a
// reader sees one complete file or the other.
#ifndef DPROF_PROFILE_INTERNAL_KERNEL_SYMBOL_CACHE_H_
#define DPROF_PROFILE_INTERNAL_KERNEL_SYMBOL_CACHE_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "profile/internal/kernel_symbols.h"

namespace dprof::profile::internal {

// $XDG_CACHE_HOME/dprof, else $HOME/.cache/dprof; "" when neither is set.
std::string DefaultCacheDir();

// DIR/kallsyms-BOOT_ID for this boot, or "" when `dir` is empty or the boot id (from
// /proc/sys/kernel/random/boot_id) cannot be read.
std::string KernelSymbolCachePath(const std::string& dir);

// The symbols kept at `path` when they were made with the same /proc/modules text `modules`;
// nullopt when there are none, they were made with other modules, or the file is damaged or of
// another version.
std::optional<KernelSymbols> ReadKernelSymbolCache(const std::string& path,
                                                   std::string_view modules);

// Keeps `symbols`, made with /proc/modules text `modules`, at `path` (its directory made 0700
// when missing; the file private and replaced whole: ReplaceFile).
absl::Status WriteKernelSymbolCache(const std::string& path, std::string_view modules,
                                    const KernelSymbols& symbols);

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_KERNEL_SYMBOL_CACHE_H_
