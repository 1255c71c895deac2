#include "profile/internal/kernel_symbol_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace dprof::profile::internal {

namespace {

// The file: this line, the length of the modules text (u64), the text, then the symbols' image.
constexpr std::string_view kFileMagic = "dprof kernel symbols\n";

absl::Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(strerror(n < 0 ? errno : ENOSPC));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

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
  absl::StatusOr<std::string> boot_id = ReadProcText("/proc/sys/kernel/random/boot_id");
  if (!boot_id.ok()) return "";
  const std::string id(absl::StripAsciiWhitespace(*boot_id));
  if (id.empty() || id.find('/') != std::string::npos) return "";
  return absl::StrCat(dir, "/kallsyms-", id);
}

std::optional<KernelSymbols> ReadKernelSymbolCache(const std::string& path,
                                                   std::string_view modules) {
  absl::StatusOr<std::string> file = ReadProcText(path);
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
  std::string temporary = absl::StrCat(path, ".XXXXXX");
  const int fd = mkostemp(temporary.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot write beside ", path));
  std::string head(kFileMagic);
  const uint64_t length = modules.size();
  head.append(reinterpret_cast<const char*>(&length), sizeof(length));
  head.append(modules);
  absl::Status written = WriteAll(fd, head);
  if (written.ok()) written = WriteAll(fd, symbols.Image());
  if (close(fd) != 0 && written.ok()) written = absl::InternalError(strerror(errno));
  if (written.ok() && rename(temporary.c_str(), path.c_str()) != 0) {
    written = absl::InternalError(strerror(errno));
  }
  if (!written.ok()) {
    unlink(temporary.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", written.message()));
  }
  return absl::OkStatus();
}

}  // namespace dprof::profile::internal
