// Naming the cgroup a system-wide recording is filtered to (perf record -G).
//
// perf_event cgroup filtering works on the hierarchy that holds the perf_event controller: a
// cgroup v1 mount with it when there is one, else the unified (v2) hierarchy, wherever it is
// mounted (/sys/fs/cgroup on pure v2 systems, /sys/fs/cgroup/unified on hybrid ones). Names are
// relative to that mount, as perf's are.
#ifndef DPROF_TRACER_INTERNAL_CGROUP_H_
#define DPROF_TRACER_INTERNAL_CGROUP_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dprof::tracer::internal {

// The mount point of the perf_event cgroup hierarchy in `mounts` (the text of /proc/self/mounts).
// NotFound when neither a v1 perf_event mount nor a cgroup2 mount is there.
absl::StatusOr<std::string> PerfEventCgroupRoot(std::string_view mounts);

// The directory of cgroup `name`: an absolute path as it is, a relative one under
// PerfEventCgroupRoot() of this system's mounts.
absl::StatusOr<std::string> CgroupPath(const std::string& name);

}  // namespace dprof::tracer::internal

#endif  // DPROF_TRACER_INTERNAL_CGROUP_H_
