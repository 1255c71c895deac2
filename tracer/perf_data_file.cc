#include "tracer/internal/perf_data_file.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tracer/internal/byte_cursor.h"

namespace dprof::tracer::internal {

namespace {

constexpr uint64_t kMagic = 0x32454c4946524550;         // "PERFILE2", little-endian
constexpr uint64_t kMagicSwapped = 0x50455246494c4532;  // the same, written big-endian
constexpr char kLegacyMagic[] = "PERFFILE";
constexpr uint64_t kPipeHeaderSize = 16;   // magic, size
constexpr uint64_t kFileHeaderSize = 104;  // ... attrs, data, event_types, features
constexpr uint64_t kFileHeaderSizeNoFeatures = 72;
constexpr uint64_t kAttrSizeVer0 = 64;           // PERF_ATTR_SIZE_VER0
constexpr uint64_t kSectionSize = 16;            // perf_file_section: offset, size
constexpr uint16_t kMiscBuildIdSize = 1u << 15;  // PERF_RECORD_MISC_BUILD_ID_SIZE
constexpr size_t kBuildIdArea = 24;              // 20 bytes, padded to 8 (or 20 + size + 3)
constexpr size_t kMaxEventDescAttr = 4096;
constexpr uint64_t kEventUpdateName = 2;  // PERF_EVENT_UPDATE__NAME

// `size` bytes at `offset` of `bytes`, if they lie within it.
bool Section(std::span<const uint8_t> bytes, uint64_t offset, uint64_t size,
             std::span<const uint8_t>* out) {
  if (offset > bytes.size() || size > bytes.size() - offset) return false;
  *out = bytes.subspan(offset, size);
  return true;
}

// An attr of `size` bytes as the file has it, into a whole perf_event_attr.
bool ParseAttr(std::span<const uint8_t> raw, perf_event_attr* attr) {
  if (raw.size() < kAttrSizeVer0) return false;
  *attr = {};
  std::memcpy(attr, raw.data(), std::min(raw.size(), sizeof(perf_event_attr)));
  return true;
}

// A build-id entry (the BUILD_ID feature's, or a pipe's HEADER_BUILD_ID record) after its
// perf_event_header: pid, the build-id area, the file name. False when too short.
bool ParseBuildId(uint16_t misc, std::span<const uint8_t> rest, PerfBuildId* b) {
  if (rest.size() < 4 + kBuildIdArea) return false;
  std::memcpy(&b->pid, rest.data(), 4);
  const uint8_t* id = rest.data() + 4;
  size_t id_size = 20;
  if (misc & kMiscBuildIdSize) id_size = std::min<size_t>(id[20], 20);
  b->build_id.assign(reinterpret_cast<const char*>(id), id_size);
  const auto* name = reinterpret_cast<const char*>(rest.data() + 4 + kBuildIdArea);
  b->filename.assign(name, strnlen(name, rest.size() - 4 - kBuildIdArea));
  return true;
}

// Where the record at `pos` of `data` ends: its size, and for HEADER_TRACING_DATA and AUXTRACE
// the bytes that follow it (their first field says how many, a u32 or a u64). kCut when it
// does not end within `data`; kBad when it cannot be (a size smaller than a header or than its
// size field).
enum class Extent { kOk, kCut, kBad };
Extent RecordExtent(std::span<const uint8_t> data, size_t pos, perf_event_header* h,
                    uint64_t* payload) {
  *payload = 0;
  if (data.size() - pos < sizeof(*h)) return Extent::kCut;
  std::memcpy(h, data.data() + pos, sizeof(*h));
  if (h->size < sizeof(*h)) return Extent::kBad;
  if (h->size > data.size() - pos) return Extent::kCut;
  if (h->type == kHeaderTracingData || h->type == kAuxtrace) {
    const size_t field = h->type == kHeaderTracingData ? 4 : 8;
    if (h->size < sizeof(*h) + field) return Extent::kBad;
    std::memcpy(payload, data.data() + pos + sizeof(*h), field);
    if (*payload > data.size() - pos - h->size) return Extent::kCut;
  }
  return Extent::kOk;
}

// The records perf writes ahead of the data in pipe mode: what a file's header holds.
bool IsHeaderRecord(uint32_t type) {
  return type == kHeaderAttr || type == kHeaderFeature || type == kHeaderTracingData ||
         type == kEventUpdate || type == kHeaderEventType;
}

const char* FeatureName(uint32_t feature) {
  switch (feature) {
    case kFeatureTracingData:
      return "TRACING_DATA";
    case kFeatureBuildId:
      return "BUILD_ID";
    case kFeatureHostname:
      return "HOSTNAME";
    case kFeatureOsRelease:
      return "OSRELEASE";
    case kFeatureVersion:
      return "VERSION";
    case kFeatureArch:
      return "ARCH";
    case kFeatureNrCpus:
      return "NRCPUS";
    case kFeatureCmdline:
      return "CMDLINE";
    case kFeatureEventDesc:
      return "EVENT_DESC";
    case kFeatureClockId:
      return "CLOCKID";
    case kFeatureClockData:
      return "CLOCK_DATA";
  }
  return "?";
}

}  // namespace

void PerfDataFile::FreeDctx::operator()(ZSTD_DCtx_s* dctx) const { ZSTD_freeDCtx(dctx); }

absl::StatusOr<PerfDataFile> PerfDataFile::Open(std::span<const uint8_t> bytes) {
  ByteCursor c(bytes);
  uint64_t magic = 0, size = 0;
  if (!c.U64(&magic) || !c.U64(&size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a perf.data file: ", bytes.size(), " bytes, too short for a header"));
  }
  if (magic == kMagicSwapped) {
    return absl::FailedPreconditionError(
        "a perf.data file written on a big-endian machine: dprof reads little-endian files; "
        "convert it there with perf script, or record on this machine");
  }
  if (std::memcmp(bytes.data(), kLegacyMagic, 8) == 0) {
    return absl::FailedPreconditionError(
        "a perf.data file of the first format (PERFFILE, perf before Linux 2.6.37): dprof reads "
        "PERFILE2 files; rewrite it with a newer perf (perf inject -i OLD -o NEW)");
  }
  if (magic != kMagic) {
    return absl::InvalidArgumentError("not a perf.data file (no PERFILE2 magic at its start)");
  }
  if (size == kPipeHeaderSize) {
    PerfDataFile file(bytes, /*pipe=*/true);
    file.data_offset_ = kPipeHeaderSize;
    file.data_size_ = bytes.size() - kPipeHeaderSize;
    if (absl::Status s = file.ReadPipeHeader(); !s.ok()) return s;
    return file;
  }
  if (size < kFileHeaderSizeNoFeatures || size > bytes.size()) {
    return absl::OutOfRangeError(
        absl::StrCat("perf.data header of ", size, " bytes in a file of ", bytes.size(),
                     " bytes: the file is cut or corrupt; record it again"));
  }
  uint64_t attr_size = 0, attrs_offset = 0, attrs_size = 0, data_offset = 0, data_size = 0;
  uint64_t types_offset = 0, types_size = 0;
  if (!c.U64(&attr_size) || !c.U64(&attrs_offset) || !c.U64(&attrs_size) || !c.U64(&data_offset) ||
      !c.U64(&data_size) || !c.U64(&types_offset) || !c.U64(&types_size)) {
    return absl::OutOfRangeError("perf.data header cut short");
  }
  PerfDataFile file(bytes, /*pipe=*/false);
  std::span<const uint8_t> data;
  const bool unfinished = data_size == 0;
  if (unfinished && data_offset <= bytes.size()) {
    // perf writes the data size (and the features after the data) last: a perf record that was
    // killed left 0. Read what is there.
    data_size = bytes.size() - data_offset;
  } else if (!Section(bytes, data_offset, data_size, &data)) {
    return absl::OutOfRangeError(absl::StrCat("perf.data data section [", data_offset, ", +",
                                              data_size, ") lies outside the file of ",
                                              bytes.size(), " bytes: it is cut or corrupt"));
  }
  file.data_offset_ = data_offset;
  file.data_size_ = data_size;
  if (absl::Status s = file.ReadAttrs(attrs_offset, attrs_size, attr_size); !s.ok()) return s;
  if (size >= kFileHeaderSize && !unfinished) {
    uint64_t bits[4] = {};
    for (uint64_t& b : bits) {
      if (!c.U64(&b)) return absl::OutOfRangeError("perf.data header cut short");
    }
    if (absl::Status s = file.ReadFeatures(data_offset + data_size, bits); !s.ok()) return s;
  }
  return file;
}

absl::Status PerfDataFile::ReadAttrs(uint64_t offset, uint64_t size, uint64_t attr_size) {
  std::span<const uint8_t> section;
  if (!Section(bytes_, offset, size, &section)) {
    return absl::OutOfRangeError(absl::StrCat("perf.data attribute section [", offset, ", +", size,
                                              ") lies outside the file"));
  }
  if (attr_size < kAttrSizeVer0 + kSectionSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("perf.data attributes of ", attr_size, " bytes: too small to hold one"));
  }
  if (size % attr_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("perf.data attribute section of ", size,
                                                   " bytes is no whole number of ", attr_size,
                                                   "-byte attributes"));
  }
  for (uint64_t at = 0; at < size; at += attr_size) {
    PerfDataAttr a;
    ByteCursor c(section.subspan(at, attr_size));
    std::span<const uint8_t> raw, ids;
    uint64_t ids_offset = 0, ids_size = 0;
    if (!c.Bytes(attr_size - kSectionSize, &raw) || !ParseAttr(raw, &a.attr) ||
        !c.U64(&ids_offset) || !c.U64(&ids_size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("perf.data attribute at offset ", offset + at, " does not parse"));
    }
    if (!Section(bytes_, ids_offset, ids_size, &ids) || ids_size % 8 != 0) {
      return absl::OutOfRangeError(absl::StrCat("perf.data ids of the attribute at offset ",
                                                offset + at, " lie outside the file"));
    }
    a.ids.resize(ids_size / 8);
    if (ids_size != 0) std::memcpy(a.ids.data(), ids.data(), ids_size);
    attrs_.push_back(std::move(a));
  }
  return absl::OkStatus();
}

