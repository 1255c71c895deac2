// See chain.h. Every function is noinline and does work after its call, so each keeps a real
// frame and a return address into its caller; -fno-optimize-sibling-calls (CMake) keeps the
// compiler from turning calls into jumps.
#include "chain.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "captured_stack.h"

namespace {

struct Run {
  const char* path;
  uint64_t max_stack_bytes;
  uint64_t return_addresses[512];  // in call order: main's caller first
  int depth = 0;
};
Run run;

void Record(void* return_address) {
  if (run.depth < 512)
    run.return_addresses[run.depth++] = reinterpret_cast<uint64_t>(return_address);
}

std::string ReadMaps() {
  std::ifstream in("/proc/self/maps");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The end of the mapping that holds `address` (the top of this thread's stack).
uint64_t MappingEnd(const std::string& maps, uint64_t address) {
  std::istringstream lines(maps);
  for (std::string line; std::getline(lines, line);) {
    uint64_t start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64, &start, &end) == 2 && address >= start &&
        address < end) {
      return end;
    }
  }
  return address;
}

__attribute__((noinline)) int WriteCapture(const uint64_t* regs) {
  dprof::samples::CapturedStack capture;
  capture.pid = static_cast<uint32_t>(getpid());
  capture.tid = static_cast<uint32_t>(syscall(SYS_gettid));
  std::memcpy(capture.regs, regs, sizeof(capture.regs));
  capture.maps = ReadMaps();
  const uint64_t sp = regs[7];
  uint64_t end = MappingEnd(capture.maps, sp);
  if (end - sp > run.max_stack_bytes) end = sp + run.max_stack_bytes;
  capture.stack_address = sp;
  // The bytes above sp are the frames of chain_c and its callers, which stay put while this
  // function (whose own frame lies below sp) copies them.
  capture.stack.assign(reinterpret_cast<const uint8_t*>(sp), reinterpret_cast<const uint8_t*>(end));
  for (int i = run.depth - 1; i >= 0; --i) capture.expected.push_back(run.return_addresses[i]);
  return capture.Write(run.path) ? 0 : 1;
}

}  // namespace

extern "C" {

__attribute__((noinline)) int chain_c() {
  Record(__builtin_return_address(0));
  uint64_t regs[17];
  // All sixteen general registers and the address of the next instruction, in DWARF order. The
  // stored rip and rsp belong together: nothing moves rsp between the two.
  asm volatile(
      "movq %%rax, 0(%0)\n\t"
      "movq %%rdx, 8(%0)\n\t"
      "movq %%rcx, 16(%0)\n\t"
      "movq %%rbx, 24(%0)\n\t"
      "movq %%rsi, 32(%0)\n\t"
      "movq %%rdi, 40(%0)\n\t"
      "movq %%rbp, 48(%0)\n\t"
      "movq %%rsp, 56(%0)\n\t"
      "movq %%r8, 64(%0)\n\t"
      "movq %%r9, 72(%0)\n\t"
      "movq %%r10, 80(%0)\n\t"
      "movq %%r11, 88(%0)\n\t"
      "movq %%r12, 96(%0)\n\t"
      "movq %%r13, 104(%0)\n\t"
      "movq %%r14, 112(%0)\n\t"
      "movq %%r15, 120(%0)\n\t"
      "leaq 0(%%rip), %%rax\n\t"
      "movq %%rax, 128(%0)\n\t"
      :
      : "r"(regs)
      : "rax", "memory");
  return WriteCapture(regs) * 3 + 1;
}

__attribute__((noinline)) int chain_recurse(int left) {
  Record(__builtin_return_address(0));
  const int result = left > 0 ? chain_recurse(left - 1) : chain_c();
  return result + 1;
}

__attribute__((noinline)) int chain_b(int depth) {
  Record(__builtin_return_address(0));
  const int result = depth > 4 ? chain_recurse(depth - 5) : chain_c();
  return result + 1;
}

__attribute__((noinline)) int chain_a(int depth) {
  Record(__builtin_return_address(0));
  return chain_b(depth) + 1;
}

void chain_setup(const char* path, uint64_t max_stack_bytes, uint64_t main_return_address) {
  run.path = path;
  run.max_stack_bytes = max_stack_bytes;
  run.depth = 0;
  Record(reinterpret_cast<void*>(main_return_address));
}

}  // extern "C"
