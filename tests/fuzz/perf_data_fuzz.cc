// libFuzzer target: any bytes as a perf.data file. The reader must reject or read without
// crashing, hanging or allocating without bound, and what it delivers must lie within the input
// (or a decompressed chunk).
//
//   build-fuzz/tests/fuzz/perf_data_fuzz CORPUS_DIR -max_total_time=60
//
// scripts/test.sh seeds the corpus with the perf.data files the perf tests leave in
// build/tests/artifacts/perf-data/ (file and pipe mode, compressed, dwarf, several events).
#include <cstddef>
#include <cstdint>
#include <span>

#include "tracer/internal/perf_data_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dprof::tracer::internal::PerfDataFile;
  using dprof::tracer::internal::PerfDataRecord;
  absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(std::span(data, size));
  if (!file.ok()) return 0;
  uint64_t sum = 0;
  (void)file->ForEachRecord([&](const PerfDataRecord& r) {
    // Touch every byte delivered: ASan catches a view past its buffer.
    for (uint8_t b : r.bytes) sum += b;
  });
  for (const auto& a : file->attrs()) sum += a.ids.size() + a.name.size() + a.attr.sample_type;
  sum += file->features().cmdline.size() + file->features().build_ids.size();
  return sum == 1 ? 1 : 0;  // never 1 in practice; keeps `sum` alive
}
