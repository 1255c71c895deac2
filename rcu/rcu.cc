#include "dprof/rcu/rcu.h"

#include <urcu/urcu-bp.h>

#include "rcu/internal/tsan.h"

namespace dprof::rcu {

ReadLock::ReadLock() { urcu_bp_read_lock(); }

ReadLock::~ReadLock() {
  internal::AnnotateReadUnlock();
  urcu_bp_read_unlock();
}

void Synchronize() {
  urcu_bp_synchronize_rcu();
  internal::AnnotateGracePeriodEnded();
}

bool InReadSection() { return urcu_bp_read_ongoing() != 0; }

}  // namespace dprof::rcu
