// Fakes for the deferred unwinder's tests: an unwinder whose result is a function of the snapshot
// and which can hold the workers at a gate, and task contexts for kernel- and user-mode events.
#ifndef DPROF_TESTS_UNWIND_DEFERRED_UNWINDER_TESTING_H_
#define DPROF_TESTS_UNWIND_DEFERRED_UNWINDER_TESTING_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "dprof/unwind/deferred_unwinder.h"

namespace dprof::testing {

// Blocks callers of Wait() until Open().
class Gate {
 public:
  explicit Gate(bool open) : open_(open) {}
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    opened_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    opened_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable opened_;
  bool open_;
};

// "Unwinds" to {ip, sp, stack bytes, tid}: the same snapshot always gives the same trace, and
// different ones differ.
class FakeUnwinder final : public unwind::Unwinder {
 public:
  explicit FakeUnwinder(Gate* gate = nullptr) : gate_(gate) {}
  unwind::UnwindResult Unwind(const unwind::Snapshot& s, std::span<uint64_t> pcs) override {
    calls_.fetch_add(1);
    if (gate_ != nullptr) gate_->Wait();
    const uint64_t trace[] = {s.regs.ip(), s.regs.sp(), s.stack.size(), s.tid};
    const size_t n = std::min(pcs.size(), std::size(trace));
    std::copy(trace, trace + n, pcs.begin());
    return {n, unwind::StopReason::kOutermost};
  }
  std::string_view name() const override { return "fake"; }
  int calls() const { return calls_.load(); }

 private:
  Gate* gate_;
  std::atomic<int> calls_{0};
};

// An event of task `tid` with user registers ip/sp and a small copied stack.
inline unwind::TaskContext Event(uint32_t tid, uint64_t ip, bool user_mode,
                                 const std::vector<uint8_t>& stack, uint32_t cpu = 0) {
  unwind::TaskContext c;
  c.pid = 100;
  c.tid = tid;
  c.cpu = cpu;
  c.user_mode = user_mode;
  c.regs.Set(unwind::kRip, ip);
  c.regs.Set(unwind::kRsp, 0x7ffd0000);
  c.regs.Set(unwind::kRbp, 0x7ffd0040);
  c.stack_address = 0x7ffd0000;
  c.stack = stack;
  return c;
}

}  // namespace dprof::testing

#endif  // DPROF_TESTS_UNWIND_DEFERRED_UNWINDER_TESTING_H_
