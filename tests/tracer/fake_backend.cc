#include "tests/tracer/fake_backend.h"

#include <errno.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "dprof/tracer/perf_abi.h"

namespace dprof::testing {

FakeBackend::~FakeBackend() {
  for (auto& [fd, ring] : rings_) std::free(ring.base);
}

int FakeBackend::Open(const perf_event_attr& attr, pid_t pid, int cpu, int, unsigned long) {
  if (open_error != 0) return open_error;
  if (pid == gone && gone != 0) return -ESRCH;
  if (attr.build_id && build_id_unknown) return -EINVAL;
  if (tracer::abi::AttrFlag(attr, tracer::abi::kAttrBitDeferCallchain) && !native_deferred) {
    return -EINVAL;  // what kernels before 6.19 say to the unknown bit
  }
  const int fd = next_fd_++;
  events[fd] = {.attr = attr, .pid = pid, .cpu = cpu, .id = 5000 + static_cast<uint64_t>(fd)};
  return fd;
}

int FakeBackend::Map(int fd, size_t bytes, void** address) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // aligned_alloc wants a multiple of the alignment.
  void* p = std::aligned_alloc(page, (bytes + page - 1) / page * page);
  if (p == nullptr) return -ENOMEM;
  std::memset(p, 0, bytes);
  rings_[fd] = {static_cast<uint8_t*>(p), bytes};
  *address = p;
  return 0;
}

void FakeBackend::Unmap(void* address, size_t) {
  for (auto it = rings_.begin(); it != rings_.end(); ++it) {
    if (it->second.base == address) {
      std::free(address);
      rings_.erase(it);
      return;
    }
  }
}

int FakeBackend::Ioctl(int fd, unsigned long request, unsigned long arg) {
  auto it = events.find(fd);
  if (it == events.end()) return -EBADF;
  if (request == PERF_EVENT_IOC_ID) {
    *reinterpret_cast<uint64_t*>(arg) = it->second.id;
  } else if (request == PERF_EVENT_IOC_SET_OUTPUT) {
    it->second.output = static_cast<int>(arg);
  } else if (request == PERF_EVENT_IOC_ENABLE) {
    it->second.enabled = true;
  }
  return 0;
}

void FakeBackend::Close(int fd) { events.erase(fd); }

void FakeBackend::Write(int fd, std::span<const uint8_t> bytes) {
  Ring& ring = rings_.at(fd);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t size = ring.bytes - page;
  uint8_t* data = ring.base + page;
  for (size_t i = 0; i < bytes.size(); ++i) data[(ring.head + i) % size] = bytes[i];
  ring.head += bytes.size();
  auto* meta = reinterpret_cast<perf_event_mmap_page*>(ring.base);
  std::atomic_ref<__u64>(meta->data_head).store(ring.head, std::memory_order_release);
}

int FakeBackend::BufferOf(int cpu) const {
  for (const auto& [fd, ring] : rings_) {
    if (events.at(fd).cpu == cpu) return fd;
  }
  return -1;
}

uint64_t FakeBackend::IdOf(uint64_t config, int cpu) const {
  for (const auto& [fd, e] : events) {
    if (e.attr.config == config && e.cpu == cpu) return e.id;
  }
  return 0;
}

}  // namespace dprof::testing