absl::Status PerfDataFile::ReadFeatures(uint64_t data_end, std::span<const uint64_t, 4> bits) {
  uint64_t table = data_end;
  for (uint32_t feature = 1; feature < 256; ++feature) {
    if ((bits[feature / 64] >> (feature % 64) & 1) == 0) continue;
    std::span<const uint8_t> data;
    uint64_t offset = 0, size = 0;
    ByteCursor c(bytes_.subspan(std::min<uint64_t>(table, bytes_.size())));
    if (!c.U64(&offset) || !c.U64(&size)) {
      return absl::OutOfRangeError(
          absl::StrCat("perf.data feature table at offset ", table, " lies outside the file"));
    }
    table += kSectionSize;
    if (!Section(bytes_, offset, size, &data)) {
      return absl::OutOfRangeError(absl::StrCat("perf.data feature ", feature, " [", offset, ", +",
                                                size, ") lies outside the file"));
    }
    if (absl::Status s = ReadFeature(feature, data); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status PerfDataFile::ReadFeature(uint32_t feature, std::span<const uint8_t> data) {
  ByteCursor c(data);
  bool ok = true;
  switch (feature) {
    case kFeatureTracingData:
      tracing_data_ = data;
      break;
    case kFeatureHostname:
      ok = c.String(&features_.hostname);
      break;
    case kFeatureOsRelease:
      ok = c.String(&features_.os_release);
      break;
    case kFeatureVersion:
      ok = c.String(&features_.perf_version);
      break;
    case kFeatureArch:
      ok = c.String(&features_.arch);
      break;
    case kFeatureNrCpus:
      ok = c.U32(&features_.cpus_available) && c.U32(&features_.cpus_online);
      break;
    case kFeatureCmdline: {
      uint32_t n = 0;
      ok = c.U32(&n);
      features_.cmdline.clear();
      for (uint32_t i = 0; ok && i < n; ++i) {
        std::string arg;
        ok = c.String(&arg);
        features_.cmdline.push_back(std::move(arg));
      }
      break;
    }
    case kFeatureClockId:
      ok = c.U64(&features_.clockid_res_ns);
      break;
    case kFeatureClockData: {
      uint32_t version = 0;
      ok = c.U32(&version) && c.U32(&features_.clockid) && c.U64(&features_.clock_wall_ns) &&
           c.U64(&features_.clock_sample_ns);
      break;
    }
    case kFeatureBuildId:
      while (ok && c.left() > 0) {
        uint32_t type = 0, header = 0;  // type; misc and size
        std::span<const uint8_t> rest;
        ok = c.U32(&type) && c.U32(&header);
        const uint16_t misc = static_cast<uint16_t>(header);
        const uint16_t size = static_cast<uint16_t>(header >> 16);
        ok = ok && size >= 8 && c.Bytes(size - 8, &rest);
        PerfBuildId b;
        ok = ok && ParseBuildId(misc, rest, &b);
        if (ok) features_.build_ids.push_back(std::move(b));
      }
      break;
    case kFeatureEventDesc: {
      uint32_t n = 0, attr_size = 0;
      ok = c.U32(&n) && c.U32(&attr_size) && attr_size >= kAttrSizeVer0 &&
           attr_size <= kMaxEventDescAttr;
      for (uint32_t i = 0; ok && i < n; ++i) {
        std::span<const uint8_t> raw, ids;
        uint32_t nr_ids = 0;
        std::string name;
        ok = c.Bytes(attr_size, &raw) && c.U32(&nr_ids) && c.String(&name) &&
             c.Bytes(uint64_t{nr_ids} * 8, &ids);
        if (!ok) break;
        // Named by the ids it shares with an attribute, else by its place.
        bool named = false;
        for (PerfDataAttr& a : attrs_) {
          for (size_t j = 0; j < ids.size() / 8 && !named; ++j) {
            uint64_t id = 0;
            std::memcpy(&id, ids.data() + j * 8, 8);
            named = std::find(a.ids.begin(), a.ids.end(), id) != a.ids.end();
          }
          if (named) {
            a.name = name;
            break;
          }
        }
        if (!named && i < attrs_.size() && attrs_[i].name.empty()) attrs_[i].name = name;
      }
      break;
    }
    default:
      features_.unknown.push_back(feature);
      return absl::OkStatus();
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("perf.data feature ", FeatureName(feature),
                                                   " is malformed (", data.size(), " bytes)"));
  }
  return absl::OkStatus();
}

absl::Status PerfDataFile::TakeHeaderRecord(const PerfDataRecord& r) {
  std::span<const uint8_t> body = r.bytes.subspan(sizeof(perf_event_header));
  if (r.type == kHeaderAttr) {
    PerfDataAttr a;
    if (body.size() < kAttrSizeVer0) {
      return absl::InvalidArgumentError(
          absl::StrCat("perf.data HEADER_ATTR record at offset ", r.offset, " is too short"));
    }
    uint32_t attr_size = 0;
    std::memcpy(&attr_size, body.data() + 4, 4);
    if (attr_size == 0) attr_size = kAttrSizeVer0;
    if (attr_size < kAttrSizeVer0 || attr_size > body.size() || (body.size() - attr_size) % 8) {
      return absl::InvalidArgumentError(absl::StrCat("perf.data HEADER_ATTR record at offset ",
                                                     r.offset, " has an attribute of ", attr_size,
                                                     " bytes in ", body.size()));
    }
    ParseAttr(body.first(attr_size), &a.attr);
    a.ids.resize((body.size() - attr_size) / 8);
    if (!a.ids.empty()) std::memcpy(a.ids.data(), body.data() + attr_size, a.ids.size() * 8);
    attrs_.push_back(std::move(a));
    return absl::OkStatus();
  }
  if (r.type == kHeaderTracingData) {
    tracing_data_ = r.payload;
    return absl::OkStatus();
  }
  if (r.type == kHeaderEventType) return absl::OkStatus();  // perf before 2.6.38: names only
  ByteCursor c(body);
  if (r.type == kEventUpdate) {
    uint64_t type = 0, id = 0;
    std::string name;
    if (!c.U64(&type) || !c.U64(&id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("perf.data EVENT_UPDATE record at offset ", r.offset, " is too short"));
    }
    if (type != kEventUpdateName) return absl::OkStatus();  // units, scales, CPUs
    std::span<const uint8_t> rest;
    c.Bytes(c.left(), &rest);
    const auto* chars = reinterpret_cast<const char*>(rest.data());
    for (PerfDataAttr& a : attrs_) {
      if (std::find(a.ids.begin(), a.ids.end(), id) != a.ids.end()) {
        a.name.assign(chars, strnlen(chars, rest.size()));
      }
    }
    return absl::OkStatus();
  }
  uint64_t feature = 0;
  if (!c.U64(&feature) || feature >= 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("perf.data HEADER_FEATURE record at offset ", r.offset, " is malformed"));
  }
  return ReadFeature(static_cast<uint32_t>(feature), body.subspan(8));
}

absl::Status PerfDataFile::Walk(std::span<const uint8_t> data, uint64_t offset, bool in_chunk,
                                absl::FunctionRef<void(const PerfDataRecord&)> fn, size_t* rest,
                                bool header_only) {
  size_t pos = 0;
  *rest = 0;
  while (pos < data.size()) {
    perf_event_header h;
    uint64_t payload = 0;
    const Extent extent = RecordExtent(data, pos, &h, &payload);
    const uint64_t at = in_chunk ? offset : offset + pos;
    if (extent == Extent::kCut || (header_only && !IsHeaderRecord(h.type))) {
      *rest = data.size() - pos;
      return absl::OkStatus();
    }
    if (extent == Extent::kBad) {
      return absl::DataLossError(absl::StrCat("perf.data record of type ", h.type, " and ", h.size,
                                              " bytes at offset ", at,
                                              ": smaller than its header or its size field"));
    }
    const PerfDataRecord r{.type = h.type,
                           .misc = h.misc,
                           .bytes = data.subspan(pos, h.size),
                           .payload = data.subspan(pos + h.size, payload),
                           .offset = at,
                           .in_file = !in_chunk};
    pos += h.size + payload;
    ++stats_.records[h.type];
    if (h.type == kCompressed || h.type == kCompressed2) {
      if (in_chunk) {
        return absl::DataLossError(
            absl::StrCat("perf.data compressed chunk inside another at offset ", at));
      }
      if (absl::Status s = Decompress(r.bytes, at, fn); !s.ok()) return s;
      continue;
    }
    // (Tracing data inside a compressed chunk would not outlive it; perf writes it outside.)
    if (IsHeaderRecord(h.type) && !(in_chunk && h.type == kHeaderTracingData)) {
      if (absl::Status s = TakeHeaderRecord(r); !s.ok()) return s;
    }
    fn(r);
  }
  return absl::OkStatus();
}

absl::Status PerfDataFile::Decompress(std::span<const uint8_t> chunk, uint64_t offset,
                                      absl::FunctionRef<void(const PerfDataRecord&)> fn) {
  std::span<const uint8_t> payload = chunk.subspan(sizeof(perf_event_header));
  uint32_t type = 0;  // the chunk may lie anywhere in the file: copied, not cast
  std::memcpy(&type, chunk.data(), sizeof(type));
  if (type == kCompressed2) {
    // COMPRESSED2: the payload's size first; the record is padded to 8 bytes after it.
    uint64_t size = 0;
    ByteCursor c(payload);
    if (!c.U64(&size) || size > payload.size() - 8) {
      return absl::DataLossError(
          absl::StrCat("perf.data compressed chunk at offset ", offset, " is malformed"));
    }
    payload = payload.subspan(8, size);
  }
  stats_.compressed_bytes += payload.size();
  // perf compresses the whole data as one zstd stream, flushed at every chunk: each chunk
  // continues where the last one stopped.
  if (dctx_ == nullptr) {
    dctx_.reset(ZSTD_createDCtx());
    if (dctx_ == nullptr) return absl::ResourceExhaustedError("cannot make a zstd context");
  }
  ZSTD_DCtx* dctx = dctx_.get();
  ZSTD_inBuffer in{.src = payload.data(), .size = payload.size(), .pos = 0};
  absl::Status status;
  // Until the input is used up and the last call did not fill its output (the decompressor may
  // hold more than fitted).
  for (bool full = true; in.pos < in.size || full;) {
    const size_t used = pending_.size();
    const size_t room = std::max<size_t>(ZSTD_DStreamOutSize(), in.size * 4);
    if (used + room > kMaxChunkBytes) {
      status = absl::ResourceExhaustedError(absl::StrCat("perf.data compressed chunk at offset ",
                                                         offset, " decompresses to more than ",
                                                         kMaxChunkBytes >> 20, " MiB: corrupt"));
      break;
    }
    pending_.resize(used + room);
    ZSTD_outBuffer out{.dst = pending_.data() + used, .size = room, .pos = 0};
    const size_t r = ZSTD_decompressStream(dctx, &out, &in);
    pending_.resize(used + out.pos);
    stats_.decompressed_bytes += out.pos;
    if (ZSTD_isError(r)) {
      status = absl::DataLossError(absl::StrCat("perf.data compressed chunk at offset ", offset,
                                                " does not decompress: ", ZSTD_getErrorName(r)));
      break;
    }
    full = out.pos == out.size;
  }
  if (!status.ok()) return status;
  size_t rest = 0;
  if (absl::Status s = Walk(pending_, offset, /*in_chunk=*/true, fn, &rest); !s.ok()) return s;
  // A record that continues in the next chunk stays.
  pending_.erase(pending_.begin(), pending_.end() - static_cast<ptrdiff_t>(rest));
  return absl::OkStatus();
}

absl::Status PerfDataFile::ReadPipeHeader() {
  size_t rest = 0;
  absl::Status s = Walk(
      bytes_.subspan(data_offset_, data_size_), data_offset_,
      /*in_chunk=*/false, [](const PerfDataRecord&) {}, &rest,
      /*header_only=*/true);
  if (!s.ok()) return s;
  data_offset_ += data_size_ - rest;
  data_size_ = rest;
  // perf writes a pipe's build-ids (HEADER_BUILD_ID records) after the data, as it ends: taken
  // now, so that binaries are checked before a sample needs them. (They are never compressed.)
  const std::span<const uint8_t> data = bytes_.subspan(data_offset_, data_size_);
  perf_event_header h;
  uint64_t payload = 0;
  for (size_t pos = 0; pos < data.size() && RecordExtent(data, pos, &h, &payload) == Extent::kOk;
       pos += h.size + payload) {
    PerfBuildId b;
    if (h.type == kHeaderBuildId &&
        ParseBuildId(h.misc, data.subspan(pos + sizeof(h), h.size - sizeof(h)), &b)) {
      features_.build_ids.push_back(std::move(b));
    }
  }
  return absl::OkStatus();
}

absl::Status PerfDataFile::ForEachRecord(absl::FunctionRef<void(const PerfDataRecord&)> fn) {
  if (read_) return absl::FailedPreconditionError("perf.data records were read already");
  read_ = true;
  size_t rest = 0;
  absl::Status s = Walk(bytes_.subspan(data_offset_, data_size_), data_offset_,
                        /*in_chunk=*/false, fn, &rest);
  if (!s.ok()) return s;
  cut_ = rest != 0 || !pending_.empty();
  return absl::OkStatus();
}

}  // namespace dprof::tracer::internal
