// Support for the unwinder tests and benchmarks: run samples/unwind_target, load what it
// captured into a Snapshot, and name the frames with libdw.
#ifndef DPROF_TESTS_TESTING_UNWIND_TESTING_H_
#define DPROF_TESTS_TESTING_UNWIND_TESTING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dprof/unwind/address_space.h"
#include "dprof/unwind/binary.h"
#include "dprof/unwind/snapshot.h"
#include "samples/unwind_target/captured_stack.h"

typedef struct Dwfl Dwfl;

namespace dprof::testing {

// A capture of samples/unwind_target, loaded: the registers, the stack bytes, the return
// addresses an unwinder must find, and the address space to unwind it in.
struct LoadedCapture {
  samples::CapturedStack capture;
  std::unique_ptr<unwind::AddressSpace> space;

  unwind::Snapshot snapshot() const;
};

// Runs `target` (one of the unwind_target builds) with `depth` frames from chain_c to main,
// copying up to `max_stack_bytes`, and loads what it wrote. `binaries` must outlive the result.
absl::StatusOr<LoadedCapture> CaptureStack(const std::string& target, int depth,
                                           uint64_t max_stack_bytes, unwind::BinaryCache* binaries);

// Names addresses with libdw, from the binaries an address space maps.
class Symbolizer {
 public:
  explicit Symbolizer(const unwind::AddressSpace& space);
  ~Symbolizer();
  // The function containing `pc`; for return addresses (frame > 0) the call before it.
  std::string FunctionAt(uint64_t pc, bool return_address) const;
  // FunctionAt() of every frame: pcs[0] as is, the rest as return addresses.
  std::vector<std::string> Functions(const std::vector<uint64_t>& pcs) const;

 private:
  Dwfl* dwfl_;
};

// The build of unwind_target named "fp", "nofp" or "shlib".
std::string UnwindTarget(const std::string& variant);

}  // namespace dprof::testing

#endif  // DPROF_TESTS_TESTING_UNWIND_TESTING_H_
