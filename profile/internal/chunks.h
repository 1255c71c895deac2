// The payload of each chunk type, both ways. A payload is a sequence of elements read until its
// end (no counts to trust); the writer cuts a long sequence into several chunks of about
// kTargetChunkSize raw bytes each.
#ifndef DPROF_PROFILE_INTERNAL_CHUNKS_H_
#define DPROF_PROFILE_INTERNAL_CHUNKS_H_

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dprof/profile/recording.h"
#include "profile/internal/chunk_format.h"

namespace dprof::profile::internal {

inline constexpr size_t kTargetChunkSize = 4u << 20;

// Chunked payloads of one type, in order.
struct Payloads {
  ChunkType type;
  std::vector<std::string> chunks;
};

Payloads EncodeMetadata(const std::map<std::string, std::string>& metadata,
                        std::span<const std::string> event_names,
                        const std::map<uint32_t, event::Tracepoint>& tracepoints);
Payloads EncodeStacks(std::span<const std::pair<StackId, std::span<const uint64_t>>> stacks);
// Event raw_offset/raw_size index into `raw`.
Payloads EncodeEvents(std::span<const Event> events, std::span<const uint8_t> raw);
Payloads EncodeUserStacks(std::span<const std::pair<cookie::Cookie, UserStackEntry>> stacks);
Payloads EncodeMappings(std::span<const Mapping> mappings);
Payloads EncodeThreads(std::span<const ThreadName> names, std::span<const TaskChange> tasks);
// The lookups ((pid, address) and (mapping, address) -> symbol index) name indices in the
// recording: of symbols written before, or of `symbols`.
using Lookup = std::pair<std::pair<uint32_t, uint64_t>, uint32_t>;
Payloads EncodeSymbols(std::span<const Symbol> symbols, std::span<const Lookup> lookups,
                       std::span<const Lookup> mapped_lookups);
Payloads EncodeCounters(const std::map<std::string, uint64_t>& counters,
                        const std::map<uint32_t, std::map<std::string, uint64_t>>& threads);

// Adds one chunk's payload to `out`: all of it, or (false) nothing when it is malformed: an
// element cut short, a value out of range, a reference to a symbol not read yet. Events' stack
// references are not checked here (the stitcher reports missing stacks).
bool DecodeChunk(ChunkType type, std::span<const uint8_t> payload, Recording* out);

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_CHUNKS_H_
