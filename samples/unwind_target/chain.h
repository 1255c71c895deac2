// The call chain the unwinder tests know by heart: main -> chain_a -> chain_b -> chain_c, with
// chain_recurse (depth - 4) times between chain_b and chain_c for deeper stacks. chain_c captures
// its registers and stack. Built into the executable, or (the shared-library variant) into
// libunwind_chain.so.
#ifndef DPROF_SAMPLES_UNWIND_TARGET_CHAIN_H_
#define DPROF_SAMPLES_UNWIND_TARGET_CHAIN_H_

#include <cstdint>

extern "C" {
// Where chain_c writes its capture, how many stack bytes it copies, and main's own return address
// (the last one the unwinders must find). Call from main, then call chain_a.
void chain_setup(const char* path, uint64_t max_stack_bytes, uint64_t main_return_address);

// The chain, `depth` frames from chain_c to main inclusive (at least 4). Returns depth - 1 when
// the capture was written.
int chain_a(int depth);
}

#endif  // DPROF_SAMPLES_UNWIND_TARGET_CHAIN_H_
