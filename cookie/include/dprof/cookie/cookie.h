// dprof::cookie — context cookies: one 64-bit name per kernel entry of a task.
//
// A cookie names the kernel entry an event happened in, so that the user stack of that entry is
// unwound once and every event of the entry (a timer sample, a sched_switch, a syscall
// tracepoint) is stitched to it later. The layout is the kernel's (unwind_deferred, Linux 6.19):
//
//   bits  0..30  CPU the cookie was made on, plus 1   (never 0)
//   bit  31      set in cookies dprof made, clear in the kernel's
//   bits 32..63  that CPU's counter, advanced by 2, low bit forced to 1   (never 0)
//
// so 0 never names a context and cookies from different CPUs never collide. The kernel's own
// cookies (native deferred callchains) are already in this scheme, and its per-CPU counters run
// exactly like dprof's, so bit 31 keeps the two apart when one recording holds both. A CPU's
// counter wraps after 2^31 cookies; at 100,000 kernel entries a second on one CPU that is about
// six hours.
//
// Example:
//   dprof::cookie::CookieAllocator cookies;              // one counter per configured CPU
//   dprof::cookie::Cookie c = cookies.NextOn(event_cpu);  // a new context on that CPU
//   CpuOf(c) == event_cpu;  IsValid(c) == true;  IsDprofMade(c) == true;
#ifndef DPROF_COOKIE_COOKIE_H_
#define DPROF_COOKIE_COOKIE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace dprof::cookie {

using Cookie = uint64_t;
inline constexpr Cookie kNoCookie = 0;

inline constexpr Cookie kDprofMade = Cookie{1} << 31;

// The kernel's cookie for `cpu` and `counter`; dprof's own carry kDprofMade as well.
constexpr Cookie MakeCookie(uint32_t cpu, uint32_t counter) {
  return (static_cast<Cookie>(counter | 1u) << 32) | ((static_cast<Cookie>(cpu) + 1) & 0x7fffffff);
}
// True for every cookie the kernel or dprof can make: a CPU part and an odd counter.
constexpr bool IsValid(Cookie cookie) {
  return (static_cast<uint32_t>(cookie) & 0x7fffffff) != 0 && ((cookie >> 32) & 1) != 0;
}
constexpr bool IsDprofMade(Cookie cookie) { return (cookie & kDprofMade) != 0; }
constexpr uint32_t CpuOf(Cookie cookie) { return (static_cast<uint32_t>(cookie) & 0x7fffffff) - 1; }
constexpr uint32_t CounterOf(Cookie cookie) { return static_cast<uint32_t>(cookie >> 32); }

// One CPU's counter, alone on its cache line so CPUs never share one.
struct alignas(64) CpuCounter {
  std::atomic<uint32_t> value{0};
};

// Hands out cookies from per-CPU counters.
//
// Context: construct it outside signal handlers (the default constructor allocates the counters);
// then Next() and NextOn() may be called from any thread and from signal handlers: allocation is
// one fetch_add (wait-free), with no lock and no memory allocation.
class CookieAllocator {
 public:
  // Returns the calling thread's CPU, or a negative number when it cannot tell.
  using CpuSource = int (*)();

  // One counter per configured CPU (sysconf(_SC_NPROCESSORS_CONF)); the CPU from sched_getcpu().
  CookieAllocator();
  // Counters in storage the caller owns (and keeps alive), and a CPU source of the caller's
  // choosing: for tests, and for memory shared with a signal handler set up in advance.
  CookieAllocator(std::span<CpuCounter> counters, CpuSource cpu_source);
  CookieAllocator(const CookieAllocator&) = delete;
  CookieAllocator& operator=(const CookieAllocator&) = delete;

  // A new cookie on the calling thread's CPU; kNoCookie when the CPU is unknown or beyond the
  // counters.
  Cookie Next();
  // A new cookie on `cpu` (the CPU an event was recorded on); kNoCookie when cpu is beyond the
  // counters.
  Cookie NextOn(uint32_t cpu);

  size_t cpus() const { return counters_.size(); }

 private:
  std::unique_ptr<CpuCounter[]> owned_;
  std::span<CpuCounter> counters_;
  CpuSource cpu_source_;
};

}  // namespace dprof::cookie

#endif  // DPROF_COOKIE_COOKIE_H_
