// libFuzzer target: any bytes as a recording file. The reader must reject or recover without
// crashing, hanging or allocating without bound, and whatever it returns must be safe for every
// view to walk (stitching, symbols, the profile, folded stacks, the report).
//
//   build-fuzz/tests/fuzz/recording_reader_fuzz CORPUS_DIR -max_total_time=60
//
// scripts/test.sh seeds the corpus with the real recordings the perf tests leave in
// build/tests/artifacts/recordings/.
#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>

#include "dprof/profile/folded.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/report.h"
#include "dprof/profile/view.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dprof::profile;
  ReadReport report;
  // A bound on decompressed bytes well under the fuzzer's memory limit.
  absl::StatusOr<Recording> r =
      ParseRecording(std::span(data, size), "fuzz input", &report, {.max_raw_bytes = 256 << 20});
  if (!r.ok()) return 0;
  (void)report.Summary();
  const View profile = View::Build(*r, {.thread_root = true});
  std::ostringstream out;
  WriteFolded(profile, {.kernel_suffix = true}, out);
  WriteReport(*r, profile, {}, out);
  return 0;
}
