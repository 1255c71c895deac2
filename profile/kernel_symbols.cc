#include "profile/internal/kernel_symbols.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dprof::profile::internal {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string text;
  size_t size = 0;
  // A regular file says its size (one allocation); /proc files say 0.
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    text.resize(static_cast<size_t>(st.st_size) + (1 << 16));
  }
  for (;;) {
    if (text.size() - size < (1 << 16)) text.resize(std::max<size_t>(2 * text.size(), 1 << 20));
    const ssize_t n = read(fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  close(fd);
  text.resize(size);
  return text;
}

namespace {

// An address's offset in a module; the absolute address when the module's start is unknown or
// above it.
uint64_t OffsetIn(uint64_t start, uint64_t address) {
  return start != 0 && address >= start ? address - start : address;
}

bool IsText(char type) { return type == 't' || type == 'T' || type == 'w' || type == 'W'; }

}  // namespace

absl::StatusOr<KernelSymbols> KernelSymbols::Parse(std::string_view kallsyms_text,
                                                   std::string_view modules_text) {
  const absl::string_view kallsyms(kallsyms_text.data(), kallsyms_text.size());
  const absl::string_view modules(modules_text.data(), modules_text.size());
  KernelSymbols k;
  k.modules_.push_back(Module{.name = std::string(kKernelModule)});
  absl::flat_hash_map<std::string, uint32_t> module_index;  // by name, without brackets

  // /proc/modules: "ext4 1003520 2 - Live 0xffffffffc0a00000 ..."
  for (absl::string_view line : absl::StrSplit(modules, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t size = 0, start = 0;
    if (f.size() < 6 || !absl::SimpleAtoi(f[1], &size) ||
        !absl::SimpleHexAtoi(absl::StripPrefix(f[5], "0x"), &start)) {
      continue;  // a format this reader does not know says nothing about extents
    }
    module_index[std::string(f[0])] = static_cast<uint32_t>(k.modules_.size());
    k.modules_.push_back(
        Module{.name = absl::StrCat("[", f[0], "]"), .start = start, .size = size});
  }

  // /proc/kallsyms: "ffffffff81000000 T _text" or "ffffffffc0a01000 t ext4_fill_super\t[ext4]"
  uint64_t text = 0;
  bool any_address = false;
  size_t line_number = 0;
  for (absl::string_view rest = kallsyms; !rest.empty();) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    const absl::string_view line = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    ++line_number;
    if (line.empty()) continue;
    // "ADDRESS TYPE NAME", then "\t[MODULE]" for a module's symbol.
    const size_t space = line.find(' ');
    uint64_t address = 0;
    if (space == absl::string_view::npos || line.size() < space + 4 || line[space + 2] != ' ' ||
        !absl::SimpleHexAtoi(line.substr(0, space), &address)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kallsyms line ", line_number, " is not 'ADDRESS TYPE NAME': ", line));
    }
    const char type = line[space + 1];
    absl::string_view name = line.substr(space + 3);
    absl::string_view module_name;
    if (const size_t tab = name.find('\t'); tab != absl::string_view::npos) {
      module_name = absl::StripSuffix(absl::StripPrefix(name.substr(tab + 1), "["), "]");
      name = name.substr(0, tab);
    }
    any_address |= address != 0;
    if (module_name.empty() && name == "_text") text = address;
    if (module_name.empty() && name == "_etext") k.text_end_ = address;
    if (!IsText(type) || address == 0) continue;
    uint32_t module = 0;
    if (!module_name.empty()) {
      auto [it, inserted] = module_index.try_emplace(std::string(module_name),
                                                     static_cast<uint32_t>(k.modules_.size()));
      if (inserted) k.modules_.push_back(Module{.name = absl::StrCat("[", module_name, "]")});
      module = it->second;
    }
    k.symbols_.push_back(Entry{
        .address = address, .name = static_cast<uint32_t>(k.names_.size()), .module = module});
    k.names_.append(name.data(), name.size());
    k.names_.push_back('\0');
  }
  if (!any_address) k.symbols_.clear();
  k.modules_[0].start = text;
  std::stable_sort(k.symbols_.begin(), k.symbols_.end(),
                   [](const Entry& a, const Entry& b) { return a.address < b.address; });
  // Modules /proc/modules did not list ([bpf], [__builtin__ftrace]) start at their first symbol.
  for (const Entry& e : k.symbols_) {
    Module& m = k.modules_[e.module];
    if (e.module != 0 && m.size == 0 && (m.start == 0 || e.address < m.start)) m.start = e.address;
  }
  return k;
}

KernelSymbols::Found KernelSymbols::Lookup(uint64_t address) const {
  // The last symbol at or below the address.
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                             [](uint64_t a, const Entry& e) { return a < e.address; });
  // A module (by its extent) holding the address, when the symbol found is not in it.
  for (size_t i = 1; i < modules_.size(); ++i) {
    const Module& m = modules_[i];
    if (m.size != 0 && address >= m.start && address - m.start < m.size &&
        (it == symbols_.begin() || std::prev(it)->module != i)) {
      return Found{.module = m.name, .offset = OffsetIn(m.start, address)};
    }
  }
  if (it == symbols_.begin()) {
    return Found{.module = modules_[0].name, .offset = OffsetIn(modules_[0].start, address)};
  }
  const Entry& e = *std::prev(it);
  const Module& m = modules_[e.module];
  if (m.size != 0 && address - m.start >= m.size) {  // past the end of the symbol's module
    return Found{.module = modules_[0].name, .offset = OffsetIn(modules_[0].start, address)};
  }
  return Found{.module = m.name,
               .offset = OffsetIn(m.start, address),
               .function = std::string_view(names_.data() + e.name),
               .function_offset = address - e.address};
}

