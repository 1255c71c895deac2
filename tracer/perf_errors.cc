#include "tracer/internal/perf_errors.h"

#include <errno.h>
#include <sys/resource.h>

#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "dprof/unwind/snapshot.h"

namespace dprof::tracer::internal {

int64_t ReadSysctl(std::string_view name, int64_t fallback) {
  std::ifstream in("/proc/sys/" + std::string(name));
  int64_t value;
  if (in >> value) return value;
  return fallback;
}

absl::Status OpenError(int err, const OpenContext& context) {
  const std::string what = "cannot open event '" + std::string(context.event) + "'";
  switch (err) {
    case EACCES:
    case EPERM: {
      const int64_t paranoid = ReadSysctl("kernel/perf_event_paranoid", 2);
      // Kernel call chains of one's own processes need <= 1, other CPUs' events <= 0, and raw
      // tracepoint data -1 (Documentation/admin-guide/perf-security.rst).
      const int needed = context.tracepoint ? -1 : context.system_wide ? 0 : 1;
      return absl::PermissionDeniedError(
          absl::StrCat(what, ": permission denied (kernel.perf_event_paranoid is ", paranoid,
                       "; this needs ", needed,
                       " or lower); run as root, give dprof CAP_PERFMON, or run: sysctl "
                       "kernel.perf_event_paranoid=",
                       needed));
    }
    case ESRCH:
      return absl::NotFoundError(absl::StrCat(what, ": the process is gone"));
    case ENOENT:
    case ENODEV:
    case EOPNOTSUPP:
      return absl::UnimplementedError(
          absl::StrCat(what, ": not supported by this kernel or machine (", strerror(err), ")"));
    case ENOSYS:
      return absl::UnimplementedError(
          absl::StrCat(what,
                       ": perf_event_open is not available (the kernel lacks "
                       "CONFIG_PERF_EVENTS, or a seccomp profile forbids it)"));
    case EMFILE:
    case ENFILE:
      return absl::ResourceExhaustedError(absl::StrCat(
          what, ": too many open files; raise the limit (ulimit -n) or record fewer threads"));
    case EINVAL:
      return absl::InvalidArgumentError(
          absl::StrCat(what,
                       ": the kernel rejected its settings (EINVAL); check the frequency against "
                       "kernel.perf_event_max_sample_rate and the stack size (at most ",
                       unwind::kMaxStackCopy, ")"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", strerror(err)));
}

absl::Status MapError(int err, size_t bytes) {
  if (err == EPERM || err == ENOMEM) {
    rlimit limit{};
    getrlimit(RLIMIT_MEMLOCK, &limit);
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot map a ", bytes / 1024,
        " KiB ring buffer: over the locked-memory limit "
        "(kernel.perf_event_mlock_kb is ",
        ReadSysctl("kernel/perf_event_mlock_kb", 516), " KiB per CPU, RLIMIT_MEMLOCK is ",
        limit.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                        : absl::StrCat(limit.rlim_cur / 1024, " KiB"),
        "); use smaller buffers, raise the limit (ulimit -l, or sysctl "
        "kernel.perf_event_mlock_kb), or run as root"));
  }
  return absl::InternalError(
      absl::StrCat("cannot map a ", bytes / 1024, " KiB ring buffer: ", strerror(err)));
}

absl::Status CheckFrequency(uint64_t frequency) {
  const int64_t max = ReadSysctl("kernel/perf_event_max_sample_rate", 100000);
  if (frequency == 0) {
    return absl::InvalidArgumentError("the sampling frequency must be at least 1 Hz");
  }
  if (static_cast<int64_t>(frequency) > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "frequency ", frequency, " Hz is above the kernel's maximum of ", max,
        " Hz (kernel.perf_event_max_sample_rate); use -F ", max,
        " or lower, or raise it with: sysctl kernel.perf_event_max_sample_rate=", frequency));
  }
  return absl::OkStatus();
}

}  // namespace dprof::tracer::internal
