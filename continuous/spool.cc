#include "dprof/continuous/spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dprof/profile/output_file.h"

namespace dprof::continuous {
namespace {

constexpr absl::string_view kMagic = "dprof-spool 1\n";
constexpr absl::string_view kSuffix = ".req";

}  // namespace

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const std::string& dir, uint64_t max_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec) {
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  }
  if (ec || access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot use the spool directory ", dir, ": ",
                                                      ec ? ec.message() : strerror(errno),
                                                      "; give another with --spool"));
  }
  std::unique_ptr<Spool> spool(new Spool(dir, max_bytes));
  spool->lock_fd_ = open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (spool->lock_fd_ < 0 || flock(spool->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use the spool directory ", dir, ": ",
                     errno == EWOULDBLOCK ? "another dprof agent uses it" : strerror(errno),
                     "; give another with --spool"));
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    uint64_t seq = 0;
    if (!absl::EndsWith(name, kSuffix) ||
        !absl::SimpleAtoi(absl::string_view(name).substr(0, name.size() - kSuffix.size()), &seq)) {
      continue;
    }
    const uint64_t bytes = entry.file_size(ec);
    spool->files_.push_back({name, ec ? 0 : bytes});
    spool->bytes_ += ec ? 0 : bytes;
    spool->next_ = std::max(spool->next_, seq + 1);
  }
  std::sort(spool->files_.begin(), spool->files_.end(),
            [](const File& a, const File& b) { return a.name < b.name; });
  spool->Bound();
  return spool;
}

Spool::~Spool() {
  if (lock_fd_ >= 0) close(lock_fd_);  // and the lock with it
}

void Spool::Bound() {
  while (bytes_ > max_bytes_ && files_.size() > 1) {
    std::error_code ec;
    std::filesystem::remove(PathOf(files_.front()), ec);
    bytes_ -= files_.front().bytes;
    files_.erase(files_.begin());
    ++dropped_;
  }
}

absl::Status Spool::Put(const Outgoing& r) {
  // One line each: what it holds is for messages, and loses its line breaks.
  std::string what = r.what;
  std::replace(what.begin(), what.end(), '\n', ' ');
  const std::string data =
      absl::StrCat(kMagic, r.url, "\n", what, "\n", absl::StrJoin(r.headers, "\x1f"), "\n", r.body);
  // Zero-padded: names sort as their sequence does.
  const File file{absl::StrFormat("%020u%s", next_++, kSuffix), data.size()};
  if (absl::Status s = profile::ReplaceFile(PathOf(file), data); !s.ok()) return s;
  files_.push_back(file);
  bytes_ += file.bytes;
  Bound();
  return absl::OkStatus();
}

void Spool::RemoveOldest() {
  if (files_.empty()) return;
  std::error_code ec;
  std::filesystem::remove(PathOf(files_.front()), ec);
  bytes_ -= files_.front().bytes;
  files_.erase(files_.begin());
}

std::optional<Outgoing> Spool::Oldest() {
  while (!files_.empty()) {
    std::ifstream in(PathOf(files_.front()), std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    absl::string_view rest = data;
    std::vector<absl::string_view> lines;
    if (absl::ConsumePrefix(&rest, kMagic)) lines = absl::StrSplit(rest, absl::MaxSplits('\n', 3));
    if (lines.size() != 4 || lines[0].empty()) {
      RemoveOldest();
      ++unreadable_;
      continue;
    }
    Outgoing r{
        .url = std::string(lines[0]), .body = std::string(lines[3]), .what = std::string(lines[1])};
    for (absl::string_view h : absl::StrSplit(lines[2], '\x1f', absl::SkipEmpty())) {
      r.headers.emplace_back(h);
    }
    return r;
  }
  return std::nullopt;
}

}  // namespace dprof::continuous
