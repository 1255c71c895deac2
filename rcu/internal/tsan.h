// ThreadSanitizer annotations for liburcu's ordering (see rcu.h). No-ops in other builds.
#ifndef DPROF_RCU_INTERNAL_TSAN_H_
#define DPROF_RCU_INTERNAL_TSAN_H_

#if defined(__SANITIZE_THREAD__)
#define DPROF_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DPROF_TSAN 1
#endif
#endif

#ifdef DPROF_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace dprof::rcu::internal {

#ifdef DPROF_TSAN
// The one address every read-side unlock releases and every grace period acquires.
inline char tsan_grace_period_sync;

inline void TsanRelease(void* addr) { __tsan_release(addr); }
inline void TsanAcquire(void* addr) { __tsan_acquire(addr); }
#else
inline void TsanRelease(void*) {}
inline void TsanAcquire(void*) {}
#endif

// Called just before a read-side section ends: everything the section read happens-before the end
// of the next grace period. Pairs with AnnotateGracePeriodEnded().
inline void AnnotateReadUnlock() {
#ifdef DPROF_TSAN
  TsanRelease(&tsan_grace_period_sync);
#endif
}

// Called once a grace period has completed. Pairs with AnnotateReadUnlock(). It over-approximates:
// it also collects sections that began after the grace period did, so TSan may miss a read of
// freed memory by a thread that later leaves another section. ASan's poisoning of reclaimed
// records (stackdepot/internal/asan.h) covers that case.
inline void AnnotateGracePeriodEnded() {
#ifdef DPROF_TSAN
  TsanAcquire(&tsan_grace_period_sync);
#endif
}

}  // namespace dprof::rcu::internal

#endif  // DPROF_RCU_INTERNAL_TSAN_H_
