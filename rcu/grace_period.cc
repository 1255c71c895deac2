#include "dprof/rcu/grace_period.h"

#include <unistd.h>
#include <urcu/urcu-bp.h>

#include <cassert>
#include <cstddef>

#include "dprof/rcu/rcu.h"
#include "dprof/sync/mutex.h"
#include "rcu/internal/tsan.h"

namespace dprof::rcu {
namespace {

// Sequence comparison modulo 2^32: true when `a` is at or after `b`.
bool SeqAtOrAfter(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }

// Relaxed: a thread id, read for its value only.
std::atomic<pid_t> callback_thread{0};

}  // namespace

pid_t CallbackThread() { return callback_thread.load(std::memory_order_relaxed); }

struct GracePeriodTracker::Callback {
  rcu_head head;  // first member: liburcu hands back &head
  GracePeriodTracker* tracker;
};

GracePeriodTracker::GracePeriodTracker() : callback_(new Callback{{}, this}) {}

GracePeriodTracker::~GracePeriodTracker() {
  // Inside a read-side section urcu_bp_barrier() returns at once, and the loop below would spin.
  assert(!InReadSection() && "a GracePeriodTracker must not be destroyed inside a ReadLock");
  {
    sync::MutexLock lock(&mu_);
    if (!ever_queued_) return;
  }
  // urcu_bp_barrier() returns once every callback queued before it has returned. The callback only
  // rearms while requested_ is ahead and nobody calls Start() any more, so the chain ends. The
  // last callback may have been queued (by its predecessor) after a barrier began and cleared
  // in_flight_ before we look; one more barrier after the loop waits until it has returned.
  for (;;) {
    urcu_bp_barrier();
    sync::MutexLock lock(&mu_);
    if (!in_flight_) break;
  }
  urcu_bp_barrier();
}

GracePeriodTracker::State GracePeriodTracker::Start() {
  sync::MutexLock lock(&mu_);
  const State completed = completed_.load(std::memory_order_relaxed);
  if (!in_flight_) {
    requested_ = completed + 1;
    QueueLocked();
    return requested_;
  }
  // The in-flight callback completes completed + 1, but its grace period may have begun before the
  // caller's unlink. The one after it is queued by that callback, under mu_, after this call.
  requested_ = completed + 2;
  return requested_;
}

bool GracePeriodTracker::Poll(State state) const {
  // Acquire; pairs with the release store in OnGracePeriod(). TSan follows that edge too, so the
  // grace-period annotation made there reaches the caller.
  return SeqAtOrAfter(completed_.load(std::memory_order_acquire), state);
}

void GracePeriodTracker::Wait(State state) {
  sync::MutexLock lock(&mu_);
  while (!Poll(state)) advanced_.Wait(&mu_);
}

void GracePeriodTracker::QueueLocked() {
  in_flight_ = true;
  ever_queued_ = true;
  // liburcu's queue is invisible to TSan: release here, acquire in OnGracePeriod().
  internal::TsanRelease(callback_.get());
  urcu_bp_call_rcu(&callback_->head,
                   [](rcu_head* head) { OnGracePeriod(reinterpret_cast<Callback*>(head)); });
}

void GracePeriodTracker::OnGracePeriod(Callback* callback) {
  static_assert(offsetof(Callback, head) == 0, "QueueLocked() casts the rcu_head back");
  internal::TsanAcquire(callback);
  internal::AnnotateGracePeriodEnded();
  callback_thread.store(gettid(), std::memory_order_relaxed);
  GracePeriodTracker* self = callback->tracker;
  sync::MutexLock lock(&self->mu_);
  const State done = self->completed_.load(std::memory_order_relaxed) + 1;
  // Release; pairs with the acquire load in Poll().
  self->completed_.store(done, std::memory_order_release);
  self->advanced_.NotifyAll();
  if (SeqAtOrAfter(done, self->requested_)) {
    self->in_flight_ = false;
  } else {
    self->QueueLocked();
  }
}

}  // namespace dprof::rcu
