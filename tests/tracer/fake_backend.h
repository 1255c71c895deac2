// A PerfBackend without a kernel: events get ids, ring buffers are plain memory the test writes
// hand-built records into, and the clock is the test's.
#ifndef DPROF_TESTS_TRACER_FAKE_BACKEND_H_
#define DPROF_TESTS_TRACER_FAKE_BACKEND_H_

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "dprof/tracer/backend.h"

namespace dprof::testing {

class FakeBackend : public tracer::PerfBackend {
 public:
  struct Event {
    perf_event_attr attr;
    pid_t pid;
    int cpu;
    uint64_t id;
    int output = -1;  // SET_OUTPUT target
    bool enabled = false;
  };

  ~FakeBackend() override;

  int Open(const perf_event_attr& attr, pid_t pid, int cpu, int group_fd,
           unsigned long flags) override;
  int Map(int fd, size_t bytes, void** address) override;
  void Unmap(void* address, size_t bytes) override;
  int Ioctl(int fd, unsigned long request, unsigned long arg) override;
  void Close(int fd) override;
  int Watch(int) override { return 0; }
  int Wait(int) override { return 1; }
  uint64_t NowNs() override { return now_ns; }

  // Appends `record` to the ring buffer mapped for `fd` (wrapping around its end) and publishes
  // it by advancing data_head.
  void Write(int fd, std::span<const uint8_t> record);
  // The fd whose buffer `cpu`'s events write into, and an event's id by its config and CPU.
  int BufferOf(int cpu) const;
  uint64_t IdOf(uint64_t config, int cpu) const;

  std::map<int, Event> events;
  uint64_t now_ns = 1'000'000;
  bool native_deferred = false;   // accept perf_event_attr.defer_callchain
  int open_error = 0;             // -errno every Open() returns, when set
  bool build_id_unknown = false;  // EINVAL for attr.build_id, as kernels before 5.12 say
  pid_t gone = 0;                 // ESRCH for this pid: it exited

 private:
  struct Ring {
    uint8_t* base;
    size_t bytes;
    uint64_t head = 0;
  };
  int next_fd_ = 100;
  std::map<int, Ring> rings_;
};

}  // namespace dprof::testing

#endif  // DPROF_TESTS_TRACER_FAKE_BACKEND_H_
