// dprof::tracer::internal::ExitWatch — knows when every process (or thread) a recording follows
// has exited: the targets, and every process they fork while recorded (a pre-fork server's
// workers, a shell's commands, a daemon that outlives the command that started it).
//
// Each is watched through a pidfd that the backend's Wait() also watches, so the reader wakes at
// an exit instead of at its next timeout. A pidfd that reports an exit is closed at once: it
// would keep Wait() from sleeping.
//
// Context: one thread (the tracer's reader).
#ifndef DPROF_TRACER_INTERNAL_EXIT_WATCH_H_
#define DPROF_TRACER_INTERNAL_EXIT_WATCH_H_

#include <sys/types.h>

#include <cstddef>

#include "absl/container/flat_hash_map.h"
#include "dprof/tracer/backend.h"

namespace dprof::tracer::internal {

class ExitWatch {
 public:
  explicit ExitWatch(PerfBackend* backend) : backend_(backend) {}
  ~ExitWatch();
  ExitWatch(const ExitWatch&) = delete;
  ExitWatch& operator=(const ExitWatch&) = delete;

  // Follows process `pid` (with `thread`: the one thread `pid`) until it exits. One gone already
  // is not followed. Where pidfds cannot be had at all (before Linux 5.3), AllExited() is false
  // from then on: only a stop request or a duration ends such a recording.
  void Watch(pid_t pid, bool thread);
  // Process `pid` ended (the kernel's EXIT record of its leader): no longer followed, even if its
  // pidfd has not said so yet (its pid may already name another process).
  void Forget(pid_t pid);
  // Stops following the ones that exited; true when none is left.
  bool AllExited();
  // Processes and threads followed now.
  size_t size() const { return pidfds_.size(); }

 private:
  void Close(int pidfd);

  PerfBackend* backend_;
  absl::flat_hash_map<pid_t, int> pidfds_;
  bool blind_ = false;  // a pidfd could not be opened for a live process
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_EXIT_WATCH_H_
