#include "cli/errors.h"

#include <cstdio>
#include <string>

namespace dprof::cli {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "dprof: %s\n", std::string(status.message()).c_str());
  return kFailure;
}

int UsageError(absl::string_view message) {
  std::fprintf(stderr, "dprof: %.*s\n", static_cast<int>(message.size()), message.data());
  return kUsageError;
}

void Warn(absl::string_view message) {
  std::fprintf(stderr, "dprof: warning: %.*s\n", static_cast<int>(message.size()), message.data());
}

}  // namespace dprof::cli
