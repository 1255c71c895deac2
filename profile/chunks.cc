#include "profile/internal/chunks.h"

#include <optional>

#include "profile/internal/codec.h"
#include "profile/internal/disk_values.h"

namespace dprof::profile::internal {
namespace {

// Collects elements into payloads of about kTargetChunkSize bytes.
class Chunker {
 public:
  explicit Chunker(ChunkType type) : out_{type, {}} {}
  Encoder& encoder() { return encoder_; }
  // Ends an element: starts a new payload when this one is full.
  void Next() {
    if (encoder_.data().size() >= kTargetChunkSize) out_.chunks.push_back(encoder_.Take());
  }
  Payloads Take() {
    if (!encoder_.data().empty()) out_.chunks.push_back(encoder_.Take());
    return std::move(out_);
  }

 private:
  Encoder encoder_;
  Payloads out_;
};

// Element tags of the chunk types that hold more than one kind of element.
enum Tag : uint8_t {
  kKeyValue = 1,
  kEventName = 2,
  kTracepointFormat = 3,  // format version 2
  kThreadName = 1,
  kTaskChange = 2,
  kSymbol = 1,
  kLookup = 2,
  kMappedLookup = 3,
  kSymbolInFunction = 4,  // format version 2
  kCounter = 1,
  kThreadCounter = 2,
};

// An enum's value through its on-disk table (disk_values.h): false for a number it lacks.
template <typename E>
bool Enum(Decoder& d, E* e, std::optional<E> (*from_disk)(uint8_t)) {
  uint8_t v;
  if (!d.U8(&v)) return false;
  const std::optional<E> value = from_disk(v);
  if (!value.has_value()) return false;
  *e = *value;
  return true;
}

bool DecodeMetadata(Decoder& d, Recording* out) {
  std::map<std::string, std::string> metadata;
  std::vector<std::string> names;
  while (!d.done()) {
    uint8_t tag;
    if (!d.U8(&tag)) return false;
    if (tag == kKeyValue) {
      std::string key, value;
      if (!d.String(&key) || !d.String(&value)) return false;
      metadata[std::move(key)] = std::move(value);
    } else if (tag == kEventName) {
      if (!d.String(&names.emplace_back())) return false;
    } else if (tag == kTracepointFormat) {
      uint32_t event;
      event::Tracepoint tp;
      uint64_t fields;
      if (!d.Uint(&event) || !d.String(&tp.system) || !d.String(&tp.name) || !d.Varint(&tp.id) ||
          !d.Count(&fields, 5)) {
        return false;
      }
      tp.fields.resize(fields);
      for (event::TracepointField& f : tp.fields) {
        uint8_t flags;
        if (!d.String(&f.name) || !d.String(&f.declaration) || !d.Uint(&f.offset) ||
            !d.Uint(&f.size) || !d.U8(&flags) || flags > 3) {
          return false;
        }
        f.is_signed = (flags & 1) != 0;
        f.data_loc = (flags & 2) != 0;
      }
      out->tracepoints[event] = std::move(tp);
    } else {
      return false;
    }
  }
  for (auto& [k, v] : metadata) out->metadata[k] = std::move(v);
  // Event names come whole, in one metadata chunk.
  if (!names.empty()) out->event_names = std::move(names);
  return true;
}

bool DecodeStacks(Decoder& d, Recording* out) {
  std::vector<std::pair<StackId, std::vector<uint64_t>>> stacks;
  while (!d.done()) {
    StackId id;
    uint64_t n;
    if (!d.Uint(&id) || id == kNoStack || !d.Count(&n)) return false;
    std::vector<uint64_t> pcs(n);
    int64_t pc = 0;
    for (uint64_t& p : pcs) {
      int64_t delta;
      if (!d.Signed(&delta)) return false;
      pc += delta;
      p = static_cast<uint64_t>(pc);
    }
    stacks.emplace_back(id, std::move(pcs));
  }
  for (auto& [id, pcs] : stacks) out->stacks[id] = std::move(pcs);
  return true;
}

bool DecodeEvents(Decoder& d, Recording* out) {
  std::vector<Event> events;
  std::vector<uint8_t> raw;
  uint64_t time = 0;
  while (!d.done()) {
    Event e;
    int64_t delta;
    uint8_t flags;
    std::span<const uint8_t> bytes;
    if (!Enum(d, &e.kind, EventKindFromDisk) || !d.Uint(&e.event) || !d.Uint(&e.pid) ||
        !d.Uint(&e.tid) || !d.Uint(&e.cpu) || !d.Signed(&delta) || !d.Varint(&e.weight) ||
        !d.U8(&flags) || flags > 1 || !d.Uint(&e.kernel_stack) ||
        !Enum(d, &e.user, UserStackFromDisk)) {
      return false;
    }
    time += static_cast<uint64_t>(delta);
    e.time_ns = time;
    e.user_mode = flags != 0;
    if (e.user == event::UserStack::kDeferred && !d.Varint(&e.cookie)) return false;
    if (e.user == event::UserStack::kInline && !d.Uint(&e.user_stack)) return false;
    if (!d.Bytes(&bytes)) return false;
    if (!bytes.empty()) {
      const uint64_t offset = out->raw.size() + raw.size();
      if (offset + bytes.size() > UINT32_MAX) return false;
      e.raw_offset = static_cast<uint32_t>(offset);
      e.raw_size = static_cast<uint32_t>(bytes.size());
      raw.insert(raw.end(), bytes.begin(), bytes.end());
    }
    events.push_back(e);
  }
  out->events.insert(out->events.end(), events.begin(), events.end());
  out->raw.insert(out->raw.end(), raw.begin(), raw.end());
  return true;
}

bool DecodeUserStacks(Decoder& d, Recording* out) {
  std::vector<std::pair<cookie::Cookie, UserStackEntry>> entries;
  while (!d.done()) {
    cookie::Cookie c;
    UserStackEntry e;
    uint8_t native;
    if (!d.Varint(&c) || !d.Uint(&e.stack) || !Enum(d, &e.reason, StopReasonFromDisk) ||
        !d.U8(&native) || native > 1) {
      return false;
    }
    e.native = native != 0;
    entries.emplace_back(c, e);
  }
  for (auto& [c, e] : entries) out->user_stacks[c] = e;
  return true;
}

bool DecodeMappings(Decoder& d, Recording* out) {
  std::vector<Mapping> mappings;
  while (!d.done()) {
    Mapping m;
    uint64_t length;
    if (!d.Uint(&m.pid) || !d.Varint(&m.time_ns) || !d.Varint(&m.start) || !d.Varint(&length) ||
        length > ~m.start || !d.Varint(&m.pgoff) || !d.Uint(&m.prot) || !d.String(&m.path) ||
        !d.String(&m.build_id)) {
      return false;
    }
    m.end = m.start + length;
    mappings.push_back(std::move(m));
  }
  for (Mapping& m : mappings) out->mappings.push_back(std::move(m));
  return true;
}

bool DecodeThreads(Decoder& d, Recording* out) {
  std::vector<ThreadName> names;
  std::vector<TaskChange> tasks;
  while (!d.done()) {
    uint8_t tag, flag;
    if (!d.U8(&tag)) return false;
    if (tag == kThreadName) {
      ThreadName t;
      if (!d.Uint(&t.pid) || !d.Uint(&t.tid) || !d.Varint(&t.time_ns) || !d.U8(&flag) || flag > 1 ||
          !d.String(&t.comm)) {
        return false;
      }
      t.exec = flag != 0;
      names.push_back(std::move(t));
    } else if (tag == kTaskChange) {
      TaskChange t;
      if (!d.U8(&flag) || flag > 1 || !d.Uint(&t.pid) || !d.Uint(&t.ppid) || !d.Uint(&t.tid) ||
          !d.Uint(&t.ptid) || !d.Varint(&t.time_ns)) {
        return false;
      }
      t.exit = flag != 0;
      tasks.push_back(t);
    } else {
      return false;
    }
  }
  for (ThreadName& t : names) out->threads.push_back(std::move(t));
  out->tasks.insert(out->tasks.end(), tasks.begin(), tasks.end());
  return true;
}

bool DecodeSymbols(Decoder& d, Recording* out) {
  std::vector<Symbol> symbols;
  std::vector<Lookup> lookups, mapped_lookups;
  while (!d.done()) {
    uint8_t tag;
    if (!d.U8(&tag)) return false;
    if (tag == kSymbol || tag == kSymbolInFunction) {
      Symbol s;
      uint8_t deleted;
      uint64_t frames;
      if (!d.String(&s.module) || !d.Varint(&s.offset) || !d.U8(&deleted) || deleted > 1) {
        return false;
      }
      if (tag == kSymbolInFunction) {
        uint64_t offset;
        if (!d.Varint(&offset)) return false;
        s.function_offset = offset;
      }
      if (!d.Count(&frames, 4)) return false;
      s.deleted = deleted != 0;
      s.frames.resize(frames);
      for (SymbolFrame& f : s.frames) {
        uint8_t inlined;
        if (!d.String(&f.function) || !d.String(&f.file) || !d.Uint(&f.line) || !d.U8(&inlined) ||
            inlined > 1) {
          return false;
        }
        f.inlined = inlined != 0;
      }
      symbols.push_back(std::move(s));
    } else if (tag == kLookup || tag == kMappedLookup) {
      // (pid, address) or (mapping index, address). A mapping index need not name a mapping
      // read: such a lookup never matches.
      uint32_t key, index;
      uint64_t address;
      if (!d.Uint(&key) || !d.Varint(&address) || !d.Uint(&index) ||
          index >= out->symbols.size() + symbols.size()) {
        return false;
      }
      (tag == kLookup ? lookups : mapped_lookups).push_back({{key, address}, index});
    } else {
      return false;
    }
  }
  for (Symbol& s : symbols) out->symbols.push_back(std::move(s));
  for (const auto& [key, index] : lookups) out->symbol_of[key] = index;
  for (const auto& [key, index] : mapped_lookups) out->mapped_symbol_of[key] = index;
  return true;
}

bool DecodeCounters(Decoder& d, Recording* out) {
  std::vector<std::pair<std::string, uint64_t>> counters;
  std::vector<std::pair<uint32_t, std::pair<std::string, uint64_t>>> threads;
  while (!d.done()) {
    uint8_t tag;
    std::string name;
    uint64_t value;
    uint32_t tid = 0;
    if (!d.U8(&tag) || (tag != kCounter && tag != kThreadCounter)) return false;
    if (tag == kThreadCounter && !d.Uint(&tid)) return false;
    if (!d.String(&name) || !d.Varint(&value)) return false;
    if (tag == kCounter) {
      counters.emplace_back(std::move(name), value);
    } else {
      threads.push_back({tid, {std::move(name), value}});
    }
  }
  // Later chunks have later values.
  for (auto& [name, value] : counters) out->counters[name] = value;
  for (auto& [tid, nv] : threads) out->thread_counters[tid][nv.first] = nv.second;
  return true;
}

}  // namespace

Payloads EncodeMetadata(const std::map<std::string, std::string>& metadata,
                        std::span<const std::string> event_names,
                        const std::map<uint32_t, event::Tracepoint>& tracepoints) {
  // One chunk: the event names must arrive together.
  Encoder e;
  for (const auto& [key, value] : metadata) {
    e.U8(kKeyValue);
    e.String(key);
    e.String(value);
  }
  for (const std::string& name : event_names) {
    e.U8(kEventName);
    e.String(name);
  }
  for (const auto& [event, tp] : tracepoints) {
    e.U8(kTracepointFormat);
    e.Varint(event);
    e.String(tp.system);
    e.String(tp.name);
    e.Varint(tp.id);
    e.Varint(tp.fields.size());
    for (const event::TracepointField& f : tp.fields) {
      e.String(f.name);
      e.String(f.declaration);
      e.Varint(f.offset);
      e.Varint(f.size);
      e.U8((f.is_signed ? 1 : 0) | (f.data_loc ? 2 : 0));
    }
  }
  return {ChunkType::kMetadata, {e.Take()}};
}

Payloads EncodeStacks(std::span<const std::pair<StackId, std::span<const uint64_t>>> stacks) {
  Chunker c(ChunkType::kStacks);
  for (const auto& [id, pcs] : stacks) {
    Encoder& e = c.encoder();
    e.Varint(id);
    e.Varint(pcs.size());
    uint64_t previous = 0;
    for (uint64_t pc : pcs) {
      e.Signed(static_cast<int64_t>(pc - previous));
      previous = pc;
    }
    c.Next();
  }
  return c.Take();
}

Payloads EncodeEvents(std::span<const Event> events, std::span<const uint8_t> raw) {
  Chunker c(ChunkType::kEvents);
  uint64_t time = 0;
  for (const Event& ev : events) {
    const bool first_of_chunk = c.encoder().data().empty();
    if (first_of_chunk) time = 0;  // each chunk decodes on its own
    Encoder& e = c.encoder();
    e.U8(ToDisk(ev.kind));
    e.Varint(ev.event);
    e.Varint(ev.pid);
    e.Varint(ev.tid);
    e.Varint(ev.cpu);
    e.Signed(static_cast<int64_t>(ev.time_ns - time));
    time = ev.time_ns;
    e.Varint(ev.weight);
    e.U8(ev.user_mode ? 1 : 0);
    e.Varint(ev.kernel_stack);
    e.U8(ToDisk(ev.user));
    if (ev.user == event::UserStack::kDeferred) e.Varint(ev.cookie);
    if (ev.user == event::UserStack::kInline) e.Varint(ev.user_stack);
    e.Bytes(ev.raw_size == 0 ? std::span<const uint8_t>()
                             : raw.subspan(ev.raw_offset, ev.raw_size));
    c.Next();
  }
  return c.Take();
}

Payloads EncodeUserStacks(std::span<const std::pair<cookie::Cookie, UserStackEntry>> stacks) {
  Chunker c(ChunkType::kUserStacks);
  for (const auto& [cookie, entry] : stacks) {
    Encoder& e = c.encoder();
    e.Varint(cookie);
    e.Varint(entry.stack);
    e.U8(ToDisk(entry.reason));
    e.U8(entry.native ? 1 : 0);
    c.Next();
  }
  return c.Take();
}

Payloads EncodeMappings(std::span<const Mapping> mappings) {
  Chunker c(ChunkType::kMappings);
  for (const Mapping& m : mappings) {
    Encoder& e = c.encoder();
    e.Varint(m.pid);
    e.Varint(m.time_ns);
    e.Varint(m.start);
    e.Varint(m.end - m.start);
    e.Varint(m.pgoff);
    e.Varint(m.prot);
    e.String(m.path);
    e.String(m.build_id);
    c.Next();
  }
  return c.Take();
}

Payloads EncodeThreads(std::span<const ThreadName> names, std::span<const TaskChange> tasks) {
  Chunker c(ChunkType::kThreads);
  for (const ThreadName& t : names) {
    Encoder& e = c.encoder();
    e.U8(kThreadName);
    e.Varint(t.pid);
    e.Varint(t.tid);
    e.Varint(t.time_ns);
    e.U8(t.exec ? 1 : 0);
    e.String(t.comm);
    c.Next();
  }
  for (const TaskChange& t : tasks) {
    Encoder& e = c.encoder();
    e.U8(kTaskChange);
    e.U8(t.exit ? 1 : 0);
    e.Varint(t.pid);
    e.Varint(t.ppid);
    e.Varint(t.tid);
    e.Varint(t.ptid);
    e.Varint(t.time_ns);
    c.Next();
  }
  return c.Take();
}

Payloads EncodeSymbols(std::span<const Symbol> symbols, std::span<const Lookup> lookups,
                       std::span<const Lookup> mapped_lookups) {
  Chunker c(ChunkType::kSymbols);
  for (const Symbol& s : symbols) {
    Encoder& e = c.encoder();
    e.U8(s.function_offset.has_value() ? kSymbolInFunction : kSymbol);
    e.String(s.module);
    e.Varint(s.offset);
    e.U8(s.deleted ? 1 : 0);
    if (s.function_offset.has_value()) e.Varint(*s.function_offset);
    e.Varint(s.frames.size());
    for (const SymbolFrame& f : s.frames) {
      e.String(f.function);
      e.String(f.file);
      e.Varint(f.line);
      e.U8(f.inlined ? 1 : 0);
    }
    c.Next();
  }
  for (const auto& [tag, list] : {std::pair(kLookup, lookups), {kMappedLookup, mapped_lookups}}) {
    for (const auto& [key, index] : list) {
      Encoder& e = c.encoder();
      e.U8(tag);
      e.Varint(key.first);
      e.Varint(key.second);
      e.Varint(index);
      c.Next();
    }
  }
  return c.Take();
}

Payloads EncodeCounters(const std::map<std::string, uint64_t>& counters,
                        const std::map<uint32_t, std::map<std::string, uint64_t>>& threads) {
  Chunker c(ChunkType::kCounters);
  for (const auto& [name, value] : counters) {
    Encoder& e = c.encoder();
    e.U8(kCounter);
    e.String(name);
    e.Varint(value);
    c.Next();
  }
  for (const auto& [tid, values] : threads) {
    for (const auto& [name, value] : values) {
      Encoder& e = c.encoder();
      e.U8(kThreadCounter);
      e.Varint(tid);
      e.String(name);
      e.Varint(value);
      c.Next();
    }
  }
  return c.Take();
}

bool DecodeChunk(ChunkType type, std::span<const uint8_t> payload, Recording* out) {
  Decoder d(payload);
  switch (type) {
    case ChunkType::kMetadata:
      return DecodeMetadata(d, out);
    case ChunkType::kStacks:
      return DecodeStacks(d, out);
    case ChunkType::kEvents:
      return DecodeEvents(d, out);
    case ChunkType::kUserStacks:
      return DecodeUserStacks(d, out);
    case ChunkType::kMappings:
      return DecodeMappings(d, out);
    case ChunkType::kThreads:
      return DecodeThreads(d, out);
    case ChunkType::kSymbols:
      return DecodeSymbols(d, out);
    case ChunkType::kCounters:
      return DecodeCounters(d, out);
    case ChunkType::kEnd:
      return d.done();
  }
  return false;
}

}  // namespace dprof::profile::internal
