// Process and thread ids from the command line: "-p 12,34 -p 56".
#ifndef DPROF_CLI_IDS_H_
#define DPROF_CLI_IDS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dprof::cli {

// Every id of `values` (each a comma-separated list), once each, in the order given;
// InvalidArgument naming `flag` for anything but a positive number.
absl::StatusOr<std::vector<pid_t>> ParseIds(const std::vector<std::string>& values,
                                            const char* flag);

}  // namespace dprof::cli

#endif  // DPROF_CLI_IDS_H_
