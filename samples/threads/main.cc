// threads: starts threads and a child process one after another while it runs, so that a
// recorder attached at the start must follow every one it creates.
//
//   threads [THREADS] [MS_EACH]
//
// main spins for MS_EACH, then starts THREADS threads 50 ms apart (named "worker-N"), each
// spinning MS_EACH in thread_spin(); then forks a child that spins MS_EACH in child_spin() and
// exits 0. Prints one line per task it made: "thread TID" / "child PID".
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "samples/monotonic_seconds.h"

namespace {

volatile uint64_t sink;

__attribute__((noinline)) void Spin(double ms) {
  const double end = MonotonicSeconds() + ms / 1000;
  uint64_t x = 1;
  while (MonotonicSeconds() < end) {
    for (int i = 0; i < 1000; ++i) x = x * 6364136223846793005ull + 1;
  }
  sink = x;
}

extern "C" __attribute__((noinline)) void thread_spin(double ms) { Spin(ms); }
extern "C" __attribute__((noinline)) void child_spin(double ms) { Spin(ms); }
extern "C" __attribute__((noinline)) void main_spin(double ms) { Spin(ms); }

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 4;
  const double ms = argc > 2 ? std::atof(argv[2]) : 300;
  main_spin(ms);
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([i, ms] {
      pthread_setname_np(pthread_self(), ("worker-" + std::to_string(i)).c_str());
      std::printf("thread %d\n", static_cast<int>(gettid()));
      std::fflush(stdout);
      thread_spin(ms);
    });
    usleep(50000);
  }
  for (std::thread& t : workers) t.join();
  std::fflush(stdout);
  const pid_t child = fork();
  if (child == 0) {
    child_spin(ms);
    _exit(0);
  }
  std::printf("child %d\n", static_cast<int>(child));
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
