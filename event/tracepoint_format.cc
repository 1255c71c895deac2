#include "dprof/event/tracepoint_format.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dprof::event {
namespace {

// Debian's Abseil has its own string_view; the public API speaks std::string_view.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// "field:char prev_comm[16];" → "prev_comm"; "field:__data_loc char[] name;" → "name".
std::string FieldName(absl::string_view declaration) {
  absl::string_view d = absl::StripAsciiWhitespace(declaration);
  if (const size_t bracket = d.find('[');
      bracket != absl::string_view::npos && d.find(' ', bracket) == absl::string_view::npos) {
    // "char name[16]": the name ends at its bracket (but "char[] name" has its bracket earlier).
    d = d.substr(0, bracket);
  }
  const size_t space = d.find_last_of(" *");
  return std::string(space == absl::string_view::npos ? d : d.substr(space + 1));
}

}  // namespace

const TracepointField* Tracepoint::Field(std::string_view field) const {
  for (const TracepointField& f : fields) {
    if (f.name == field) return &f;
  }
  return nullptr;
}

bool Tracepoint::ReadInt(std::span<const uint8_t> raw, std::string_view field,
                         int64_t* value) const {
  const TracepointField* f = Field(field);
  if (f == nullptr || f->data_loc || uint64_t{f->offset} + f->size > raw.size()) return false;
  const uint8_t* p = raw.data() + f->offset;
  switch (f->size) {
    case 1: {
      uint8_t v = *p;
      *value = f->is_signed ? static_cast<int8_t>(v) : v;
      return true;
    }
    case 2: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      *value = f->is_signed ? static_cast<int16_t>(v) : v;
      return true;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      *value = f->is_signed ? static_cast<int32_t>(v) : static_cast<int64_t>(v);
      return true;
    }
    case 8: {
      uint64_t v;
      std::memcpy(&v, p, 8);
      *value = static_cast<int64_t>(v);
      return true;
    }
  }
  return false;
}

std::string_view Tracepoint::ReadString(std::span<const uint8_t> raw,
                                        std::string_view field) const {
  const TracepointField* f = Field(field);
  if (f == nullptr || uint64_t{f->offset} + f->size > raw.size()) return {};
  uint64_t begin = f->offset;
  uint64_t length = f->size;
  if (f->data_loc) {
    if (f->size != 4) return {};
    uint32_t loc;
    std::memcpy(&loc, raw.data() + f->offset, 4);
    begin = loc & 0xffff;
    length = loc >> 16;
    if (begin + length > raw.size()) return {};
  }
  const char* p = reinterpret_cast<const char*>(raw.data() + begin);
  return std::string_view(p, strnlen(p, length));
}

absl::StatusOr<Tracepoint> ParseTracepointFormat(std::string_view system, std::string_view name,
                                                 std::string_view text) {
  Tracepoint tp{.system = std::string(system), .name = std::string(name), .fields = {}};
  const std::string full = tp.FullName();
  bool have_id = false;
  for (absl::string_view line : absl::StrSplit(A(text), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, "ID:")) {
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &tp.id)) {
        return absl::InvalidArgumentError(absl::StrCat("tracepoint ", full, ": bad ID line"));
      }
      have_id = true;
      continue;
    }
    if (!absl::StartsWith(line, "field:")) continue;
    // field:<declaration>;	offset:N;	size:N;	signed:N;
    TracepointField f;
    bool have_offset = false, have_size = false;
    for (absl::string_view part : absl::StrSplit(line, ';', absl::SkipWhitespace())) {
      part = absl::StripAsciiWhitespace(part);
      if (absl::ConsumePrefix(&part, "field:")) {
        f.declaration = std::string(part);
        f.data_loc = absl::StartsWith(part, "__data_loc");
        f.name = FieldName(part);
      } else if (absl::ConsumePrefix(&part, "offset:")) {
        have_offset = absl::SimpleAtoi(part, &f.offset);
      } else if (absl::ConsumePrefix(&part, "size:")) {
        have_size = absl::SimpleAtoi(part, &f.size);
      } else if (absl::ConsumePrefix(&part, "signed:")) {
        f.is_signed = part == "1";
      }
    }
    if (f.name.empty() || !have_offset || !have_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("tracepoint ", full, ": malformed field line '", line, "'"));
    }
    tp.fields.push_back(std::move(f));
  }
  if (!have_id) {
    return absl::InvalidArgumentError(absl::StrCat("tracepoint ", full, ": format has no ID line"));
  }
  return tp;
}

}  // namespace dprof::event
