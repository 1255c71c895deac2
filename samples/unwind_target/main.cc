// unwind_target — captures a known user stack to a file, for the unwinder tests and benchmarks.
//
//   unwind_target OUT_FILE [DEPTH [MAX_STACK_BYTES]]
//
// main -> chain_a -> chain_b [-> chain_recurse ...] -> chain_c, DEPTH frames from chain_c to main
// (default and least 4); chain_c stores its registers, up to MAX_STACK_BYTES (default 65536) of
// its stack, the return addresses of every frame and /proc/self/maps in OUT_FILE.
#include <cstdio>
#include <cstdlib>

#include "chain.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_FILE [DEPTH [MAX_STACK_BYTES]]\n", argv[0]);
    return 2;
  }
  const int depth = argc > 2 ? std::atoi(argv[2]) : 4;
  if (depth < 4 || depth > 500) {
    std::fprintf(stderr, "%s: DEPTH must be 4 to 500\n", argv[0]);
    return 2;
  }
  const uint64_t max_stack = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 65536;
  chain_setup(argv[1], max_stack, reinterpret_cast<uint64_t>(__builtin_return_address(0)));
  if (chain_a(depth) != depth - 1) {
    std::fprintf(stderr, "%s: could not write %s\n", argv[0], argv[1]);
    return 1;
  }
  return 0;
}
