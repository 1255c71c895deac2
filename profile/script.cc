#include "dprof/profile/script.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "profile/internal/demangle.h"

namespace dprof::profile {
namespace {

// A tracepoint's fields as "name=value" words, perf's way for most tracepoints (perf formats
// each with the tracepoint's print format; dprof does not evaluate those): strings as they are,
// pointers in hex, integers in decimal, other arrays' elements in hex. The common_ fields, which
// every tracepoint has, are left out as perf leaves them out.
std::string FieldsText(const event::Tracepoint& tp, std::span<const uint8_t> raw) {
  std::string out;
  for (const event::TracepointField& f : tp.fields) {
    if (f.name.starts_with("common_")) continue;
    if (!out.empty()) out += ' ';
    absl::StrAppend(&out, f.name, "=");
    const bool text = f.declaration.find("char") != std::string::npos &&
                      (f.data_loc || f.declaration.find('[') != std::string::npos);
    int64_t value = 0;
    if (text) {
      out += tp.ReadString(raw, f.name);
    } else if (tp.ReadInt(raw, f.name, &value)) {
      if (f.declaration.find('*') != std::string::npos) {
        absl::StrAppendFormat(&out, "0x%x", static_cast<uint64_t>(value));
      } else if (f.is_signed) {
        absl::StrAppend(&out, value);
      } else {
        absl::StrAppend(&out, static_cast<uint64_t>(value));
      }
    } else if (const size_t open = f.declaration.rfind('[');
               open != std::string::npos && !f.data_loc &&
               uint64_t{f.offset} + f.size <= raw.size()) {
      // "unsigned long args[6]": its elements, each size / count bytes.
      const uint32_t count = static_cast<uint32_t>(std::atoi(f.declaration.c_str() + open + 1));
      const uint32_t each = count == 0 ? 0 : f.size / count;
      out += '{';
      for (uint32_t i = 0; (each == 1 || each == 2 || each == 4 || each == 8) && i < count; ++i) {
        uint64_t element = 0;
        std::memcpy(&element, raw.data() + f.offset + i * each, each);
        absl::StrAppendFormat(&out, "%s0x%x", i == 0 ? "" : ", ", element);
      }
      out += '}';
    } else {
      out += '?';
    }
  }
  return out;
}

}  // namespace

void WriteScript(const Recording& r, const View& view, std::ostream& out) {
  size_t name_width = 0;
  for (const std::string& name : r.event_names) name_width = std::max(name_width, name.size());
  // Each frame's name as perf prints it, once per frame rather than once per event.
  std::vector<std::string_view> names;
  names.reserve(view.frames().size());
  for (const View::Frame& frame : view.frames()) {
    names.push_back(frame.name.starts_with("[unknown]") ? std::string_view("[unknown]")
                                                        : internal::WithoutSignature(frame.name));
  }
  std::string line;
  for (const View::EventStack& shown : view.events()) {
    const Event& e = r.events[shown.event];
    const View::Stack& stack = view.stacks()[shown.stack];
    const std::string& name = e.event < r.event_names.size() ? r.event_names[e.event] : "";
    // A thread id as perf prints it: signed (the kernel says -1 for a task already gone).
    const int32_t tid = static_cast<int32_t>(e.tid);
    line = absl::StrFormat("%s %5d [%03u] %5u.%06u: %10u %*s: ",
                           stack.comm.empty() ? absl::StrCat(":", tid) : stack.comm, tid, e.cpu,
                           e.time_ns / 1'000'000'000, e.time_ns % 1'000'000'000 / 1000, e.weight,
                           static_cast<int>(name_width), name);
    if (auto tp = r.tracepoints.find(e.event); tp != r.tracepoints.end()) {
      line += FieldsText(tp->second, r.RawOf(e));
    }
    line += '\n';
    for (auto l = stack.locations.rbegin(); l != stack.locations.rend(); ++l) {
      const View::Location& at = view.locations()[*l];
      // Mapped code at its offset in what was mapped (perf's map_ip), the kernel and unmapped
      // code at their own address.
      uint64_t address = at.address;
      if (at.mapping != kNoMapping && at.mapping < r.mappings.size()) {
        const Mapping& m = r.mappings[at.mapping];
        address = at.address - m.start + m.pgoff;
      }
      for (auto f = at.frames.rbegin(); f != at.frames.rend(); ++f) {
        const bool outermost = f + 1 == at.frames.rend();
        absl::StrAppendFormat(&line, "\t%16x ", address);
        line += names[*f];
        // Every inline level at the address with the offset into the function holding it.
        if (at.function_offset.has_value() && names[*f] != "[unknown]") {
          absl::StrAppendFormat(&line, "+0x%x", *at.function_offset);
        }
        absl::StrAppendFormat(
            &line, " (%s)\n",
            !outermost ? "inlined" : (at.module.empty() ? "[unknown]" : at.module));
      }
    }
    line += "\n";
    out << line;
  }
}

}  // namespace dprof::profile
