// dprof::sync — a mutex and a condition variable that clang's thread-safety analysis checks and
// ThreadSanitizer sees.
//
// libstdc++'s std::mutex is not an annotated capability, so `ABSL_GUARDED_BY(mu)` on a
// std::mutex is checked by nothing; absl::Mutex is, but Debian's libabsl is not built with
// ThreadSanitizer, which then cannot see its ordering. Mutex is a std::mutex declared a
// capability: clang (-Wthread-safety, scripts/test.sh's thread-safety build) checks every
// ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED and ABSL_LOCKS_EXCLUDED against it, and TSan
// sees the std::mutex underneath.
//
// Example:
//   sync::Mutex mu;
//   sync::CondVar ready;
//   bool done ABSL_GUARDED_BY(mu) = false;
//   {
//     sync::MutexLock lock(&mu);
//     while (!done) ready.Wait(&mu);  // the predicate is read holding mu, so it is checked
//   }
//
// Context: any thread; not async-signal-safe.
#ifndef DPROF_SYNC_MUTEX_H_
#define DPROF_SYNC_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace dprof::sync {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  // Tells the analysis that the calling thread holds this mutex (checked by nothing at run time):
  // for code the analysis cannot follow, such as a callback run with the lock held.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

// A condition variable waited on with a Mutex held. Waits return spuriously: callers loop on
// their condition, which they read holding the mutex.
class CondVar {
 public:
  // Releases `mu`, waits for a notification, and holds `mu` again on return.
  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // still held: the caller's
  }
  // The same, returning after `timeout` at most: false when it passed.
  bool WaitFor(Mutex* mu, std::chrono::nanoseconds timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool notified = cv_.wait_for(lock, timeout) == std::cv_status::no_timeout;
    lock.release();
    return notified;
  }
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace dprof::sync

#endif  // DPROF_SYNC_MUTEX_H_
