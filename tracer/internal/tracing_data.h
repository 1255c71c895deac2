// The tracepoints' formats perf saves in a perf.data file (its TRACING_DATA feature, or the
// HEADER_TRACING_DATA record of pipe mode): the format file of every recorded tracepoint as tracefs
// gave it on the recording machine, so that a file's tracepoint fields are read as they were
// written there (ids and layouts differ between kernels).
//
// Layout (tools/perf/util/trace-event-info.c): a magic and version string, the byte order and
// sizes, tracefs's header_page and header_event, ftrace's own formats, then per system its name
// and its events' format files; kallsyms, printk formats and (version 0.6) saved command names
// follow and are not needed.
//
// Example:
//   absl::StatusOr<std::vector<Tracepoint>> tps = ParseTracingData(file.tracing_data());
//
// Context: a pure function.
#ifndef DPROF_TRACER_INTERNAL_TRACING_DATA_H_
#define DPROF_TRACER_INTERNAL_TRACING_DATA_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "dprof/tracer/tracepoint.h"

namespace dprof::tracer::internal {

// Every event format the data holds. InvalidArgument when it is not tracing data, is big-endian,
// or is cut short before the events' formats end.
absl::StatusOr<std::vector<Tracepoint>> ParseTracingData(std::span<const uint8_t> data);

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_TRACING_DATA_H_
