// blocking: a thread that spends known time off the CPU, for off-CPU profiling.
//
//   blocking sleep COUNT MS        COUNT nanosleep()s of MS each, in sleep_once()
//   blocking read COUNT MS         COUNT read()s of a pipe a helper thread feeds every MS,
//                                  in read_once()
//   blocking write MIB             one write() of MIB MiB into a 1 MiB pipe a helper thread
//                                  drains: one syscall that blocks hundreds of times and
//                                  burns kernel CPU between, in write_all()
//
// Prints "tid TID" for the blocking thread (main), and for write also "write START END" (the
// CLOCK_MONOTONIC nanoseconds around the write call).
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

extern "C" __attribute__((noinline)) void sleep_once(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

extern "C" __attribute__((noinline)) void read_once(int fd) {
  char byte;
  while (read(fd, &byte, 1) != 1) {
  }
}

extern "C" __attribute__((noinline)) ssize_t write_all(int fd, const char* data, size_t size) {
  return write(fd, data, size);
}

int Sleep(int count, int ms) {
  for (int i = 0; i < count; ++i) sleep_once(ms);
  return 0;
}

int Read(int count, int ms) {
  int fds[2];
  if (pipe(fds) != 0) return 1;
  std::thread feeder([&] {
    for (int i = 0; i < count; ++i) {
      timespec ts{ms / 1000, (ms % 1000) * 1000000L};
      nanosleep(&ts, nullptr);
      (void)!write(fds[1], "x", 1);
    }
  });
  for (int i = 0; i < count; ++i) read_once(fds[0]);
  feeder.join();
  return 0;
}

int Write(size_t mib) {
  int fds[2];
  if (pipe(fds) != 0) return 1;
  fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
  const size_t size = mib << 20;
  std::vector<char> data(size, 'x');  // touched now, so the write faults nothing in
  std::thread drain([&] {
    std::vector<char> buffer(1 << 20);
    size_t left = size;
    while (left > 0) {
      const ssize_t n = read(fds[0], buffer.data(), buffer.size());
      if (n <= 0) break;
      left -= n;
    }
  });
  const uint64_t start = NowNs();
  const ssize_t written = write_all(fds[1], data.data(), size);
  const uint64_t end = NowNs();
  drain.join();
  std::printf("write %llu %llu\n", static_cast<unsigned long long>(start),
              static_cast<unsigned long long>(end));
  return written == static_cast<ssize_t>(size) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  std::printf("tid %d\n", static_cast<int>(gettid()));
  std::fflush(stdout);
  int rc = 2;
  if (mode == "sleep" && argc == 4) rc = Sleep(std::atoi(argv[2]), std::atoi(argv[3]));
  if (mode == "read" && argc == 4) rc = Read(std::atoi(argv[2]), std::atoi(argv[3]));
  if (mode == "write" && argc == 3) rc = Write(std::strtoull(argv[2], nullptr, 10));
  if (rc == 2) std::fprintf(stderr, "usage: blocking sleep|read COUNT MS | write MIB\n");
  std::fflush(stdout);
  return rc;
}
