// dprof::rcu::GracePeriodTracker — polled grace-period state on top of call_rcu().
//
// A lock-free structure that unlinks an object must not reuse its memory until every reader that
// might still see it is gone: until a grace period that began after the unlink has completed. The
// kernel answers "has it?" with get_state_synchronize_rcu()/poll_state_synchronize_rcu(); liburcu
// 0.13 has no such API. This tracker builds it the way the kernel's rcu_pending does: one rearming
// call_rcu() callback advances a sequence number, and an object is stamped with the sequence that
// must complete before it may be reused.
//
//   State s = tracker.Start();  // after unlinking: stamp the object with s
//   ...
//   if (tracker.Poll(s)) Reuse(object);   // never blocks
//
// Sequence numbers are 32 bits and compared modulo 2^32. Start() returns at most two ahead of the
// completed sequence, so wrap-around can only make Poll() answer "not yet" late, never "done"
// early.
#ifndef DPROF_RCU_GRACE_PERIOD_H_
#define DPROF_RCU_GRACE_PERIOD_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "dprof/sync/mutex.h"

namespace dprof::rcu {

// The thread liburcu runs call_rcu() callbacks on, once a tracker's callback has run there; 0
// before. A profiler of its own process leaves it out with its other threads.
// Context: any thread.
pid_t CallbackThread();

class GracePeriodTracker {
 public:
  using State = uint32_t;

  GracePeriodTracker();
  // Waits for the tracker's in-flight callback. Context: may block; not inside a ReadLock, not
  // concurrently with Start().
  ~GracePeriodTracker();
  GracePeriodTracker(const GracePeriodTracker&) = delete;
  GracePeriodTracker& operator=(const GracePeriodTracker&) = delete;

  // Returns the state to stamp an object with when it has just been unlinked: Poll() on it turns
  // true once a full grace period has elapsed after this call. Starts a grace period if none is
  // pending. Context: any thread, inside or outside a ReadLock; takes an internal lock; never waits
  // for a grace period.
  State Start() ABSL_LOCKS_EXCLUDED(mu_);

  // True once the grace period `state` names has completed. Context: any thread; lock-free,
  // wait-free. Acquire; pairs with the release in the callback that advances the sequence.
  bool Poll(State state) const;

  // Blocks until Poll(state) is true. `state` must come from Start(): nothing else is sure to
  // complete. Context: may block; never inside a ReadLock.
  void Wait(State state) ABSL_LOCKS_EXCLUDED(mu_);

  // The last completed sequence number.
  State completed() const { return completed_.load(std::memory_order_acquire); }

 private:
  struct Callback;  // the rcu_head handed to liburcu, defined in grace_period.cc

  static void OnGracePeriod(Callback* callback);
  void QueueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Written only under mu_ (by the callback); read lock-free by Poll().
  std::atomic<State> completed_{0};
  // std::mutex, not absl::Mutex: Debian's libabsl is not built with ThreadSanitizer, so TSan cannot
  // see its locking; it does see pthread's.
  sync::Mutex mu_;
  sync::CondVar advanced_;
  // The highest sequence anyone asked for; the callback rearms until completed_ reaches it.
  State requested_ ABSL_GUARDED_BY(mu_) = 0;
  // A callback is queued with liburcu; it will complete sequence completed_ + 1.
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // Whether a callback was ever queued: if not, destruction need not wait for one.
  bool ever_queued_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<Callback> callback_;
};

}  // namespace dprof::rcu

#endif  // DPROF_RCU_GRACE_PERIOD_H_
