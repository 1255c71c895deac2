#include "tracer/internal/tracing_data.h"

#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tracer/internal/byte_cursor.h"

namespace dprof::tracer::internal {

namespace {

constexpr std::string_view kMagic("\x17\x08\x44tracing", 10);
// No format file comes near this; a larger size is corruption.
constexpr uint64_t kMaxFormatBytes = 1 << 20;

// A format file's "name: NAME" line.
std::string_view FormatName(std::string_view text) {
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    if (absl::ConsumePrefix(&line, "name:")) {
      line = absl::StripAsciiWhitespace(line);
      return std::string_view(line.data(), line.size());
    }
  }
  return {};
}

absl::Status Cut(std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("perf.data tracing data is cut short or corrupt in ", std::string(what)));
}

// One format file: a u64 size, then the text.
bool FormatFile(ByteCursor& c, std::string_view* text) {
  uint64_t size = 0;
  std::span<const uint8_t> bytes;
  if (!c.U64(&size) || size > kMaxFormatBytes || !c.Bytes(size, &bytes)) return false;
  *text = std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return true;
}

}  // namespace

absl::StatusOr<std::vector<Tracepoint>> ParseTracingData(std::span<const uint8_t> data) {
  ByteCursor c(data);
  std::span<const uint8_t> magic;
  std::string_view version;
  if (!c.Bytes(kMagic.size(), &magic) ||
      std::string_view(reinterpret_cast<const char*>(magic.data()), magic.size()) != kMagic ||
      !c.CString(&version)) {
    return absl::InvalidArgumentError("perf.data tracing data does not start with its magic");
  }
  uint8_t big_endian = 0, long_size = 0;
  uint32_t page_size = 0;
  if (!c.U8(&big_endian) || !c.U8(&long_size) || !c.U32(&page_size)) return Cut("its header");
  if (big_endian != 0) {
    return absl::FailedPreconditionError(
        "perf.data tracing data of a big-endian machine: its tracepoint fields cannot be read "
        "here");
  }
  // header_page and header_event: a name, then a format file.
  for (std::string_view name : {"header_page", "header_event"}) {
    std::string_view got, text;
    if (!c.CString(&got) || got != name || !FormatFile(c, &text)) return Cut(name);
  }
  uint32_t n = 0;
  if (!c.U32(&n)) return Cut("ftrace's formats");
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view text;
    if (!FormatFile(c, &text)) return Cut("ftrace's formats");
  }
  uint32_t systems = 0;
  if (!c.U32(&systems)) return Cut("the event formats");
  std::vector<Tracepoint> out;
  for (uint32_t s = 0; s < systems; ++s) {
    std::string_view system;
    uint32_t events = 0;
    if (!c.CString(&system) || !c.U32(&events)) return Cut("the event formats");
    for (uint32_t e = 0; e < events; ++e) {
      std::string_view text;
      if (!FormatFile(c, &text)) return Cut(absl::StrCat("the formats of ", std::string(system)));
      absl::StatusOr<Tracepoint> tp = ParseTracepointFormat(system, FormatName(text), text);
      if (!tp.ok()) return tp.status();
      out.push_back(*std::move(tp));
    }
  }
  return out;
}

}  // namespace dprof::tracer::internal
