#include "tracer/internal/exit_watch.h"

#include <errno.h>
#include <unistd.h>

#include <vector>

#include "tracer/internal/process.h"

namespace dprof::tracer::internal {

ExitWatch::~ExitWatch() {
  for (const auto& [pid, pidfd] : pidfds_) Close(pidfd);
}

void ExitWatch::Close(int pidfd) {
  // Closing the last reference also takes it out of the backend's epoll set.
  close(pidfd);
}

void ExitWatch::Watch(pid_t pid, bool thread) {
  if (pidfds_.contains(pid)) return;
  const int pidfd = OpenPidfd(pid, thread);
  if (pidfd < 0) {
    if (pidfd != -ESRCH) blind_ = true;
    return;
  }
  pidfds_.emplace(pid, pidfd);
  backend_->Watch(pidfd);
}

void ExitWatch::Forget(pid_t pid) {
  auto it = pidfds_.find(pid);
  if (it == pidfds_.end()) return;
  Close(it->second);
  pidfds_.erase(it);
}

bool ExitWatch::AllExited() {
  std::vector<pid_t> exited;
  for (const auto& [pid, pidfd] : pidfds_) {
    if (PidfdExited(pidfd)) exited.push_back(pid);
  }
  for (pid_t pid : exited) Forget(pid);
  return pidfds_.empty() && !blind_;
}

}  // namespace dprof::tracer::internal
