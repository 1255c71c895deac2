#include "cli/ids.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dprof::cli {

absl::StatusOr<std::vector<pid_t>> ParseIds(const std::vector<std::string>& values,
                                            const char* flag) {
  std::vector<pid_t> out;
  for (const std::string& v : values) {
    for (absl::string_view part : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      int id = 0;
      if (!absl::SimpleAtoi(part, &id) || id <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " takes process or thread ids like 1234,5678, not '", part, "'"));
      }
      if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
  }
  return out;
}

}  // namespace dprof::cli
