// dprof::tracer::PerfBackend — every system call the tracer makes, behind one interface.
//
// The system backend calls the kernel; tests substitute a fake that hands out memory for ring
// buffers and lets them write hand-built records into it, so ring-buffer and record logic runs
// without privileges or a kernel that supports the feature under test.
//
// Errors are returned as negative errno values: the tracer turns them into messages that name the
// fix (perf_event_paranoid, the mlock limit, the maximum sample rate), which needs the errno.
//
// Context: the tracer calls its backend from one thread at a time (Create, then Start and Run on
// the reader thread; RequestStop() does not use it), so a fake need not be thread-safe. The system
// backend's only state is the epoll fd it makes when created, and each method is one system call:
// any method from any thread, Watch() and Close() while another thread is in Wait() included.
// None allocates or locks, but POSIX names only Close() and NowNs() async-signal-safe, and each
// may change errno. MakeSystemBackend() allocates.
#ifndef DPROF_TRACER_BACKEND_H_
#define DPROF_TRACER_BACKEND_H_

#include <linux/perf_event.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace dprof::tracer {

class PerfBackend {
 public:
  virtual ~PerfBackend() = default;

  // perf_event_open(2): the new fd, or -errno.
  virtual int Open(const perf_event_attr& attr, pid_t pid, int cpu, int group_fd,
                   unsigned long flags) = 0;
  // Maps the ring buffer of `fd`: one metadata page and then the data pages, `bytes` in all,
  // readable and writable (the reader writes data_tail). 0, or -errno.
  virtual int Map(int fd, size_t bytes, void** address) = 0;
  virtual void Unmap(void* address, size_t bytes) = 0;
  // ioctl(2) on an event fd: 0, or -errno.
  virtual int Ioctl(int fd, unsigned long request, unsigned long arg) = 0;
  virtual void Close(int fd) = 0;

  // Adds `fd` to the set Wait() watches for readability: 0, or -errno.
  virtual int Watch(int fd) = 0;
  // Waits until a watched fd is readable or `timeout_ms` passes. The number of ready fds, 0 on
  // timeout, or -errno (-EINTR when a signal arrived).
  virtual int Wait(int timeout_ms) = 0;

  // Now, on the clock the events are stamped with (CLOCK_MONOTONIC).
  virtual uint64_t NowNs() = 0;
};

// The real thing: perf_event_open, mmap, ioctl, epoll, clock_gettime.
std::unique_ptr<PerfBackend> MakeSystemBackend();

}  // namespace dprof::tracer

#endif  // DPROF_TRACER_BACKEND_H_
