// dprof::continuous::Spool — requests that could not be sent yet, kept on disk so that a backend
// down for longer than the memory queue holds, or an agent restarted meanwhile, loses nothing
// within a bound.
//
// One file per request in the spool directory (0700), `SEQUENCE.req` (0600, written whole or not
// at all), oldest first by name. Past `max_bytes` the oldest files are removed (also when opened
// with a smaller bound than an earlier run's), each counted as dropped. A file that does not read
// as a spooled request (cut, or not dprof's) is removed and counted as unreadable. A request
// stays on disk until RemoveOldest() says it was delivered or given up: a crash while sending it
// loses nothing. One Spool per directory at a time (a lock file, `.lock`): a second agent on the
// same directory is refused. Credentials never reach the disk: Outgoing holds none.
//
// File layout: "dprof-spool 1\n", the URL, a line; what it holds, a line; the headers, a line,
// separated by \x1f; then the body to the end of the file.
//
// Example:
//   auto spool = Spool::Open("/var/lib/dprof/spool/pyroscope", 256 << 20).value();
//   spool->Put(request);
//   while (std::optional<Outgoing> r = spool->Oldest()) {
//     Send(*r);
//     spool->RemoveOldest();
//   }
//
// Context: one thread at a time.
#ifndef DPROF_CONTINUOUS_SPOOL_H_
#define DPROF_CONTINUOUS_SPOOL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/continuous/outgoing.h"

namespace dprof::continuous {

class Spool {
 public:
  // Creates the directory (0700) when missing and takes the files already there; the error names
  // the directory when it cannot be made, read or written, or another agent uses it.
  static absl::StatusOr<std::unique_ptr<Spool>> Open(const std::string& dir, uint64_t max_bytes);
  ~Spool();

  // Keeps `request` as the newest; the oldest go past the bound.
  absl::Status Put(const Outgoing& request);
  // The oldest request, left in the spool; nullopt when empty.
  std::optional<Outgoing> Oldest();
  // Removes the oldest request (the one Oldest() gave).
  void RemoveOldest();

  size_t size() const { return files_.size(); }
  uint64_t bytes() const { return bytes_; }
  uint64_t dropped() const { return dropped_; }        // removed past the bound
  uint64_t unreadable() const { return unreadable_; }  // removed, not a spooled request

 private:
  struct File {
    std::string name;
    uint64_t bytes;
  };
  Spool(std::string dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  std::string PathOf(const File& f) const { return dir_ + "/" + f.name; }
  // Removes the oldest files while the spool holds more than its bound (the newest stays).
  void Bound();

  std::string dir_;
  uint64_t max_bytes_;
  int lock_fd_ = -1;
  std::vector<File> files_;  // oldest first
  uint64_t bytes_ = 0;
  uint64_t next_ = 0;  // the next file's sequence
  uint64_t dropped_ = 0;
  uint64_t unreadable_ = 0;
};

}  // namespace dprof::continuous

#endif  // DPROF_CONTINUOUS_SPOOL_H_
