// The layout of a dprof recording file (docs/recording-format.md).
//
//   file   := FileHeader Chunk*
//   Chunk  := ChunkHeader payload[stored_size]
//
// All integers little-endian. A chunk's payload is zstd-compressed (codec 1) or stored (codec 0);
// raw, it is the varint encoding of one chunk type (internal/chunks.h). Both the header and the
// payload carry a CRC-32, so a reader can tell a chunk that was cut short or damaged from a
// complete one and stop there.
#ifndef DPROF_PROFILE_INTERNAL_CHUNK_FORMAT_H_
#define DPROF_PROFILE_INTERNAL_CHUNK_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace dprof::profile::internal {

inline constexpr char kFileMagic[8] = {'D', 'P', 'R', 'O', 'F', 'R', 'E', 'C'};
// 1: dprof 0.1.0 and 0.2.0. 2: symbols with their offset into their function (dprof 0.3.0).
inline constexpr uint32_t kFormatVersion = 2;

struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_size;  // sizeof(FileHeader); later versions may append fields
};
static_assert(sizeof(FileHeader) == 16);

inline constexpr uint32_t kChunkMagic = 0x48435044;  // "DPCH"

enum class ChunkType : uint16_t {
  kMetadata = 1,    // key/value strings and the event names
  kStacks = 2,      // stack id -> frames
  kEvents = 3,      // events, referring to stacks written before them
  kUserStacks = 4,  // cookie -> user stack
  kMappings = 5,
  kThreads = 6,  // thread names, forks and exits
  kSymbols = 7,
  kCounters = 8,
  kEnd = 9,  // the recording finished cleanly
};

enum class Codec : uint16_t { kStored = 0, kZstd = 1 };

struct ChunkHeader {
  uint32_t magic;
  uint16_t type;
  uint16_t codec;
  uint32_t stored_size;  // payload bytes in the file
  uint32_t raw_size;     // payload bytes once decompressed
  uint32_t payload_crc;  // CRC-32 (zlib) of the stored payload
  uint32_t header_crc;   // CRC-32 of the 20 bytes before it
};
static_assert(sizeof(ChunkHeader) == 24);

// No chunk is larger, raw: writers split, readers refuse.
inline constexpr uint32_t kMaxChunkRawSize = 64u << 20;

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_CHUNK_FORMAT_H_
