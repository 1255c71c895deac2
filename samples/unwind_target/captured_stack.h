// The file samples/unwind_target writes and the unwinder tests and benchmarks read: a real user
// stack captured by the program itself at a known point, with the return addresses an unwinder
// must find. Header-only so the sample needs nothing from dprof.
//
// Layout (native byte order): "DPCS" u32 version | u32 pid | u32 tid | u64 regs[17] (DWARF order) |
// u64 stack_address | u64 n + n stack bytes | u64 n + n u64 expected return addresses |
// u64 n + n bytes of /proc/self/maps
#ifndef DPROF_SAMPLES_UNWIND_TARGET_CAPTURED_STACK_H_
#define DPROF_SAMPLES_UNWIND_TARGET_CAPTURED_STACK_H_

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace dprof::samples {

struct CapturedStack {
  static constexpr uint32_t kVersion = 1;
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t regs[17] = {};
  uint64_t stack_address = 0;
  std::vector<uint8_t> stack;
  // Return addresses from the capturing function's caller outward, through main's caller.
  std::vector<uint64_t> expected;
  std::string maps;

  bool Write(const char* path) const {
    std::FILE* f = std::fopen(path, "wb");
    if (f == nullptr) return false;
    bool ok = std::fwrite("DPCS", 4, 1, f) == 1;
    auto put = [&](const void* p, size_t n) {
      ok = ok && (n == 0 || std::fwrite(p, n, 1, f) == 1);
    };
    auto put_vector = [&](const void* p, uint64_t count, size_t size) {
      put(&count, sizeof(count));
      put(p, count * size);
    };
    put(&kVersion, sizeof(kVersion));
    put(&pid, sizeof(pid));
    put(&tid, sizeof(tid));
    put(regs, sizeof(regs));
    put(&stack_address, sizeof(stack_address));
    put_vector(stack.data(), stack.size(), 1);
    put_vector(expected.data(), expected.size(), sizeof(uint64_t));
    put_vector(maps.data(), maps.size(), 1);
    return std::fclose(f) == 0 && ok;
  }

  static std::optional<CapturedStack> Read(const char* path) {
    std::FILE* f = std::fopen(path, "rb");
    if (f == nullptr) return std::nullopt;
    CapturedStack s;
    char magic[4];
    uint32_t version = 0;
    bool ok = std::fread(magic, 4, 1, f) == 1 && std::memcmp(magic, "DPCS", 4) == 0;
    auto get = [&](void* p, size_t n) { ok = ok && (n == 0 || std::fread(p, n, 1, f) == 1); };
    auto get_count = [&](uint64_t limit) {
      uint64_t count = 0;
      get(&count, sizeof(count));
      ok = ok && count <= limit;
      return ok ? count : 0;
    };
    get(&version, sizeof(version));
    ok = ok && version == kVersion;
    get(&s.pid, sizeof(s.pid));
    get(&s.tid, sizeof(s.tid));
    get(s.regs, sizeof(s.regs));
    get(&s.stack_address, sizeof(s.stack_address));
    s.stack.resize(get_count(uint64_t{64} << 20));
    get(s.stack.data(), s.stack.size());
    s.expected.resize(get_count(1 << 20));
    get(s.expected.data(), s.expected.size() * sizeof(uint64_t));
    s.maps.resize(get_count(uint64_t{64} << 20));
    get(s.maps.data(), s.maps.size());
    std::fclose(f);
    if (!ok) return std::nullopt;
    return s;
  }
};

}  // namespace dprof::samples

#endif  // DPROF_SAMPLES_UNWIND_TARGET_CAPTURED_STACK_H_
