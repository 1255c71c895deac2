// libFuzzer target: any bytes as a perf.data file, read twice: by the reader of the layout (which
// must reject or read without crashing, hanging or allocating without bound, and deliver only
// bytes within the input or a decompressed chunk), and replayed whole through the importer's source
// (records parsed and dispatched, tracing data parsed, address spaces and the unwind engine fed)
// into a sink that keeps nothing.
//
//   build-fuzz/tests/fuzz/perf_data_fuzz CORPUS_DIR -max_total_time=60
//
// scripts/test.sh seeds the corpus with the perf.data files the perf tests leave in
// build/tests/artifacts/perf-data/ (file and pipe mode, compressed, dwarf, several events).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "dprof/tracer/perf_data_source.h"
#include "tracer/internal/perf_data_file.h"

namespace {

// The input as a file the source can open (it maps its input by path).
class MemoryFile {
 public:
  MemoryFile(const uint8_t* data, size_t size) : fd_(memfd_create("perf.data", MFD_CLOEXEC)) {
    if (fd_ >= 0 && write(fd_, data, size) != static_cast<ssize_t>(size)) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~MemoryFile() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

class Discard : public dprof::event::TraceSink {
 public:
  void OnEvent(const dprof::event::TraceEvent&) override {}
  void OnUserStack(dprof::cookie::Cookie, const dprof::event::UserStackTrace&) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dprof::tracer::internal::PerfDataFile;
  using dprof::tracer::internal::PerfDataRecord;
  uint64_t sum = 0;
  absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(std::span(data, size));
  if (file.ok()) {
    (void)file->ForEachRecord([&](const PerfDataRecord& r) {
      // Touch every byte delivered: ASan catches a view past its buffer.
      for (uint8_t b : r.bytes) sum += b;
      for (uint8_t b : r.payload) sum += b;
    });
    for (const auto& a : file->attrs()) sum += a.ids.size() + a.name.size() + a.attr.sample_type;
    sum += file->features().cmdline.size() + file->features().build_ids.size();
  }
  MemoryFile memory(data, size);
  if (memory.ok()) {
    absl::StatusOr<std::unique_ptr<dprof::tracer::PerfDataSource>> source =
        dprof::tracer::PerfDataSource::Open(memory.path(), {.unwind_workers = 1});
    if (source.ok()) {
      Discard nothing;
      (void)(*source)->Run(&nothing);
      sum += (*source)->Stats().events() + (*source)->warnings().size();
    }
  }
  return sum == 1 ? 1 : 0;  // never 1 in practice; keeps `sum` alive
}
