#include "dprof/profile/symbolizer.h"

#include <elf.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "dprof/profile/process_history.h"
#include "profile/internal/binary_symbols.h"
#include "profile/internal/kernel_symbol_cache.h"
#include "profile/internal/kernel_symbols.h"
#include "profile/internal/perf_map.h"

namespace dprof::profile {

namespace {

constexpr absl::string_view kDeletedSuffix = " (deleted)";
// SymbolizeRecording tells its progress after every this many addresses.
constexpr size_t kProgressEvery = 256;

// The size of an ELF image in memory: up to its section headers or its last loaded byte.
size_t ImageSize(const uint8_t* image) {
  Elf64_Ehdr ehdr;
  std::memcpy(&ehdr, image, sizeof(ehdr));
  size_t size = ehdr.e_shoff + size_t{ehdr.e_shnum} * ehdr.e_shentsize;
  for (int i = 0; i < ehdr.e_phnum; ++i) {
    Elf64_Phdr phdr;
    std::memcpy(&phdr, image + ehdr.e_phoff + static_cast<size_t>(i) * ehdr.e_phentsize,
                sizeof(phdr));
    if (phdr.p_type == PT_LOAD) size = std::max<size_t>(size, phdr.p_offset + phdr.p_filesz);
  }
  return size;
}

}  // namespace

Symbolizer::Symbolizer(Options options, unwind::BinaryCache* binaries)
    : options_(std::move(options)) {
  if (binaries == nullptr) {
    own_binaries_ = std::make_unique<unwind::BinaryCache>();
    binaries = own_binaries_.get();
  }
  binaries_ = binaries;
}

Symbolizer::~Symbolizer() = default;

void Symbolizer::Note(std::string note) {
  if (std::find(notes_.begin(), notes_.end(), note) == notes_.end()) {
    notes_.push_back(std::move(note));
  }
}

const std::string& Symbolizer::RootOf(uint32_t pid) {
  auto [it, inserted] = roots_.try_emplace(pid);
  if (inserted && options_.live_processes) {
    std::string root = absl::StrCat(options_.proc, "/", pid, "/root");
    if (access((root + "/").c_str(), X_OK) == 0) it->second = std::move(root);
  }
  return it->second;
}

internal::BinarySymbols* Symbolizer::SymbolsOf(
    const std::shared_ptr<const unwind::Binary>& binary) {
  auto [it, inserted] = symbols_.try_emplace(binary->id());
  if (inserted) {
    absl::StatusOr<std::unique_ptr<internal::BinarySymbols>> opened =
        internal::BinarySymbols::Open(binary, options_.debug_path);
    if (opened.ok()) {
      it->second = *std::move(opened);
    } else {
      Note(std::string(opened.status().message()));
    }
  }
  return it->second.get();
}

std::shared_ptr<const unwind::Binary> Symbolizer::Vdso() {
  if (vdso_.has_value()) return *vdso_;
  vdso_ = nullptr;
  const auto* image = reinterpret_cast<const uint8_t*>(getauxval(AT_SYSINFO_EHDR));
  if (image == nullptr) return nullptr;
  // The kernel maps the same vDSO into every process: dprof's own names the target's. libdw reads
  // files, so the image goes into a memory file first.
  const int fd = memfd_create("vdso", MFD_CLOEXEC);
  if (fd < 0) return nullptr;
  const size_t size = ImageSize(image);
  if (write(fd, image, size) == static_cast<ssize_t>(size)) {
    vdso_ = binaries_->Open(absl::StrCat("/proc/self/fd/", fd));
  }
  close(fd);  // the Binary holds a descriptor of its own
  return *vdso_;
}

const internal::PerfMap* Symbolizer::PerfMapOf(uint32_t pid) {
  auto [it, inserted] = perf_maps_.try_emplace(pid);
  if (!inserted) return it->second.get();
  // The process's user, while it runs; once it is gone, dprof's (perf's rule).
  struct stat st;
  const uid_t owner =
      options_.live_processes && stat(absl::StrCat(options_.proc, "/", pid).c_str(), &st) == 0
          ? st.st_uid
          : geteuid();
  absl::StatusOr<internal::PerfMap> map =
      internal::PerfMap::Load(absl::StrCat(options_.perf_map_dir, "/perf-", pid, ".map"), owner);
  if (map.ok()) {
    if (map->truncated()) {
      Note(absl::StrCat(options_.perf_map_dir, "/perf-", pid, ".map is larger than ",
                        internal::PerfMap::kMaxBytes >> 20, " MiB: only its first ",
                        internal::PerfMap::kMaxBytes >> 20, " MiB name code"));
    }
    it->second = std::make_unique<internal::PerfMap>(*std::move(map));
  } else if (!absl::IsNotFound(map.status())) {
    Note(std::string(map.status().message()));
  }
  return it->second.get();
}

bool Symbolizer::Deleted(uint32_t pid, const unwind::Mapping& m) {
  if (absl::EndsWith(m.path, kDeletedSuffix)) return true;
  const std::string& root = RootOf(pid);
  auto [it, inserted] = deleted_.try_emplace(root + m.path);
  if (inserted) {
    struct stat st;
    it->second = stat((root + m.path).c_str(), &st) != 0 && errno == ENOENT;
  }
  return it->second;
}

Symbol Symbolizer::User(uint32_t pid, const unwind::Mapping* m, uint64_t address,
                        bool return_address) {
  const uint64_t looked_up = return_address && address > 0 ? address - 1 : address;
  if (m == nullptr || m->path.empty() || m->path == "//anon" || m->path.starts_with("[anon")) {
    // Anonymous memory: generated code, named by the JIT's perf map when there is one.
    if (const internal::PerfMap* map = PerfMapOf(pid)) {
      if (const internal::PerfMap::Entry* e = map->Find(looked_up)) {
        return Symbol{.module = absl::StrCat(options_.perf_map_dir, "/perf-", pid, ".map"),
                      .offset = address,
                      .frames = {SymbolFrame{.function = e->name}},
                      .function_offset = address - e->start};
      }
    }
    return Symbol{.module = m == nullptr ? "" : (m->path.empty() ? "[anon]" : m->path),
                  .offset = address};
  }

  // The vDSO is no file: dprof's own image of it stands in.
  unwind::Mapping vdso;
  if (m->binary == nullptr && m->path == "[vdso]") {
    vdso = *m;
    if (std::shared_ptr<const unwind::Binary> image = Vdso()) {
      if (unwind::BindBinary(vdso, std::move(image))) m = &vdso;
    }
  }

  Symbol symbol{.module = std::string(absl::StripSuffix(m->path, kDeletedSuffix)),
                .offset = address - m->start + m->pgoff,
                .deleted = m->path[0] != '[' && Deleted(pid, *m)};
  if (m->binary == nullptr) return symbol;
  symbol.offset = address - m->bias;
  if (internal::BinarySymbols* symbols = SymbolsOf(m->binary)) {
    const internal::BinarySymbols::Named& named = symbols->Lookup(looked_up - m->bias);
    symbol.frames = named.frames;
    if (named.function_start.has_value()) {
      symbol.function_offset = symbol.offset - *named.function_start;
    }
  }
  return symbol;
}

void Symbolizer::LoadKernel(bool fresh) {
  kernel_ = nullptr;
  kernel_cached_ = false;
  if (options_.kallsyms.empty()) return;
  absl::StatusOr<std::string> modules = internal::ReadWholeFile(options_.modules);
  const std::string modules_text = modules.ok() ? *std::move(modules) : "";
  const std::string cache =
      options_.cache_kernel_symbols && options_.kallsyms == "/proc/kallsyms"
          ? internal::KernelSymbolCachePath(options_.cache_dir.empty() ? internal::DefaultCacheDir()
                                                                       : options_.cache_dir)
          : "";
  if (!fresh && !cache.empty()) {
    if (std::optional<internal::KernelSymbols> kept =
            internal::ReadKernelSymbolCache(cache, modules_text)) {
      kernel_ = std::make_unique<internal::KernelSymbols>(*std::move(kept));
      kernel_cached_ = true;
      return;
    }
  }
  absl::StatusOr<std::string> kallsyms = internal::ReadWholeFile(options_.kallsyms);
  absl::StatusOr<internal::KernelSymbols> k =
      kallsyms.ok() ? internal::KernelSymbols::Parse(*kallsyms, modules_text) : kallsyms.status();
  if (!k.ok()) {
    Note(absl::StrCat(k.status().message(), ": kernel frames stay unnamed"));
    return;
  }
  if (!k->has_addresses()) {
    Note(absl::StrCat(options_.kallsyms,
                      " shows no addresses: kernel frames stay unnamed (run as root, or set "
                      "kernel.kptr_restrict=0)"));
  } else if (!cache.empty()) {
    // A cache that cannot be written (a read-only home) only costs the next run its 0.1 s.
    internal::WriteKernelSymbolCache(cache, modules_text, *k).IgnoreError();
  }
  kernel_ = std::make_unique<internal::KernelSymbols>(*std::move(k));
}

Symbol Symbolizer::Kernel(uint64_t address, bool return_address) {
  if (!kernel_.has_value()) LoadKernel(/*fresh=*/false);
  // What the cache names may have changed since it was written only outside what lasts.
  if (kernel_cached_ && !(*kernel_)->Lasting(address)) LoadKernel(/*fresh=*/true);
  if (*kernel_ == nullptr)
    return Symbol{.module = std::string(internal::kKernelModule), .offset = address};
  const internal::KernelSymbols::Found at = (*kernel_)->Lookup(address);
  const bool by_call = return_address && address > 0;
  const internal::KernelSymbols::Found named = by_call ? (*kernel_)->Lookup(address - 1) : at;
  Symbol symbol{.module = std::string(at.module), .offset = at.offset};
  if (!named.function.empty()) {
    symbol.frames.push_back(SymbolFrame{.function = std::string(named.function)});
    symbol.function_offset = named.function_offset + (by_call ? 1 : 0);
  }
  return symbol;
}

void SymbolizeRecording(Recording& recording, Symbolizer& symbolizer) {
  const ProcessHistory history(recording);
  // Every address a stack of an event references, and whether it is ever a return address (not
  // a stack's innermost frame): user addresses under the mapping that held them at the event
  // (else under their process), kernel addresses under kKernelPid.
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, bool> mapped, unmapped;
  absl::flat_hash_set<StackId> kernel_stacks, user_stacks;
  for (const Event& e : recording.events) {
    const std::vector<uint64_t>* kernel = recording.Stack(e.kernel_stack);
    if (kernel != nullptr && kernel_stacks.insert(e.kernel_stack).second) {
      for (size_t i = 0; i < kernel->size(); ++i) unmapped[{kKernelPid, (*kernel)[i]}] |= i > 0;
    }
    StackId user = e.user == event::UserStack::kInline ? e.user_stack : kNoStack;
    if (e.user == event::UserStack::kDeferred) {
      auto it = recording.user_stacks.find(e.cookie);
      if (it != recording.user_stacks.end()) user = it->second.stack;
    }
    const std::vector<uint64_t>* pcs = recording.Stack(user);
    if (pcs == nullptr) continue;
    user_stacks.insert(user);  // counted once; named per event (its process and time decide)
    for (size_t i = 0; i < pcs->size(); ++i) {
      const uint64_t pc = (*pcs)[i];
      const uint32_t m = history.MappingAt(e.pid, e.time_ns, pc, !e.user_mode);
      (m == kNoMapping ? unmapped[{e.pid, pc}] : mapped[{m, pc}]) |= i > 0;
    }
  }

  // Each recorded mapping bound to its file once, through its process's root.
  absl::flat_hash_map<uint32_t, std::unique_ptr<unwind::AddressSpace>> binders;  // by pid
  absl::flat_hash_map<uint32_t, unwind::Mapping> bound;                          // by mapping
  auto mapping_at = [&](uint32_t index) -> const unwind::Mapping& {
    auto [it, inserted] = bound.try_emplace(index);
    if (inserted) {
      const Mapping& m = recording.mappings[index];
      it->second = unwind::Mapping{.start = m.start,
                                   .end = m.end,
                                   .pgoff = m.pgoff,
                                   .prot = m.prot,
                                   .path = m.path,
                                   .build_id = m.build_id};
      auto [binder, fresh] = binders.try_emplace(m.pid);
      if (fresh) {
        binder->second = std::make_unique<unwind::AddressSpace>(
            symbolizer.binaries(), symbolizer.RootOf(m.pid), symbolizer.LivePid(m.pid));
      }
      binder->second->ResolveBinary(it->second);
    }
    return it->second;
  };

  recording.symbols.clear();
  recording.symbol_of.clear();
  recording.mapped_symbol_of.clear();
  // Identical symbols (a shared library's code in many processes) are stored once.
  absl::flat_hash_map<std::tuple<std::string, uint64_t, bool, bool>, uint32_t> index_of;
  auto add = [&](Symbol symbol, bool return_address) {
    auto [it, inserted] = index_of.try_emplace(
        std::tuple(symbol.module, symbol.offset, return_address, symbol.deleted),
        static_cast<uint32_t>(recording.symbols.size()));
    if (inserted) recording.symbols.push_back(std::move(symbol));
    return it->second;
  };
  // In key order, so the same recording always gets the same symbol table.
  auto sorted = [](const absl::flat_hash_map<std::pair<uint32_t, uint64_t>, bool>& sites) {
    std::vector<std::pair<std::pair<uint32_t, uint64_t>, bool>> v(sites.begin(), sites.end());
    std::sort(v.begin(), v.end());
    return v;
  };
  // What there is to name, for whoever shows progress: the stacks, and the files behind their
  // addresses (a path mapped by many processes counts once; so does the kernel).
  Symbolizer::Progress progress{.stacks = kernel_stacks.size() + user_stacks.size(),
                                .addresses = mapped.size() + unmapped.size()};
  {
    absl::flat_hash_set<std::string_view> files;
    for (const auto& [site, return_address] : mapped)
      files.insert(recording.mappings[site.first].path);
    bool kernel = false;
    for (const auto& [site, return_address] : unmapped) kernel |= site.first == kKernelPid;
    progress.binaries = files.size() + (kernel ? 1 : 0);
  }
  symbolizer.ReportProgress(progress);
  auto named_one = [&] {
    if (++progress.named % kProgressEvery == 0) symbolizer.ReportProgress(progress);
  };
  for (const auto& [site, return_address] : sorted(mapped)) {
    const auto [index, address] = site;
    recording.mapped_symbol_of[site] = add(
        symbolizer.User(recording.mappings[index].pid, &mapping_at(index), address, return_address),
        return_address);
    named_one();
  }
  for (const auto& [site, return_address] : sorted(unmapped)) {
    const auto [pid, address] = site;
    recording.symbol_of[site] =
        add(pid == kKernelPid ? symbolizer.Kernel(address, return_address)
                              : symbolizer.User(pid, nullptr, address, return_address),
            return_address);
    named_one();
  }
  // The end (unless the last report was it): a recording with nothing to name ends as it starts.
  if (progress.named == 0 || progress.named % kProgressEvery != 0) {
    symbolizer.ReportProgress(progress);
  }
}

}  // namespace dprof::profile
