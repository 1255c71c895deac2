// jit: runs machine code it generates at run time and names it in /tmp/perf-PID.map, as JIT
// compilers do for perf.
//
//   jit [SECONDS]
//
// Writes a small loop (x86-64) into anonymous executable memory, describes it in
// /tmp/perf-PID.map as "jit_hot_loop", and calls it until SECONDS (default 1) have passed. The
// map stays after exit, as a JIT's does, for the profiler to read; whoever ran the program removes
// it. Other architectures: exits 2 ("not supported").
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "samples/monotonic_seconds.h"

namespace {

// uint64_t f(uint64_t x, uint64_t n): n rounds of x = x * 0x41c64e6d + n.
constexpr unsigned char kLoop[] = {
    0x48, 0x89, 0xf8,                          // mov rax, rdi
    0x48, 0x85, 0xf6,                          // test rsi, rsi
    0x74, 0x0f,                                // jz done
    0x48, 0x69, 0xc0, 0x6d, 0x4e, 0xc6, 0x41,  // loop: imul rax, rax, 0x41c64e6d
    0x48, 0x01, 0xf0,                          // add rax, rsi
    0x48, 0xff, 0xce,                          // dec rsi
    0x75, 0xf1,                                // jnz loop
    0xc3,                                      // done: ret
};

volatile uint64_t sink;

}  // namespace

int main(int argc, char** argv) {
#if defined(__x86_64__)
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  void* code =
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  // Somewhere past the start, as a JIT's code heap would place it.
  unsigned char* loop = static_cast<unsigned char*>(code) + 256;
  std::memcpy(loop, kLoop, sizeof(kLoop));
  const std::string map = "/tmp/perf-" + std::to_string(getpid()) + ".map";
  FILE* f = std::fopen(map.c_str(), "w");
  if (f == nullptr) {
    std::perror(map.c_str());
    return 1;
  }
  std::fprintf(f, "%lx %zx jit_hot_loop\n", reinterpret_cast<unsigned long>(loop), sizeof(kLoop));
  std::fclose(f);
  auto fn = reinterpret_cast<uint64_t (*)(uint64_t, uint64_t)>(loop);
  const double end = MonotonicSeconds() + seconds;
  uint64_t x = 1;
  while (MonotonicSeconds() < end) x = fn(x, 1000000);
  sink = x;
  return 0;
#else
  (void)argc;
  (void)argv;
  std::fprintf(stderr, "jit: not supported on this architecture (x86-64 only)\n");
  return 2;
#endif
}
