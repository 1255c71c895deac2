#include "tracer/internal/signal_capture.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace dprof::tracer::internal {
namespace {

// The session the handler serves, and the handlers running. The handler counts itself in
// (seq_cst) before it loads the session (seq_cst); Uninstall() clears the session (seq_cst) before
// it reads the count (seq_cst): in the single total order, a handler that saw the session was
// counted before the clear, so Uninstall() waits for it.
std::atomic<CaptureSession*> g_session{nullptr};
std::atomic<int> g_running{0};
// Tells sessions apart, so a timer's sigev_value from an earlier session never names a slot.
std::atomic<uint32_t> g_generations{0};

constexpr uint64_t kPage = 4096;
constexpr size_t kMaxPieces = 65536 / kPage + 2;

// Copies up to `size` bytes of the stack above `sp` into `out`: one remote piece per page, so a
// read that runs into an unmapped page (the top of the stack) stops there with what it got
// instead of failing whole. Returns the bytes copied.
uint32_t CopyStack(pid_t pid, uint64_t sp, uint8_t* out, uint32_t size) {
  iovec remote[kMaxPieces];
  size_t pieces = 0;
  uint64_t at = sp;
  const uint64_t end = sp + size;
  while (at < end && pieces < kMaxPieces) {
    const uint64_t next = std::min(end, (at & ~(kPage - 1)) + kPage);
    remote[pieces++] = {reinterpret_cast<void*>(at), static_cast<size_t>(next - at)};
    at = next;
  }
  iovec local = {out, static_cast<size_t>(at - sp)};
  const ssize_t n = process_vm_readv(pid, &local, 1, remote, pieces, 0);
  return n > 0 ? static_cast<uint32_t>(n) : 0;
}

void RegistersFrom(const void* ucontext, unwind::Registers* regs) {
#if defined(__x86_64__)
  const greg_t* g = static_cast<const ucontext_t*>(ucontext)->uc_mcontext.gregs;
  struct Pair {
    int dwarf;
    int greg;
  };
  static constexpr Pair kMap[] = {
      {unwind::kRax, REG_RAX}, {unwind::kRdx, REG_RDX}, {unwind::kRcx, REG_RCX},
      {unwind::kRbx, REG_RBX}, {unwind::kRsi, REG_RSI}, {unwind::kRdi, REG_RDI},
      {unwind::kRbp, REG_RBP}, {unwind::kRsp, REG_RSP}, {unwind::kR8, REG_R8},
      {unwind::kR9, REG_R9},   {unwind::kR10, REG_R10}, {unwind::kR11, REG_R11},
      {unwind::kR12, REG_R12}, {unwind::kR13, REG_R13}, {unwind::kR14, REG_R14},
      {unwind::kR15, REG_R15}, {unwind::kRip, REG_RIP},
  };
  for (const Pair& p : kMap) regs->Set(p.dwarf, static_cast<uint64_t>(g[p.greg]));
#else
  (void)ucontext;
  (void)regs;
#endif
}

}  // namespace

clockid_t ThreadCpuClock(pid_t tid) {
  // The kernel's encoding of a thread's CPU clock (MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)),
  // what pthread_getcpuclockid() returns for a pthread_t.
  return static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
}

CaptureSession::CaptureSession(size_t max_slots, uint32_t stack_size, size_t buffers_per_slot,
                               int wake_fd, cookie::CookieAllocator* cookies)
    : generation_(g_generations.fetch_add(1, std::memory_order_relaxed) + 1),
      stack_size_(stack_size),
      buffers_per_slot_(std::max<size_t>(buffers_per_slot, 2)),
      pid_(getpid()),
      wake_fd_(wake_fd),
      cookies_(cookies),
      table_(new std::atomic<ThreadSlot*>[max_slots]),
      max_slots_(max_slots) {
  for (size_t i = 0; i < max_slots; ++i) table_[i].store(nullptr, std::memory_order_relaxed);
  for (size_t i = max_slots; i > 0; --i) free_indices_.push_back(i - 1);
}

CaptureSession::~CaptureSession() { Uninstall(); }

