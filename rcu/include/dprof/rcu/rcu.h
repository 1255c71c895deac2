// dprof::rcu — read-copy-update for dprof's lock-free structures.
//
// dprof does not hand-roll RCU. This is a thin layer over liburcu's "bulletproof" flavor (urcu-bp):
// readers are whatever threads call into dprof (samplers, unwinder workers, report code, an
// embedder's own threads), and urcu-bp registers each thread on its first read-side section, so no
// caller ever has to. With sys_membarrier (Linux 4.14+) a read-side section costs two thread-local
// stores and compiler barriers; grace periods pay for it instead.
//
// What this layer adds:
//  - ReadLock, a scoped read-side critical section (nests).
//  - ThreadSanitizer annotations. TSan cannot see the ordering liburcu creates (membarrier and
//    fences inside an uninstrumented library), so every read-side unlock releases, and every
//    completed grace period acquires, one shared sync address. Reads inside a section therefore
//    happen-before whatever a writer does after the next grace period, as RCU guarantees, and real
//    races in dprof's own code still show.
//  - GracePeriodTracker (grace_period.h): polled grace-period state, which liburcu 0.13 lacks.
//
// fork(): liburcu's call_rcu thread does not exist in a child process. A child that execs at once
// (how dprof launches a command) is unaffected. A child that goes on using dprof's RCU structures
// must bracket fork() with liburcu's urcu_bp_before_fork(), urcu_bp_after_fork_parent() /
// urcu_bp_after_fork_child() and the call_rcu equivalents (see urcu/urcu-bp.h); otherwise freed
// depot records never become reusable and a depot's destructor waits forever.
//
// Example:
//   // Reader, any thread:
//   {
//     dprof::rcu::ReadLock rcu;
//     Node* n = head.load(std::memory_order_acquire);  // pairs with the writer's release store
//     Use(*n);
//   }
//   // Writer, after unlinking n from every place a new reader could find it:
//   dprof::rcu::Synchronize();
//   delete n;
#ifndef DPROF_RCU_RCU_H_
#define DPROF_RCU_RCU_H_

namespace dprof::rcu {

// A read-side critical section for the lifetime of the object. Memory reachable from RCU-protected
// pointers loaded inside it is not reused until it ends.
//
// Context: any thread; nests; never blocks. The first section on a thread registers the thread with
// liburcu (allocates), so the first use on a thread is not async-signal-safe; later ones are.
class ReadLock {
 public:
  ReadLock();
  ~ReadLock();
  ReadLock(const ReadLock&) = delete;
  ReadLock& operator=(const ReadLock&) = delete;
};

// Waits until every read-side section that began before the call has ended.
// Context: may block for a grace period; never call it inside a ReadLock (it would wait for
// itself) or from an RCU callback.
void Synchronize();

// True when the calling thread is inside a ReadLock. For assertions.
bool InReadSection();

}  // namespace dprof::rcu

#endif  // DPROF_RCU_RCU_H_
