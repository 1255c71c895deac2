// A perf.data file as `perf record` writes it: the events' attributes and ids, the header's
// features (host, kernel, command line, event names, build-ids), and every record of the data in
// file order, compressed chunks (`perf record -z`) decompressed. Both layouts: file mode (a header
// with sections; features after the data) and pipe mode (`perf record -o -`: attributes and
// features arrive as records in the stream).
//
// Only the layout is read here; what a record means is RecordParser's and the importer's. Record
// bytes are views of the file (or of a decompressed chunk), valid during the callback.
//
// Bad input never crashes, hangs or makes the reader allocate what the file says without a cap:
// sections and records that point outside the file, sizes smaller than their fields, attributes
// that do not parse and chunks that do not decompress are errors naming what and where; records
// before such a place have been delivered. A file cut short (a killed `perf record`) delivers every
// whole record and says it was cut. Files of the other byte order are refused, naming it.
//
// Example:
//   absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(bytes);  // the whole file, mapped
//   for (const PerfDataAttr& a : file->attrs()) ...;                 // file mode: already known
//   absl::Status s = file->ForEachRecord([](const PerfDataRecord& r) { ... });
//   const PerfDataFeatures& f = file->features();  // pipe mode: complete once records are read
//
// Context: a plain value; not thread-safe.
#ifndef DPROF_TRACER_INTERNAL_PERF_DATA_FILE_H_
#define DPROF_TRACER_INTERNAL_PERF_DATA_FILE_H_

#include <linux/perf_event.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct ZSTD_DCtx_s;

namespace dprof::tracer::internal {

// The user-space record types perf writes next to the kernel's (tools/perf's PERF_RECORD_*).
enum PerfToolRecord : uint32_t {
  kHeaderAttr = 64,
  kHeaderEventType = 65,
  kHeaderTracingData = 66,
  kHeaderBuildId = 67,
  kFinishedRound = 68,
  kIdIndex = 69,
  kAuxtraceInfo = 70,
  kAuxtrace = 71,
  kAuxtraceError = 72,
  kThreadMap = 73,
  kCpuMap = 74,
  kStatConfig = 75,
  kStat = 76,
  kStatRound = 77,
  kEventUpdate = 78,
  kTimeConv = 79,
  kHeaderFeature = 80,
  kCompressed = 81,
  kFinishedInit = 82,
  kCompressed2 = 83,
};

// The header's feature sections (HEADER_* of tools/perf/util/header.h) dprof reads.
enum PerfFeature : uint32_t {
  kFeatureTracingData = 1,
  kFeatureBuildId = 2,
  kFeatureHostname = 3,
  kFeatureOsRelease = 4,
  kFeatureVersion = 5,
  kFeatureArch = 6,
  kFeatureNrCpus = 7,
  kFeatureCmdline = 11,
  kFeatureEventDesc = 12,
  kFeatureClockId = 23,
  kFeatureClockData = 29,
};

struct PerfDataAttr {
  perf_event_attr attr = {};  // zero past the size the file gave
  std::vector<uint64_t> ids;  // the ids its records carry
  std::string name;           // from the EVENT_DESC feature ("cpu-clock"), else empty
};

struct PerfBuildId {
  int32_t pid = 0;       // -1: the kernel and its modules
  std::string build_id;  // raw bytes
  std::string filename;
};

struct PerfDataFeatures {
  std::string hostname, os_release, perf_version, arch;
  uint32_t cpus_online = 0, cpus_available = 0;
  std::vector<std::string> cmdline;  // perf's own command line, perf first
  std::vector<PerfBuildId> build_ids;
  uint64_t clockid_res_ns = 0;  // CLOCKID: the resolution of the sampling clock
  // CLOCK_DATA: one moment on the sampling clock and on the wall clock (0 when absent).
  uint32_t clockid = 0;
  uint64_t clock_wall_ns = 0, clock_sample_ns = 0;
  std::vector<uint32_t> unknown;  // features present and skipped
};

struct PerfDataRecord {
  uint32_t type = 0;
  uint16_t misc = 0;
  std::span<const uint8_t> bytes;  // the whole record, header included
  // What follows the record and belongs to it, outside its size: HEADER_TRACING_DATA's tracing
  // data, AUXTRACE's trace.
  std::span<const uint8_t> payload;
  uint64_t offset = 0;  // in the file (of the compressed chunk that held it)
  // Whether `bytes` lie in the bytes the file was opened with (as long-lived as they are), not
  // in a decompressed chunk, which the next chunk overwrites.
  bool in_file = true;
};

struct PerfDataStats {
  std::map<uint32_t, uint64_t> records;  // by type: chunks, and the records in them
  uint64_t compressed_bytes = 0;         // of chunks
  uint64_t decompressed_bytes = 0;       // out of them
};

class PerfDataFile {
 public:
  // The most one compressed chunk may decompress to (perf writes chunks of one ring-buffer read,
  // a few MiB at most).
  static constexpr size_t kMaxChunkBytes = size_t{256} << 20;