absl::Status CaptureSession::Install(int signo) {
#if !defined(__x86_64__)
  return absl::UnimplementedError("timer sampling reads x86-64 registers only so far");
#endif
  struct sigaction current = {};
  if (sigaction(signo, nullptr, &current) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("signal ", signo, " cannot be caught"));
  }
  const bool has_handler = (current.sa_flags & SA_SIGINFO) != 0
                               ? current.sa_sigaction != nullptr
                               : current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN;
  if (has_handler) {
    return absl::FailedPreconditionError(
        absl::StrCat("signal ", signo, " (", strsignal(signo),
                     ") already has a handler in this process (another profiler?); choose a "
                     "free signal for dprof's timers (the profiler's signal option)"));
  }
  CaptureSession* none = nullptr;
  if (!g_session.compare_exchange_strong(none, this, std::memory_order_seq_cst)) {
    return absl::FailedPreconditionError(
        "another dprof profiler is already sampling this process with timers; stop it first");
  }
  struct sigaction action = {};
  action.sa_sigaction = &CaptureSession::Handler;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  // Nothing interrupts the handler: a handler of another signal that never returned (siglongjmp,
  // thread cancellation) would leave it counted as running, and Uninstall() waiting.
  sigfillset(&action.sa_mask);
  if (sigaction(signo, &action, &previous_) != 0) {
    g_session.store(nullptr, std::memory_order_seq_cst);
    return absl::InternalError(
        absl::StrCat("cannot install the sampling signal's handler: ", strerror(errno)));
  }
  signo_ = signo;
  installed_ = true;
  return absl::OkStatus();
}

