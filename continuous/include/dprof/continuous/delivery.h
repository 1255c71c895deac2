// dprof::continuous::Delivery — requests (one profile each) delivered to one backend without
// blocking the profiler: a thread of its own sends them, one at a time, oldest first.
//
// Pushed requests wait in a bounded memory queue; past Options::queue_max the oldest moves to the
// spool (Options::spool_dir), or without one is dropped, counted. The sender takes the spool's
// requests first (those an earlier run could not send, too), then the queue's; a spooled request
// for another URL than Options::base_url (the backend changed since) is dropped, counted, never
// sent with this backend's credentials. A 2xx delivers a request. No answer (the backend down, a
// timeout), 429 or 5xx keep it and try again after a backoff that doubles from
// Options::backoff_min up to backoff_max, with a quarter of jitter either way, or after the
// Retry-After the server asked for, if longer; after Options::max_attempts the request goes to the
// spool's end, so that one the backend never takes does not hold up the others. Any other answer
// (400: the backend refuses it), or a URL curl cannot use, drops it, counted. Each cause is told
// once through Options::notice. Close() sends for at most its deadline (a request under way is
// cut short at it), then spools what is left (or counts it as unsent). Credentials (Bearer,
// Basic, the tenant) are added as each request is sent, so the spool never holds them.
//
// Example:
//   auto pyroscope = Delivery::Create({.name = "Pyroscope", .tenant = "team-a"}).value();
//   pyroscope->Push(PyroscopeRequest(url, series, pprof));
//   pyroscope->Close(std::chrono::seconds(10));
//
// Context: Push() and counters() from any thread; Close() once, from one thread. `notice` runs on
// the sender thread, Push()'s or Create()'s, never under the delivery's lock.
#ifndef DPROF_CONTINUOUS_DELIVERY_H_
#define DPROF_CONTINUOUS_DELIVERY_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "dprof/continuous/outgoing.h"
#include "dprof/continuous/spool.h"
#include "dprof/sync/mutex.h"

namespace dprof::continuous {

struct DeliveryCounters {
  uint64_t pushed = 0;         // requests handed to Push()
  uint64_t sent = 0;           // delivered (2xx)
  uint64_t retries = 0;        // attempts to be tried again
  uint64_t rejected = 0;       // dropped: the backend refused them (a status other than 429, 5xx)
  uint64_t overflow = 0;       // dropped: the queue was full and there is no spool
  uint64_t spooled = 0;        // moved to the spool (the queue full, or left at Close())
  uint64_t from_spool = 0;     // taken back from the spool to be sent
  uint64_t spool_dropped = 0;  // removed from the spool: past its bound, unreadable, or for
                               // another URL
  uint64_t unsent = 0;         // dropped: left at Close() with no spool, or not spooled
  uint64_t bytes_sent = 0;
};

class Delivery {
 public:
  struct Options {
    std::string name = "the backend";  // in messages: "Pyroscope", "OTLP"
    std::string base_url = {};         // every request's URL starts with it
    std::string tenant = {};           // X-Scope-OrgID; empty: none
    std::string bearer_token = {};     // Authorization: Bearer; empty: none
    std::string user_password = {};    // "user:password" for Basic; empty: none
    size_t queue_max = 64;
    std::string spool_dir = {};  // empty: no spool
    uint64_t spool_max_bytes = uint64_t{256} << 20;
    std::chrono::milliseconds timeout{10000};  // per request
    std::chrono::milliseconds backoff_min{500};
    std::chrono::milliseconds backoff_max{60000};
    int max_attempts = 8;  // of one request before it goes to the spool's end
    std::function<void(std::string_view)> notice = nullptr;
  };

  // FailedPrecondition naming the spool directory when it cannot be used.
  static absl::StatusOr<std::unique_ptr<Delivery>> Create(Options options);
  ~Delivery();  // Close(0) unless closed

  void Push(Outgoing request);
  // Sends for at most `deadline`, then spools what is left and stops the sender. Once.
  void Close(std::chrono::milliseconds deadline);
  DeliveryCounters counters() const;

 private:
  explicit Delivery(Options options) : options_(std::move(options)) {}
  void SenderLoop();
  // One attempt, for at most `timeout`: how long to wait before trying `request` again (0:
  // delivered or dropped).
  std::chrono::milliseconds Send(const Outgoing& request, std::chrono::milliseconds backoff,
                                 std::chrono::milliseconds timeout);
  // Moves `request` to the spool, or counts it in `without_spool`.
  void Spill(const Outgoing& request, uint64_t DeliveryCounters::*without_spool)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the spool's new drops to the counters.
  void CountSpoolDrops() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `text` for the notice, once per `cause`.
  void Tell(const std::string& cause, std::string text) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells what Tell() queued; called without the lock.
  void FlushNotices() ABSL_LOCKS_EXCLUDED(mu_);

  Options options_;
  std::thread sender_;

  mutable sync::Mutex mu_;
  sync::CondVar changed_;
  std::unique_ptr<Spool> spool_ ABSL_GUARDED_BY(mu_);
  // The spool's own drops (bound, unreadable) already added to counters_.spool_dropped.
  uint64_t spool_seen_dropped_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Outgoing> queue_ ABSL_GUARDED_BY(mu_);
  DeliveryCounters counters_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point deadline_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> told_ ABSL_GUARDED_BY(mu_);        // causes already told
  std::vector<std::string> notices_ ABSL_GUARDED_BY(mu_);  // to tell, outside the lock
  bool closed_ = false;
};

}  // namespace dprof::continuous

#endif  // DPROF_CONTINUOUS_DELIVERY_H_
