// JSON string literals for the writers that emit JSON (speedscope, the HTML flame graph's data).
#ifndef DPROF_PROFILE_INTERNAL_JSON_H_
#define DPROF_PROFILE_INTERNAL_JSON_H_

#include <string>
#include <string_view>

namespace dprof::profile::internal {

// Appends `s` as a quoted JSON string: quotes, backslashes and control characters escaped, and
// '<' too, so the text is also safe inside an HTML <script> element.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_JSON_H_
