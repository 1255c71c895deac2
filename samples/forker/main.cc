// forker: every way a process makes another, each burning CPU in a function of its own, so a
// profiler must give each process its address space (inherited at fork, replaced at exec).
//
//   forker MODE [SECONDS]
//
// MODE (SECONDS of work per burning process, default 1):
//   fork     a pre-fork server: the parent forks two workers that burn in worker_burn() and never
//            exec; the parent waits in parent_wait()
//   nested   a worker forks a grandchild: grandchild_burn() in the grandchild, worker_burn() in
//            the worker
//   orphan   the parent forks two workers and exits at once; the workers (reparented) burn in
//            worker_burn()
//   vfork    vfork() then exec of this program in "burn" mode: exec_burn()
//   spawn    posix_spawn() of this program in "burn" mode: exec_burn()
//   clone    clone() without CLONE_VM (a fork by another name): clone_burn(); then with CLONE_VM
//            (the child shares the parent's memory, not its thread group): clone_vm_burn()
//   exec     burns in pre_exec_burn(), then execs this program through /proc/self/exe in "burn"
//            mode: exec_burn(), in the same pid under another name ("exe")
//   burn     burns in exec_burn()
//   all      each mode above in turn (not burn), one after another
//
// Prints "PID ROLE" for every process it makes, flushed, so a test can tell whose samples are
// whose. Exits 0 when every child exited 0.
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "samples/monotonic_seconds.h"

extern char** environ;

namespace {

volatile uint64_t sink;
double seconds = 1;
const char* self = nullptr;

void Burn(double s) {
  const double end = MonotonicSeconds() + s;
  uint64_t x = 1;
  while (MonotonicSeconds() < end) {
    for (int i = 0; i < 4000; ++i) x = x * 6364136223846793005ull + (x >> 29) + i;
  }
  sink = x;
}

void Announce(pid_t pid, const char* role) {
  std::printf("%d %s\n", static_cast<int>(pid), role);
  std::fflush(stdout);
}

bool WaitAll(const std::vector<pid_t>& children) {
  bool ok = true;
  for (pid_t child : children) {
    int status = 0;
    if (waitpid(child, &status, __WALL) != child || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      ok = false;
    }
  }
  return ok;
}

}  // namespace

extern "C" __attribute__((noinline)) void worker_burn() { Burn(seconds); }
extern "C" __attribute__((noinline)) void grandchild_burn() { Burn(seconds); }
extern "C" __attribute__((noinline)) void clone_burn() { Burn(seconds); }
extern "C" __attribute__((noinline)) void clone_vm_burn() { Burn(seconds); }
extern "C" __attribute__((noinline)) void pre_exec_burn() { Burn(seconds); }
extern "C" __attribute__((noinline)) void exec_burn() { Burn(seconds); }
extern "C" __attribute__((noinline)) bool parent_wait(const std::vector<pid_t>& children) {
  return WaitAll(children);
}

namespace {

pid_t ForkWorker(bool nested) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  std::vector<pid_t> grandchildren;
  if (nested) {
    const pid_t g = fork();
    if (g == 0) {
      grandchild_burn();
      _exit(0);
    }
    Announce(g, "grandchild");
    grandchildren.push_back(g);
  }
  worker_burn();
  _exit(WaitAll(grandchildren) ? 0 : 1);
}

bool Fork(bool nested) {
  std::vector<pid_t> workers;
  for (int i = 0; i < (nested ? 1 : 2); ++i) {
    workers.push_back(ForkWorker(nested));
    Announce(workers.back(), "worker");
  }
  return parent_wait(workers);
}

bool Orphan() {
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      worker_burn();
      _exit(0);
    }
    Announce(pid, "worker");
  }
  return true;  // the workers outlive their parent
}

std::vector<char*> BurnArgv(std::string& s) {
  s = std::to_string(seconds);
  return {const_cast<char*>(self), const_cast<char*>("burn"), s.data(), nullptr};
}

bool Vfork() {
  std::string s;
  std::vector<char*> argv = BurnArgv(s);
  const pid_t pid = vfork();
  if (pid == 0) {
    execv(self, argv.data());
    _exit(127);
  }
  Announce(pid, "vforked");
  return WaitAll({pid});
}

bool Spawn() {
  std::string s;
  std::vector<char*> argv = BurnArgv(s);
  pid_t pid = 0;
  if (posix_spawn(&pid, self, nullptr, nullptr, argv.data(), environ) != 0) return false;
  Announce(pid, "spawned");
  return WaitAll({pid});
}

int CloneMain(void* vm) {
  if (vm != nullptr) {
    clone_vm_burn();
  } else {
    clone_burn();
  }
  return 0;
}

bool Clone() {
  constexpr size_t kStack = 1 << 20;
  std::vector<char> stack(kStack);
  std::vector<pid_t> children;
  for (bool vm : {false, true}) {
    const int flags = SIGCHLD | (vm ? CLONE_VM : 0);
    const pid_t pid = clone(CloneMain, stack.data() + kStack, flags, vm ? &stack : nullptr);
    if (pid < 0) return false;
    Announce(pid, vm ? "clone_vm" : "clone");
    // One at a time: the CLONE_VM child runs on `stack`, in this process's memory.
    if (!WaitAll({pid})) return false;
  }
  return true;
}

bool Exec() {
  pre_exec_burn();
  std::string s;
  std::vector<char*> argv = BurnArgv(s);
  // The kernel names the process after the file it execs: "exe" from here on.
  execv("/proc/self/exe", argv.data());
  return false;
}

// Runs `mode` in a child of its own (so exec and orphan do not end "all"), and waits for it.
bool InChild(const char* mode) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::string s = std::to_string(seconds);
    execl(self, self, mode, s.c_str(), nullptr);
    _exit(127);
  }
  Announce(pid, mode);
  return WaitAll({pid});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: forker fork|nested|orphan|vfork|spawn|clone|exec|burn|all [S]\n");
    return 2;
  }
  const std::string mode = argv[1];
  if (argc > 2) seconds = std::atof(argv[2]);
  // The program's own path, wherever it was started from.
  static char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return 1;
  self = exe;

  bool ok = false;
  if (mode == "fork") ok = Fork(false);
  if (mode == "nested") ok = Fork(true);
  if (mode == "orphan") ok = Orphan();
  if (mode == "vfork") ok = Vfork();
  if (mode == "spawn") ok = Spawn();
  if (mode == "clone") ok = Clone();
  if (mode == "exec") ok = Exec();
  if (mode == "burn") {
    exec_burn();
    ok = true;
  }
  if (mode == "all") {
    ok = true;
    for (const char* m : {"fork", "nested", "orphan", "vfork", "spawn", "clone", "exec"}) {
      ok = InChild(m) && ok;
    }
  }
  return ok ? 0 : 1;
}
