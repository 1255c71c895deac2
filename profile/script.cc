#include "dprof/profile/script.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_format.h"
#include "profile/internal/demangle.h"

namespace dprof::profile {

void WriteScript(const Recording& r, const View& view, std::ostream& out) {
  size_t name_width = 0;
  for (const std::string& name : r.event_names) name_width = std::max(name_width, name.size());
  std::string line;
  for (const View::EventStack& shown : view.events()) {
    const Event& e = r.events[shown.event];
    const View::Stack& stack = view.stacks()[shown.stack];
    const std::string& name = e.event < r.event_names.size() ? r.event_names[e.event] : "";
    line = absl::StrFormat("%s %5u [%03u] %5u.%06u: %10u %*s: \n",
                           stack.comm.empty() ? ":" + std::to_string(e.tid) : stack.comm, e.tid,
                           e.cpu, e.time_ns / 1'000'000'000, e.time_ns % 1'000'000'000 / 1000,
                           e.weight, static_cast<int>(name_width), name);
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
        const View::Frame& frame = view.frame(*f);
        const bool outermost = f + 1 == at.frames.rend();
        absl::StrAppendFormat(&line, "\t%16x ", address);
        if (frame.name.starts_with("[unknown]")) {
          line += "[unknown]";
        } else {
          line += internal::WithoutSignature(frame.name);
          // Every inline level at the address with the offset into the function holding it.
          if (at.function_offset.has_value()) {
            absl::StrAppendFormat(&line, "+0x%x", *at.function_offset);
          }
        }
        absl::StrAppendFormat(&line, " (%s)\n",
                              !outermost ? "inlined"
                                         : (at.module.empty() ? "[unknown]" : at.module));
      }
    }
    line += "\n";
    out << line;
  }
}

}  // namespace dprof::profile
