// dprof::profile::Symbolizer — addresses into function names, source lines and inline frames.
//
// User code through libdw: DWARF (in the file or in a separate debug file found by build-id or
// .gnu_debuglink under Options::debug_path), else the ELF symbol tables; C++ names demangled; one
// frame per inlined call. Files of processes in other mount namespaces are opened through
// /proc/PID/root, files deleted while mapped through /proc/PID/map_files or, once the process is
// gone, among the files the tracer had open (pass its BinaryCache): see unwind::AddressSpace. JIT
// code through /tmp/perf-PID.map, when owned by the process's user or root. The vDSO through
// dprof's own (the kernel gives every process the same). Kernel addresses through /proc/kallsyms,
// modules included. An address nothing names still gets its module and offset: views print it as
// "[unknown] (module+0xoffset)".
//
// Each binary is opened once (the BinaryCache) and read by libdw once; each address is looked up
// once.
//
// Example:
//   Symbolizer symbolizer({}, tracer->binaries());
//   SymbolizeRecording(recording, symbolizer);
//   for (const std::string& note : symbolizer.notes()) std::cerr << note << "\n";
//
// Context: not thread-safe; one per thread.
#ifndef DPROF_PROFILE_SYMBOLIZER_H_
#define DPROF_PROFILE_SYMBOLIZER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "dprof/profile/recording.h"
#include "dprof/unwind/address_space.h"
#include "dprof/unwind/binary.h"

namespace dprof::profile {

namespace internal {
class BinarySymbols;
class KernelSymbols;
class PerfMap;
}  // namespace internal

class Symbolizer {
 public:
  // How naming a recording's addresses (SymbolizeRecording) goes.
  struct Progress {
    size_t stacks = 0;     // distinct stacks whose frames are named
    size_t binaries = 0;   // files holding their code (the kernel counts as one)
    size_t addresses = 0;  // distinct addresses to name
    size_t named = 0;      // of them, named so far
  };

  struct Options {
    std::string kallsyms = "/proc/kallsyms";  // empty: kernel frames stay unnamed, silently
    std::string modules = "/proc/modules";
    // Whether the running kernel's symbols (kallsyms "/proc/kallsyms") are kept between runs, one
    // file per boot in `cache_dir` ("": $XDG_CACHE_HOME/dprof, else $HOME/.cache/dprof): the
    // kernel takes 0.1 s to print /proc/kallsyms. Served while /proc/modules is the same; an
    // address outside the kernel's text and its modules (a BPF program) reads kallsyms afresh.
    bool cache_kernel_symbols = true;
    std::string cache_dir = "";
    // Directories of separate debug files, ':'-separated (libdw's debuginfo_path).
    std::string debug_path = "/usr/lib/debug";
    std::string perf_map_dir = "/tmp";  // where JITs write perf-PID.map
    std::string proc = "/proc";
    // Whether the recording's pids name the processes that are running now (a recording made
    // here, symbolized at its end): their files are then opened through /proc/PID/root and
    // /proc/PID/map_files. False for a recording made elsewhere or long ago (an imported
    // perf.data): its files are opened by path and build-id only.
    bool live_processes = true;
    // Told how SymbolizeRecording goes: at its start, every few hundred addresses, and at its
    // end (named == addresses). On the calling thread; it must not call back into the symbolizer.
    std::function<void(const Progress&)> progress = nullptr;
  };

  // `binaries` (may be null: the symbolizer keeps its own) must outlive the symbolizer.
  explicit Symbolizer(Options options, unwind::BinaryCache* binaries = nullptr);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // The symbol of user address `address` of process `pid`, in `mapping` (the one holding it;
  // null when none does). A `return_address` (any frame but a stack's innermost) is named by the
  // call before it: the instruction after a call may start another line or function.
  Symbol User(uint32_t pid, const unwind::Mapping* mapping, uint64_t address, bool return_address);
  // The symbol of a kernel address (`return_address` as for User()).
  Symbol Kernel(uint64_t address, bool return_address);

  unwind::BinaryCache* binaries() { return binaries_; }
  // Tells Options::progress, when there is one.
  void ReportProgress(const Progress& progress) const {
    if (options_.progress) options_.progress(progress);
  }
  // The root through which process `pid`'s files are opened: "/proc/PID/root" while it can be
  // reached (as first asked), else "" (the files as dprof sees them; always without
  // Options::live_processes).
  const std::string& RootOf(uint32_t pid);
  // The pid whose /proc/PID/map_files may open process `pid`'s deleted files: `pid`, or 0 (none)
  // without Options::live_processes.
  uint32_t LivePid(uint32_t pid) const { return options_.live_processes ? pid : 0; }

  // What could not be read and why, each once ("/tmp/perf-42.map is owned by uid 1000, ...").
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  internal::BinarySymbols* SymbolsOf(const std::shared_ptr<const unwind::Binary>& binary);
  std::shared_ptr<const unwind::Binary> Vdso();
  const internal::PerfMap* PerfMapOf(uint32_t pid);
  // Loads the kernel's symbols into kernel_: from the cache unless `fresh`, else from kallsyms.
  void LoadKernel(bool fresh);
  // Whether `mapping`'s file was deleted after it was mapped.
  bool Deleted(uint32_t pid, const unwind::Mapping& mapping);
  void Note(std::string note);

  Options options_;
  std::unique_ptr<unwind::BinaryCache> own_binaries_;
  unwind::BinaryCache* binaries_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<internal::BinarySymbols>>
      symbols_;  // by Binary::id
  std::optional<std::shared_ptr<const unwind::Binary>> vdso_;
  std::optional<std::unique_ptr<internal::KernelSymbols>> kernel_;
  bool kernel_cached_ = false;  // kernel_ came from the cache
  absl::flat_hash_map<uint32_t, std::unique_ptr<internal::PerfMap>> perf_maps_;  // null: none
  absl::flat_hash_map<uint32_t, std::string> roots_;  // RootOf()'s answers
  absl::flat_hash_map<std::string, bool> deleted_;    // by root + path
  std::vector<std::string> notes_;
};

// Symbolizes every address the recording's stacks reference: user addresses through the mapping
// that held them when their event happened (ProcessHistory: forks, execs and mappings replayed in
// time order), filling `recording.mapped_symbol_of` (and `symbol_of` for addresses no mapping
// held, and kernel addresses), replacing what they held. Identical symbols are stored once.
void SymbolizeRecording(Recording& recording, Symbolizer& symbolizer);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_SYMBOLIZER_H_
