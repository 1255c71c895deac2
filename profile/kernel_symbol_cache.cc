#include "profile/internal/kernel_symbol_cache.h"

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "dprof/profile/output_file.h"

namespace dprof::profile::internal {

namespace {

// The file: this line, the length of the modules text (u64), the text, then the symbols' image.
constexpr std::string_view kFileMagic = "dprof kernel symbols\n";

}  // namespace

std::string DefaultCacheDir() {
  if (const char* xdg = getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
    return absl::StrCat(xdg, "/dprof");
  }
  if (const char* home = getenv("HOME"); home != nullptr && home[0] != '\0') {
    return absl::StrCat(home, "/.cache/dprof");
  }
  return "";
}

std::string KernelSymbolCachePath(const std::string& dir) {
  if (dir.empty()) return "";
  absl::StatusOr<std::string> boot_id = ReadWholeFile("/proc/sys/kernel/random/boot_id");
  if (!boot_id.ok()) return "";
  const std::string id(absl::StripAsciiWhitespace(*boot_id));
  if (id.empty() || id.find('/') != std::string::npos) return "";
  return absl::StrCat(dir, "/kallsyms-", id);
}

std::optional<KernelSymbols> ReadKernelSymbolCache(const std::string& path,
                                                   std::string_view modules) {
  absl::StatusOr<std::string> file = ReadWholeFile(path);
  if (!file.ok()) return std::nullopt;
  std::string_view rest = *file;
  uint64_t length = 0;
  if (!rest.starts_with(kFileMagic)) return std::nullopt;
  rest.remove_prefix(kFileMagic.size());
  if (rest.size() < sizeof(length)) return std::nullopt;
  std::memcpy(&length, rest.data(), sizeof(length));
  rest.remove_prefix(sizeof(length));
  if (rest.size() < length || rest.substr(0, length) != modules) return std::nullopt;
  return KernelSymbols::FromImage(rest.substr(length));
}

absl::Status WriteKernelSymbolCache(const std::string& path, std::string_view modules,
                                    const KernelSymbols& symbols) {
  const std::filesystem::path target(path);
  std::error_code error;
  if (!std::filesystem::exists(target.parent_path(), error)) {
    std::filesystem::create_directories(target.parent_path(), error);
    if (error) {
      return absl::InternalError(
          absl::StrCat("cannot make ", target.parent_path().string(), ": ", error.message()));
    }
    chmod(target.parent_path().c_str(), 0700);
  }
  std::string file(kFileMagic);
  const uint64_t length = modules.size();
  file.append(reinterpret_cast<const char*>(&length), sizeof(length));
  file.append(modules);
  file += symbols.Image();
  return ReplaceFile(path, file);  // private (0600): kernel addresses
}

}  // namespace dprof::profile::internal
