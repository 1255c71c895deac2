#include "dprof/tracer/records.h"

#include <sys/mman.h>

#include <bit>
#include <cstring>

#include "dprof/tracer/perf_abi.h"

namespace dprof::tracer {
namespace {

// A bounds-checked cursor over one record. Every read fails once past the end, and stays failed.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, size_t offset) : bytes_(bytes), pos_(offset) {}

  template <typename T>
  T Read() {
    T value{};
    if (!Need(sizeof(T))) return value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  std::span<const uint8_t> Bytes(uint64_t n) {
    if (!Need(n)) return {};
    std::span<const uint8_t> out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // `n` 64-bit words. Records are 8-byte aligned in the ring buffer and in every copy dprof
  // makes, and the word arrays of a record start at 8-byte offsets.
  std::span<const uint64_t> Words(uint64_t n) {
    if (n > bytes_.size() / 8 || !Need(n * 8)) return {};
    auto out =
        std::span<const uint64_t>(reinterpret_cast<const uint64_t*>(bytes_.data() + pos_), n);
    pos_ += n * 8;
    return out;
  }
  void Skip(uint64_t n) {
    if (Need(n)) pos_ += n;
  }
  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }

 private:
  bool Need(uint64_t n) {
    if (!ok_ || n > bytes_.size() - pos_) ok_ = false;
    return ok_;
  }

  std::span<const uint8_t> bytes_;
  size_t pos_;
  bool ok_ = true;
};

// Bytes of the sample_id trailer of a non-sample record.
size_t TrailerSize(uint64_t sample_type) {
  const uint64_t fields = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ID |
                          PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU | PERF_SAMPLE_IDENTIFIER;
  return 8 * std::popcount(sample_type & fields);
}

// The sample_id trailer, in the kernel's order (perf_event__output_id_sample()).
void ReadTrailer(Cursor& c, uint64_t sample_type, event::SampleId* sid) {
  if (sample_type & PERF_SAMPLE_TID) {
    sid->pid = c.Read<uint32_t>();
    sid->tid = c.Read<uint32_t>();
  }
  if (sample_type & PERF_SAMPLE_TIME) sid->time = c.Read<uint64_t>();
  if (sample_type & PERF_SAMPLE_ID) sid->id = c.Read<uint64_t>();
  if (sample_type & PERF_SAMPLE_STREAM_ID) c.Skip(8);
  if (sample_type & PERF_SAMPLE_CPU) {
    sid->cpu = c.Read<uint32_t>();
    c.Skip(4);
  }
  if (sample_type & PERF_SAMPLE_IDENTIFIER) sid->id = c.Read<uint64_t>();
}

// The head of a sample up to PERIOD, in the kernel's order (perf_output_sample()).
void ReadSampleHead(Cursor& c, uint64_t sample_type, SampleRecord* s) {
  if (sample_type & PERF_SAMPLE_IDENTIFIER) s->sid.id = c.Read<uint64_t>();
  if (sample_type & PERF_SAMPLE_IP) s->ip = c.Read<uint64_t>();
  if (sample_type & PERF_SAMPLE_TID) {
    s->sid.pid = c.Read<uint32_t>();
    s->sid.tid = c.Read<uint32_t>();
  }
  if (sample_type & PERF_SAMPLE_TIME) s->sid.time = c.Read<uint64_t>();
  if (sample_type & PERF_SAMPLE_ADDR) s->addr = c.Read<uint64_t>();
  if (sample_type & PERF_SAMPLE_ID) s->sid.id = c.Read<uint64_t>();
  if (sample_type & PERF_SAMPLE_STREAM_ID) c.Skip(8);
  if (sample_type & PERF_SAMPLE_CPU) {
    s->sid.cpu = c.Read<uint32_t>();
    c.Skip(4);
  }
  if (sample_type & PERF_SAMPLE_PERIOD) s->period = c.Read<uint64_t>();
}

ParseStatus ParseSample(Cursor& c, const EventLayout& layout, uint16_t misc, SampleRecord* s) {
  const uint64_t type = layout.sample_type;
  s->misc = misc;
  ReadSampleHead(c, type, s);
  if (type & PERF_SAMPLE_CALLCHAIN) {
    const uint64_t nr = c.Read<uint64_t>();
    s->callchain = c.Words(nr);
  }
  if (type & PERF_SAMPLE_RAW) {
    const uint32_t size = c.Read<uint32_t>();
    s->raw = c.Bytes(size);
  }
  if (type & PERF_SAMPLE_REGS_USER) {
    s->regs_abi = c.Read<uint64_t>();
    s->regs_mask = layout.regs_user_mask;
    if (s->regs_abi != abi::kRegsAbiNone) {
      s->regs = c.Words(std::popcount(layout.regs_user_mask));
    }
  }
  if (type & PERF_SAMPLE_STACK_USER) {
    const uint64_t size = c.Read<uint64_t>();
    s->stack_reserved = size;
    if (size != 0) {
      std::span<const uint8_t> data = c.Bytes(size);
      const uint64_t dyn_size = c.Read<uint64_t>();
      if (c.ok() && dyn_size > size) return ParseStatus::kMalformed;
      if (c.ok()) s->stack = data.first(dyn_size);
    }
  }
  return c.ok() ? ParseStatus::kOk : ParseStatus::kMalformed;
}

// The text of a NUL-padded string field that ends where the trailer begins.
std::string_view PaddedString(std::span<const uint8_t> bytes, size_t begin, size_t end) {
  if (begin > end || end > bytes.size()) return {};
  const char* p = reinterpret_cast<const char*>(bytes.data() + begin);
  return std::string_view(p, strnlen(p, end - begin));
}

}  // namespace

bool SampleRecord::Reg(int perf_reg, uint64_t* value) const {
  if (!((regs_mask >> perf_reg) & 1)) return false;
  const int index = std::popcount(regs_mask & ((uint64_t{1} << perf_reg) - 1));
  if (index >= static_cast<int>(regs.size())) return false;
  *value = regs[index];
  return true;
}

bool RecordParser::AddEvent(uint64_t id, const EventLayout& layout) {
  if (!(layout.sample_type & PERF_SAMPLE_IDENTIFIER) ||
      (layout.sample_type & ~kSupportedSampleType) != 0) {
    return false;
  }
  layouts_[id] = layout;
  return true;
}

bool RecordParser::SetDefaultEvent(const EventLayout& layout) {
  if ((layout.sample_type & ~kSupportedSampleType) != 0) return false;
  default_ = layout;
  return true;
}

const EventLayout* RecordParser::LayoutOf(std::span<const uint8_t> bytes, uint32_t type) const {
  if (!layouts_.empty() && bytes.size() >= sizeof(perf_event_header) + 8) {
    uint64_t id;
    std::memcpy(
        &id,
        bytes.data() + (type == PERF_RECORD_SAMPLE ? sizeof(perf_event_header) : bytes.size() - 8),
        8);
    if (auto it = layouts_.find(id); it != layouts_.end()) return &it->second;
  }
  return default_.has_value() ? &*default_ : nullptr;
}

bool RecordParser::ParseSampleId(std::span<const uint8_t> bytes, event::SampleId* sid) const {
  if (bytes.size() < sizeof(perf_event_header)) return false;
  perf_event_header h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  const EventLayout* layout = LayoutOf(bytes, h.type);
  if (layout == nullptr) return false;
  if (h.type == PERF_RECORD_SAMPLE) {
    Cursor c(bytes, sizeof(h));
    SampleRecord s;
    ReadSampleHead(c, layout->sample_type, &s);
    *sid = s.sid;
    return c.ok();
  }
  const size_t trailer = TrailerSize(layout->sample_type);
  if (bytes.size() < sizeof(h) + trailer) return false;
  Cursor c(bytes, bytes.size() - trailer);
  ReadTrailer(c, layout->sample_type, sid);
  return c.ok();
}

ParseStatus RecordParser::Parse(std::span<const uint8_t> bytes, Record* record) const {
  if (bytes.size() < sizeof(perf_event_header)) return ParseStatus::kMalformed;
  perf_event_header h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (h.size != bytes.size()) return ParseStatus::kMalformed;

  switch (h.type) {
    case PERF_RECORD_SAMPLE:
    case PERF_RECORD_MMAP:
    case PERF_RECORD_MMAP2:
    case PERF_RECORD_COMM:
    case PERF_RECORD_FORK:
    case PERF_RECORD_EXIT:
    case PERF_RECORD_LOST:
    case PERF_RECORD_LOST_SAMPLES:
    case PERF_RECORD_THROTTLE:
    case PERF_RECORD_UNTHROTTLE:
    case PERF_RECORD_SWITCH:
    case PERF_RECORD_SWITCH_CPU_WIDE:
    case abi::kRecordCallchainDeferred:
      break;
    default:
      *record = UnknownRecord{.type = h.type, .size = h.size};
      return ParseStatus::kUnknownType;
  }

  const EventLayout* layout = LayoutOf(bytes, h.type);
  if (layout == nullptr) return ParseStatus::kUnknownEvent;
  if (h.type == PERF_RECORD_SAMPLE) {
    Cursor c(bytes, sizeof(h));
    SampleRecord s;
    const ParseStatus status = ParseSample(c, *layout, h.misc, &s);
    if (status == ParseStatus::kOk) *record = s;
    return status;
  }

  const size_t trailer = TrailerSize(layout->sample_type);
  if (bytes.size() < sizeof(h) + trailer) return ParseStatus::kMalformed;
  const size_t body_end = bytes.size() - trailer;
  event::SampleId sid;
  {
    Cursor t(bytes, body_end);
    ReadTrailer(t, layout->sample_type, &sid);
  }
  // The body must end at or before the trailer: a count in it may not reach into the trailer.
  Cursor c(bytes.first(body_end), sizeof(h));

  switch (h.type) {
    case PERF_RECORD_MMAP:
    case PERF_RECORD_MMAP2: {
      event::Mmap2Record m{.sid = sid};
      m.pid = c.Read<uint32_t>();
      m.tid = c.Read<uint32_t>();
      m.address = c.Read<uint64_t>();
      m.length = c.Read<uint64_t>();
      m.pgoff = c.Read<uint64_t>();
      if (h.type == PERF_RECORD_MMAP) {
        // The first layout: executable mappings only (perf's record of the kernel; mmap2
        // replaced it for the rest).
        m.prot = PROT_READ | PROT_EXEC;
      } else {
        if (h.misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
          const uint8_t size = c.Read<uint8_t>();
          c.Skip(3);
          std::span<const uint8_t> id = c.Bytes(20);
          if (c.ok() && size > 20) return ParseStatus::kMalformed;
          if (c.ok()) m.build_id = id.first(size);
        } else {
          c.Skip(24);  // maj, min, ino, ino_generation
        }
        m.prot = c.Read<uint32_t>();
        m.flags = c.Read<uint32_t>();
      }
      if (!c.ok()) return ParseStatus::kMalformed;
      m.filename = PaddedString(bytes, c.pos(), body_end);
      *record = m;
      return ParseStatus::kOk;
    }
    case PERF_RECORD_COMM: {
      event::CommRecord m{.sid = sid};
      m.pid = c.Read<uint32_t>();
      m.tid = c.Read<uint32_t>();
      if (!c.ok()) return ParseStatus::kMalformed;
      m.comm = PaddedString(bytes, c.pos(), body_end);
      m.exec = (h.misc & PERF_RECORD_MISC_COMM_EXEC) != 0;
      *record = m;
      return ParseStatus::kOk;
    }
    case PERF_RECORD_FORK:
    case PERF_RECORD_EXIT: {
      event::TaskRecord m{.sid = sid, .exit = h.type == PERF_RECORD_EXIT};
      m.pid = c.Read<uint32_t>();
      m.ppid = c.Read<uint32_t>();
      m.tid = c.Read<uint32_t>();
      m.ptid = c.Read<uint32_t>();
      m.time = c.Read<uint64_t>();
      if (!c.ok()) return ParseStatus::kMalformed;
      *record = m;
      return ParseStatus::kOk;
    }
    case PERF_RECORD_LOST: {
      LostRecord m{.sid = sid};
      m.id = c.Read<uint64_t>();
      m.lost = c.Read<uint64_t>();
      if (!c.ok()) return ParseStatus::kMalformed;
      *record = m;
      return ParseStatus::kOk;
    }
    case PERF_RECORD_LOST_SAMPLES: {
      LostSamplesRecord m{.sid = sid};
      m.lost = c.Read<uint64_t>();
      if (!c.ok()) return ParseStatus::kMalformed;
      *record = m;
      return ParseStatus::kOk;
    }
    case PERF_RECORD_THROTTLE:
    case PERF_RECORD_UNTHROTTLE: {
      ThrottleRecord m{.sid = sid, .throttle = h.type == PERF_RECORD_THROTTLE};
      m.time = c.Read<uint64_t>();
      m.id = c.Read<uint64_t>();
      c.Skip(8);  // stream_id
      if (!c.ok()) return ParseStatus::kMalformed;
      *record = m;
      return ParseStatus::kOk;
    }
    case PERF_RECORD_SWITCH:
    case PERF_RECORD_SWITCH_CPU_WIDE: {
      SwitchRecord m{.sid = sid};
      m.out = (h.misc & PERF_RECORD_MISC_SWITCH_OUT) != 0;
      m.preempt = (h.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) != 0;
      m.cpu_wide = h.type == PERF_RECORD_SWITCH_CPU_WIDE;
      if (m.cpu_wide) {
        m.next_prev_pid = c.Read<uint32_t>();
        m.next_prev_tid = c.Read<uint32_t>();
      }
      if (!c.ok()) return ParseStatus::kMalformed;
      *record = m;
      return ParseStatus::kOk;
    }
    case abi::kRecordCallchainDeferred: {
      DeferredCallchainRecord m{.sid = sid};
      m.cookie = c.Read<uint64_t>();
      const uint64_t nr = c.Read<uint64_t>();
      m.ips = c.Words(nr);
      if (!c.ok()) return ParseStatus::kMalformed;
      *record = m;
      return ParseStatus::kOk;
    }
  }
  return ParseStatus::kUnknownType;
}

}  // namespace dprof::tracer
