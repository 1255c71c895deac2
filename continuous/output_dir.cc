#include "dprof/continuous/output_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "dprof/profile/output_file.h"

namespace dprof::continuous {
namespace {

constexpr absl::string_view kSuffix = ".pb.gz";

constexpr size_t kStamp = 16;  // YYYYMMDDTHHMMSSZ

// Whether `name` is one this directory writes: SERVICE-YYYYMMDDTHHMMSSZ.pb.gz.
bool OwnName(absl::string_view name) {
  if (!absl::ConsumeSuffix(&name, kSuffix) || name.size() < kStamp + 2) return false;
  const absl::string_view stamp = name.substr(name.size() - kStamp);
  if (name[name.size() - kStamp - 1] != '-') return false;
  for (size_t i = 0; i < kStamp; ++i) {
    const char c = stamp[i];
    const bool ok = i == 8 ? c == 'T' : i == 15 ? c == 'Z' : absl::ascii_isdigit(c);
    if (!ok) return false;
  }
  return true;
}

// A service name as a file name: no slash, no leading dot.
std::string SafeName(std::string_view service) {
  std::string out;
  for (char c : service) out += (c == '/' || c == '\0') ? '_' : c;
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<OutputDir>> OutputDir::Open(const std::string& path, Limits limits) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (!ec) std::filesystem::permissions(path, std::filesystem::perms::owner_all, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the output directory ", path, ": ", ec.message()));
  }
  if (access(path.c_str(), W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write in the output directory ", path, ": ", strerror(errno)));
  }
  return std::unique_ptr<OutputDir>(new OutputDir(path, limits));
}

std::string OutputDir::FileName(std::string_view service, uint64_t start_unix_ns) {
  const absl::Time t = absl::FromUnixNanos(static_cast<int64_t>(start_unix_ns));
  return absl::StrCat(SafeName(service), "-",
                      absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone()), kSuffix);
}

absl::Status OutputDir::Write(std::string_view service, uint64_t start_unix_ns,
                              std::string_view pprof) {
  const std::string file = absl::StrCat(path_, "/", FileName(service, start_unix_ns));
  if (absl::Status s = profile::ReplaceFile(file, pprof); !s.ok()) return s;
  Prune();
  return absl::OkStatus();
}

void OutputDir::Prune() {
  struct Kept {
    std::string stamp;  // the window's start, as its name writes it
    std::filesystem::path path;
    uint64_t bytes;
  };
  std::vector<Kept> kept;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || !OwnName(name)) continue;
    const uint64_t bytes = entry.file_size(ec);
    if (ec) continue;
    kept.push_back({name.substr(name.size() - kStamp - kSuffix.size()), entry.path(), bytes});
  }
  std::sort(kept.begin(), kept.end(),
            [](const Kept& a, const Kept& b) { return a.stamp > b.stamp; });  // newest first
  uint64_t bytes = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    bytes += kept[i].bytes;
    if (i > 0 && (i >= limits_.max_files || bytes > limits_.max_bytes)) {  // the newest stays
      std::filesystem::remove(kept[i].path, ec);
    }
  }
}

}  // namespace dprof::continuous
