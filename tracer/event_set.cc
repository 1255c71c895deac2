#include "tracer/internal/event_set.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "tracer/internal/cgroup.h"
#include "tracer/internal/perf_errors.h"
#include "tracer/internal/process.h"

namespace dprof::tracer::internal {

EventSet::~EventSet() {
  for (auto& [cpu, b] : buffers_) backend_->Unmap(b.base, b.bytes);
  for (int fd : fds_) backend_->Close(fd);
}

absl::Status EventSet::AttachBuffer(int fd, int cpu) {
  auto it = buffers_.find(cpu);
  if (it != buffers_.end()) {
    const int r = backend_->Ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, it->second.fd);
    if (r < 0) {
      return absl::InternalError(
          absl::StrCat("cannot share a ring buffer (SET_OUTPUT): ", strerror(-r)));
    }
    return absl::OkStatus();
  }
  const size_t page = options_.page_size;
  Buffer b{.fd = fd, .base = nullptr, .bytes = page + settings_.data_bytes, .ring = nullptr};
  if (const int r = backend_->Map(fd, b.bytes, &b.base); r < 0) {
    return MapError(-r, settings_.data_bytes);
  }
  b.ring = std::make_unique<RingBuffer>(b.base, page, settings_.data_bytes);
  buffers_.emplace(cpu, std::move(b));
  if (const int r = backend_->Watch(fd); r < 0) {
    return absl::InternalError(absl::StrCat("cannot watch a ring buffer: ", strerror(-r)));
  }
  return absl::OkStatus();
}

absl::Status EventSet::OpenOn(pid_t pid, int cpu, bool inherit, unsigned long flags, bool* gone) {
  *gone = false;
  for (size_t i = 0; i < specs_->size(); ++i) {
    const EventSpec& spec = (*specs_)[i];
    perf_event_attr attr = MakeAttr(spec, i == 0, settings_);
    attr.inherit = inherit;
    attr.enable_on_exec = options_.enable_on_exec;
    int fd = backend_->Open(attr, pid, cpu, -1, flags);
    if (fd == -EINVAL && attr.build_id) {
      settings_.build_ids = false;  // before Linux 5.12: MMAP2 records carry inode numbers
      attr.build_id = 0;
      fd = backend_->Open(attr, pid, cpu, -1, flags);
    }
    if (fd == -ESRCH) {
      *gone = true;
      return absl::OkStatus();
    }
    if (fd < 0) {
      return OpenError(-fd, {.event = spec.name,
                             .system_wide = options_.system_wide,
                             .tracepoint = spec.tracepoint.has_value()});
    }
    fds_.push_back(fd);
    uint64_t id = 0;
    if (const int r = backend_->Ioctl(fd, PERF_EVENT_IOC_ID, reinterpret_cast<uintptr_t>(&id));
        r < 0) {
      return absl::InternalError(absl::StrCat("cannot read an event's id: ", strerror(-r)));
    }
    if (!ids_.Add(id, static_cast<uint32_t>(i),
                  {.sample_type = attr.sample_type, .regs_user_mask = attr.sample_regs_user})) {
      return absl::InternalError(
          absl::StrCat("event '", spec.name, "' asks for sample fields dprof cannot parse"));
    }
    if (absl::Status s = AttachBuffer(fd, cpu); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status EventSet::OpenThreadsOf(pid_t pid, bool whole_process,
                                     const absl::flat_hash_set<uint32_t>& excluded) {
  // Threads created after their creator's events were opened inherit them; threads created
  // between listing and opening are caught by listing again until nothing new turns up.
  absl::flat_hash_set<pid_t> opened;
  bool any = false;
  for (int pass = 0; pass < 8; ++pass) {
    std::vector<pid_t> tids = whole_process ? ListThreads(pid) : std::vector{pid};
    bool added = false;
    for (pid_t tid : tids) {
      if (excluded.contains(static_cast<uint32_t>(tid)) || !opened.insert(tid).second) continue;
      added = true;
      for (int cpu : options_.cpus) {
        bool gone = false;
        if (absl::Status s = OpenOn(tid, cpu, whole_process, 0, &gone); !s.ok()) return s;
        if (gone) break;
        any = true;
      }
    }
    if (!added || !whole_process) break;
  }
  if (!any) {
    return absl::NotFoundError(
        absl::StrCat(whole_process ? "process " : "thread ", pid,
                     " exited before recording started; record a short-lived program "
                     "by launching it instead (dprof record -- CMD)"));
  }
  return absl::OkStatus();
}

absl::Status EventSet::OpenSystemWide(const std::string& cgroup) {
  int cgroup_fd = -1;
  unsigned long flags = 0;
  if (!cgroup.empty()) {
    absl::StatusOr<std::string> path = CgroupPath(cgroup);
    if (!path.ok()) return path.status();
    cgroup_fd = open(path->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgroup_fd < 0) {
      return absl::NotFoundError(absl::StrCat("cannot open cgroup ", *path, ": ", strerror(errno),
                                              "; give a cgroup directory (ls ", *path, "/..)"));
    }
    flags = PERF_FLAG_PID_CGROUP;
  }
  absl::Status status;
  for (int cpu : options_.cpus) {
    bool gone = false;
    status = OpenOn(cgroup_fd, cpu, false, flags, &gone);
    if (!status.ok()) break;
  }
  if (cgroup_fd >= 0) close(cgroup_fd);
  return status;
}

absl::Status EventSet::EnableAll() {
  for (int fd : fds_) {
    if (const int r = backend_->Ioctl(fd, PERF_EVENT_IOC_ENABLE, 0); r < 0) {
      return absl::InternalError(absl::StrCat("cannot enable an event: ", strerror(-r)));
    }
  }
  return absl::OkStatus();
}

void EventSet::Read(absl::FunctionRef<void(std::span<const uint8_t>)> fn) {
  for (auto& [cpu, b] : buffers_) b.ring->Read(fn);
}

uint64_t EventSet::corrupt_bytes() const {
  uint64_t n = 0;
  for (const auto& [cpu, b] : buffers_) n += b.ring->stats().corrupt_bytes;
  return n;
}

}  // namespace dprof::tracer::internal
