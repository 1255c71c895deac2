// The PerfBackend that calls the kernel.
#include <errno.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <array>

#include "dprof/tracer/backend.h"

namespace dprof::tracer {
namespace {

class SystemBackend final : public PerfBackend {
 public:
  SystemBackend() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {}
  ~SystemBackend() override {
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

  int Open(const perf_event_attr& attr, pid_t pid, int cpu, int group_fd,
           unsigned long flags) override {
    const long fd =
        syscall(SYS_perf_event_open, &attr, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : static_cast<int>(fd);
  }

  int Map(int fd, size_t bytes, void** address) override {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -errno;
    *address = p;
    return 0;
  }

  void Unmap(void* address, size_t bytes) override { munmap(address, bytes); }

  int Ioctl(int fd, unsigned long request, unsigned long arg) override {
    return ioctl(fd, request, arg) < 0 ? -errno : 0;
  }

  void Close(int fd) override { close(fd); }

  int Watch(int fd) override {
    if (epoll_fd_ < 0) return -EBADF;
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
  }

  int Wait(int timeout_ms) override {
    if (epoll_fd_ < 0) return -EBADF;
    std::array<epoll_event, 64> events;
    const int n = epoll_wait(epoll_fd_, events.data(), events.size(), timeout_ms);
    return n < 0 ? -errno : n;
  }

  uint64_t NowNs() override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }

 private:
  int epoll_fd_;
};

}  // namespace

std::unique_ptr<PerfBackend> MakeSystemBackend() { return std::make_unique<SystemBackend>(); }

}  // namespace dprof::tracer
