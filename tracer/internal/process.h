// The processes the tracer records: finding their threads, launching a command so that counting
// starts at its exec, and noticing when they exit.
#ifndef DPROF_TRACER_INTERNAL_PROCESS_H_
#define DPROF_TRACER_INTERNAL_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dprof/tracer/tracer.h"
#include "dprof/unwind/address_space.h"

namespace dprof::tracer::internal {

// The thread ids in /proc/PID/task; empty when the process is gone.
std::vector<pid_t> ListThreads(pid_t pid);
// /sys/devices/system/cpu/online, parsed ("0-3,6").
std::vector<int> OnlineCpus();
bool ProcessExists(pid_t pid);
// The processes descended from `roots` (their children, the children's children, ...) as /proc
// shows them now, parents before their children; the roots themselves are not included.
std::vector<pid_t> Descendants(const std::vector<pid_t>& roots);

// Tells `sink` about the executable mappings of `space` (read from /proc: perf's synthesized
// MMAP2 records), so that a recording knows what was mapped before it began.
void AnnounceMappings(uint32_t pid, const unwind::AddressSpace& space, uint64_t now_ns,
                      event::TraceSink* sink);
// Tells `sink` the names of `tids` of process `pid`, from /proc: the kernel reports only names
// that change, so those of threads running before the recording began are synthesized, as perf
// does. Threads gone meanwhile are skipped.
void AnnounceNames(uint32_t pid, const std::vector<pid_t>& tids, uint64_t now_ns,
                   event::TraceSink* sink);

// A pidfd that becomes readable when the process (or, with `thread`, the thread) exits.
// -errno on failure.
int OpenPidfd(pid_t pid, bool thread);
// True when the process behind `pidfd` has exited.
bool PidfdExited(int pidfd);

// A command forked and held just before exec until Go(), so that events opened on its pid with
// enable_on_exec start counting exactly at exec.
class ChildProcess {
 public:
  // Forks; the child waits. Fails only when fork or pipe does.
  static absl::StatusOr<ChildProcess> Launch(const std::vector<std::string>& argv);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();  // kills and reaps a child never let go or still running

  // Lets the child exec. NotFound / PermissionDenied when exec failed (the child has exited).
  absl::Status Go();
  // Reaps the child if it has exited; true then, with `exit` filled.
  bool TryWait(CommandExit* exit);
  // Ends a child still running: SIGTERM, then SIGKILL if it has not exited after `grace`; reaps
  // it and fills `exit`.
  void Stop(std::chrono::milliseconds grace, CommandExit* exit);
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int go_fd, int error_fd)
      : pid_(pid), go_fd_(go_fd), error_fd_(error_fd) {}

  pid_t pid_ = -1;
  int go_fd_ = -1;     // write end: closing it lets the child exec
  int error_fd_ = -1;  // read end: the child's errno if exec failed (close-on-exec otherwise)
  bool reaped_ = false;
  std::string program_;
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_PROCESS_H_
