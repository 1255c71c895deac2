// Writing a flame graph file, for `dprof flamegraph` and `dprof record --flamegraph`.
#ifndef DPROF_CLI_FLAMEGRAPH_H_
#define DPROF_CLI_FLAMEGRAPH_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "dprof/profile/flamegraph.h"
#include "dprof/profile/view.h"

namespace dprof::cli {

// An SVG picture when `path` ends in .svg, else an HTML page; the file gets mode `mode`.
absl::Status WriteFlameGraphFile(const profile::View& profile,
                                 const profile::FlameGraphOptions& options, const std::string& path,
                                 mode_t mode);

}  // namespace dprof::cli

#endif  // DPROF_CLI_FLAMEGRAPH_H_