bool KernelSymbols::Lasting(uint64_t address) const {
  if (address >= modules_[0].start && address < text_end_) return true;
  for (size_t i = 1; i < modules_.size(); ++i) {
    const Module& m = modules_[i];
    if (m.size != 0 && address >= m.start && address - m.start < m.size) return true;
  }
  return false;
}

namespace {

// The image: "dprof-ksym-1", then little-endian fields as the machine holds them (an image is
// read back on the machine that wrote it):
//   u64 text_end, u32 modules, per module {u64 start, u64 size, u32 length, name bytes},
//   u64 symbols, per symbol {u64 address, u32 name, u32 module}, u64 length, the names.
constexpr std::string_view kImageMagic = "dprof-ksym-1";

template <typename T>
void Put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

// Reads what Put wrote, failing past the end.
class ImageReader {
 public:
  explicit ImageReader(std::string_view image) : rest_(image) {}
  template <typename T>
  bool Get(T& value) {
    if (rest_.size() < sizeof(T)) return false;
    std::memcpy(&value, rest_.data(), sizeof(T));
    rest_.remove_prefix(sizeof(T));
    return true;
  }
  bool Bytes(uint64_t n, std::string_view& out) {
    if (rest_.size() < n) return false;
    out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace

std::string KernelSymbols::Image() const {
  std::string out(kImageMagic);
  Put<uint64_t>(out, text_end_);
  Put<uint32_t>(out, static_cast<uint32_t>(modules_.size()));
  for (const Module& m : modules_) {
    Put<uint64_t>(out, m.start);
    Put<uint64_t>(out, m.size);
    Put<uint32_t>(out, static_cast<uint32_t>(m.name.size()));
    out += m.name;
  }
  Put<uint64_t>(out, symbols_.size());
  for (const Entry& e : symbols_) {
    Put<uint64_t>(out, e.address);
    Put<uint32_t>(out, e.name);
    Put<uint32_t>(out, e.module);
  }
  Put<uint64_t>(out, names_.size());
  out += names_;
  return out;
}

std::optional<KernelSymbols> KernelSymbols::FromImage(std::string_view image) {
  if (!image.starts_with(kImageMagic)) return std::nullopt;
  ImageReader in(image.substr(kImageMagic.size()));
  KernelSymbols k;
  uint32_t modules = 0;
  if (!in.Get(k.text_end_) || !in.Get(modules) || modules == 0) return std::nullopt;
  for (uint32_t i = 0; i < modules; ++i) {
    Module m;
    uint32_t length = 0;
    std::string_view name;
    if (!in.Get(m.start) || !in.Get(m.size) || !in.Get(length) || !in.Bytes(length, name)) {
      return std::nullopt;
    }
    m.name = std::string(name);
    k.modules_.push_back(std::move(m));
  }
  uint64_t symbols = 0;
  if (!in.Get(symbols) || symbols > image.size() / 16) return std::nullopt;
  k.symbols_.resize(symbols);
  for (Entry& e : k.symbols_) {
    if (!in.Get(e.address) || !in.Get(e.name) || !in.Get(e.module)) return std::nullopt;
  }
  uint64_t length = 0;
  std::string_view names;
  if (!in.Get(length) || !in.Bytes(length, names) || !in.done()) return std::nullopt;
  if (!names.empty() && names.back() != '\0') return std::nullopt;
  k.names_ = std::string(names);
  for (size_t i = 0; i < k.symbols_.size(); ++i) {
    const Entry& e = k.symbols_[i];
    if (e.name >= k.names_.size() || e.module >= k.modules_.size() ||
        (i > 0 && e.address < k.symbols_[i - 1].address)) {
      return std::nullopt;
    }
  }
  return k;
}

}  // namespace dprof::profile::internal