  // Reads the header: in file mode the attributes, their ids and the features; in pipe mode the
  // records perf writes first (attributes, features, event names, tracing data), up to the first
  // of the data. `bytes` is the whole file and must outlive this object. InvalidArgument when it is
  // no perf.data (naming what it found), FailedPrecondition for the other byte order, OutOfRange
  // for a header or section that lies outside the file.
  static absl::StatusOr<PerfDataFile> Open(std::span<const uint8_t> bytes);

  bool pipe() const { return pipe_; }
  // Every event's attributes. Pipe mode: those whose HEADER_ATTR records were read so far.
  const std::vector<PerfDataAttr>& attrs() const { return attrs_; }
  // Pipe mode: those whose HEADER_FEATURE records were read so far.
  const PerfDataFeatures& features() const { return features_; }
  // The tracepoints' formats as perf saved them (the TRACING_DATA feature or record; the layout
  // of tools/perf/util/trace-event-info.c), empty when there are none.
  std::span<const uint8_t> tracing_data() const { return tracing_data_; }
  const PerfDataStats& stats() const { return stats_; }
  // Whether the data ended inside a record (a file cut short): known after ForEachRecord().
  bool cut() const { return cut_; }

  // Calls `fn` with every record of the data in file order, compressed chunks replaced by their
  // records (the chunks themselves are not passed on), after those Open() read. HEADER_ATTR,
  // HEADER_FEATURE, HEADER_TRACING_DATA and EVENT_UPDATE records are taken into attrs(),
  // features() and tracing_data() before `fn` sees them. Stops at the first record that
  // cannot be read, with an error naming its offset; a file cut inside its last record is not an
  // error (cut() says so). Once.
  absl::Status ForEachRecord(absl::FunctionRef<void(const PerfDataRecord&)> fn);

 private:
  PerfDataFile(std::span<const uint8_t> bytes, bool pipe) : bytes_(bytes), pipe_(pipe) {}
  absl::Status ReadAttrs(uint64_t offset, uint64_t size, uint64_t attr_size);
  absl::Status ReadFeatures(uint64_t data_end, std::span<const uint64_t, 4> bits);
  // One feature section's contents.
  absl::Status ReadFeature(uint32_t feature, std::span<const uint8_t> data);
  // HEADER_ATTR, HEADER_FEATURE, HEADER_TRACING_DATA, EVENT_UPDATE (pipe mode).
  absl::Status TakeHeaderRecord(const PerfDataRecord& record);
  // Pipe mode: takes the header records at the start of the data and moves past them.
  absl::Status ReadPipeHeader();
  // Delivers the records in `data`, which begins at file offset `offset` (0 inside chunks).
  // *rest: the bytes of a record cut at the end (into the next compressed chunk), or with
  // `header_only` everything from the first record that is not a header record.
  absl::Status Walk(std::span<const uint8_t> data, uint64_t offset, bool in_chunk,
                    absl::FunctionRef<void(const PerfDataRecord&)> fn, size_t* rest,
                    bool header_only = false);
  absl::Status Decompress(std::span<const uint8_t> chunk, uint64_t offset,
                          absl::FunctionRef<void(const PerfDataRecord&)> fn);

  std::span<const uint8_t> bytes_;
  bool pipe_;
  uint64_t data_offset_ = 0, data_size_ = 0;
  std::vector<PerfDataAttr> attrs_;
  PerfDataFeatures features_;
  std::span<const uint8_t> tracing_data_;
  PerfDataStats stats_;
  bool cut_ = false;
  bool read_ = false;
  // Decompressed bytes not yet delivered: a record that continues into the next chunk.
  std::vector<uint8_t> pending_;
  struct FreeDctx {
    void operator()(ZSTD_DCtx_s* dctx) const;
  };
  std::unique_ptr<ZSTD_DCtx_s, FreeDctx> dctx_;  // the stream every chunk continues
};

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_PERF_DATA_FILE_H_
