#include "cli/stop_signals.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "cli/errors.h"

namespace dprof::cli {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Both are lock-free, so the handler may touch them. The handler's loads pair with the release
// stores below: a handler that sees the profiler sees it constructed.
std::atomic<Profiler*> stopping_profiler{nullptr};
std::atomic<int> stop_signals{0};
std::atomic<pid_t> launched_command{0};
// Set while no handler is installed; read by the handler.
StopMessages messages;
static_assert(std::atomic<Profiler*>::is_always_lock_free);
static_assert(std::atomic<int>::is_always_lock_free);
static_assert(std::atomic<pid_t>::is_always_lock_free);

// The actions before InstallStopSignals(), restored after; a signal that was ignored (nohup)
// stays ignored. Written only while no handler is installed.
struct sigaction previous[std::size(kSignals)];

// A line on stderr, from a signal handler.
void WriteLine(const char* text) {
  (void)!write(STDERR_FILENO, "\n", 1);
  (void)!write(STDERR_FILENO, text, strlen(text));
  (void)!write(STDERR_FILENO, "\n", 1);
}

void OnStopSignal(int) {
  const int saved_errno = errno;  // write() may change it under whatever this thread was doing
  if (stop_signals.fetch_add(1, std::memory_order_relaxed) == 0) {
    WriteLine(messages.stopping);
    if (Profiler* p = stopping_profiler.load(std::memory_order_acquire)) p->RequestStop();
    errno = saved_errno;
    return;
  }
  WriteLine(messages.aborted);
  // The command does not outlive its recording (as when the tracer stops it).
  if (const pid_t command = launched_command.load(std::memory_order_relaxed); command > 0) {
    kill(command, SIGKILL);
  }
  _exit(kInterrupted);
}

}  // namespace

void InstallStopSignals(Profiler* profiler, StopMessages stop_messages) {
  messages = stop_messages;
  stop_signals.store(0, std::memory_order_relaxed);
  stopping_profiler.store(profiler, std::memory_order_release);
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    sigaction(kSignals[i], nullptr, &previous[i]);
    if (previous[i].sa_handler != SIG_IGN) sigaction(kSignals[i], &action, nullptr);
  }
}

void SetStopSignalCommand(pid_t command) {
  launched_command.store(command, std::memory_order_relaxed);
}

void UninstallStopSignals() {
  for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &previous[i], nullptr);
  stopping_profiler.store(nullptr, std::memory_order_release);
  launched_command.store(0, std::memory_order_relaxed);
}

bool StopSignalReceived() { return stop_signals.load(std::memory_order_relaxed) > 0; }

}  // namespace dprof::cli