void CaptureSession::Uninstall() {
  if (!installed_) return;
  installed_ = false;
  for (ThreadSlot* slot : in_use_) {
    if (slot->armed) timer_delete(slot->timer);
    slot->armed = false;
  }
  // Ignoring the signal discards any still pending; a handler already under way finds no session
  // or is waited for.
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(signo_, &ignore, nullptr);
  g_session.store(nullptr, std::memory_order_seq_cst);
  while (g_running.load(std::memory_order_seq_cst) != 0) sched_yield();
  // Ours (now ignoring) is replaced; a handler the program installed meanwhile is left alone.
  struct sigaction current = {};
  sigaction(signo_, nullptr, &current);
  if ((current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_IGN) {
    sigaction(signo_, &previous_, nullptr);
  }
}

ThreadSlot* CaptureSession::AddSlot(pid_t tid, uint64_t period_ns, int* error) {
  *error = 0;
  if (!installed_) {
    *error = EPERM;
    return nullptr;
  }
  if (free_indices_.empty()) {
    *error = ENOSPC;
    return nullptr;
  }
  const size_t index = free_indices_.back();
  if (index >= owned_.size()) owned_.resize(index + 1);
  std::unique_ptr<ThreadSlot>& slot = owned_[index];
  if (slot == nullptr) {
    slot = std::make_unique<ThreadSlot>();
    slot->index = index;
    slot->buffers = buffers_per_slot_;
    slot->arena.reset(new uint8_t[buffers_per_slot_ * stack_size_]);
    slot->samples.reset(new CapturedSample[buffers_per_slot_]);
    for (size_t i = 0; i < buffers_per_slot_; ++i) {
      slot->samples[i].stack = slot->arena.get() + i * stack_size_;
    }
  }
  slot->tid = tid;
  slot->next = 0;
  for (size_t i = 0; i < slot->buffers; ++i) {
    slot->samples[i].state.store(CapturedSample::kFree, std::memory_order_relaxed);
  }
  slot->dropped.store(0, std::memory_order_relaxed);

  sigevent event = {};
  event.sigev_notify = SIGEV_THREAD_ID;
  event.sigev_signo = signo_;
  event._sigev_un._tid = tid;
  event.sigev_value.sival_ptr =
      reinterpret_cast<void*>((static_cast<uintptr_t>(generation_) << 32) | index);
  if (timer_create(ThreadCpuClock(tid), &event, &slot->timer) != 0) {
    *error = errno;
    return nullptr;
  }
  // Published before the timer runs: release, paired with the handler's acquire load.
  table_[index].store(slot.get(), std::memory_order_release);
  const timespec period = {.tv_sec = static_cast<time_t>(period_ns / 1'000'000'000),
                           .tv_nsec = static_cast<long>(period_ns % 1'000'000'000)};
  const itimerspec spec = {.it_interval = period, .it_value = period};
  if (timer_settime(slot->timer, 0, &spec, nullptr) != 0) {
    *error = errno;
    table_[index].store(nullptr, std::memory_order_release);
    timer_delete(slot->timer);
    return nullptr;
  }
  slot->armed = true;
  free_indices_.pop_back();
  in_use_.push_back(slot.get());
  return slot.get();
}

void CaptureSession::RemoveSlot(ThreadSlot* slot) {
  if (slot->armed) timer_delete(slot->timer);
  slot->armed = false;
  // The thread is gone, so no handler of it runs; the slot may serve another thread at once.
  // Acquire; pairs with the release half of every finished handler's fetch_sub on g_running (a
  // release sequence of read-modify-writes): the last handler of the gone thread read and wrote
  // the slot (next, its buffers) before AddSlot() starts it afresh for another thread.
  (void)g_running.load(std::memory_order_acquire);
  table_[slot->index].store(nullptr, std::memory_order_release);
  in_use_.erase(std::find(in_use_.begin(), in_use_.end(), slot));
  free_indices_.push_back(slot->index);
}

bool CaptureSession::ThreadAlive(const ThreadSlot& slot) {
  // A CPU-time timer whose thread exited is disarmed: nothing left to expire.
  itimerspec left = {};
  if (timer_gettime(slot.timer, &left) != 0) return false;
  return left.it_value.tv_sec != 0 || left.it_value.tv_nsec != 0;
}

void CaptureSession::Handler(int /*signo*/, siginfo_t* info, void* ucontext) {
  const int saved_errno = errno;
  g_running.fetch_add(1, std::memory_order_seq_cst);
  CaptureSession* session = g_session.load(std::memory_order_seq_cst);
  if (session != nullptr && info != nullptr && info->si_code == SI_TIMER) {
    const auto value = reinterpret_cast<uintptr_t>(info->si_value.sival_ptr);
    const auto generation = static_cast<uint32_t>(value >> 32);
    const size_t index = static_cast<uint32_t>(value);
    if (generation == session->generation_ && index < session->max_slots_) {
      // Acquire; pairs with the release store in AddSlot().
      ThreadSlot* slot = session->table_[index].load(std::memory_order_acquire);
      if (slot != nullptr) session->Capture(*slot, ucontext);
    }
  }
  g_running.fetch_sub(1, std::memory_order_seq_cst);
  errno = saved_errno;
}

void CaptureSession::Capture(ThreadSlot& slot, const void* ucontext) {
  CapturedSample& c = slot.samples[slot.next % slot.buffers];
  // Acquire; pairs with the reader's release store of kFree, after which it no longer reads the
  // buffer.
  if (c.state.load(std::memory_order_acquire) != CapturedSample::kFree) {
    slot.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  c.time_ns = event::MonotonicNs();
  const int cpu = sched_getcpu();
  c.cpu = cpu < 0 ? 0 : static_cast<uint32_t>(cpu);
  c.cookie = cookies_->NextOn(c.cpu);
  const int overruns = timer_getoverrun(slot.timer);
  c.overruns = overruns > 0 ? static_cast<uint32_t>(overruns) : 0;
  c.regs = {};
  RegistersFrom(ucontext, &c.regs);
  c.stack_bytes = CopyStack(pid_, c.regs.sp(), c.stack, stack_size_);
  // Release; pairs with the reader's acquire load: the fields above are written before it reads.
  c.state.store(CapturedSample::kReady, std::memory_order_release);
  ++slot.next;
  // Half the buffers waiting: wake the reader rather than let the thread drop samples.
  if (wake_fd_ >= 0 && slot.next % (slot.buffers / 2) == 0) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

}  // namespace dprof::tracer::internal
