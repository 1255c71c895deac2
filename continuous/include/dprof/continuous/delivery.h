// dprof::continuous::Delivery — service profiles handed to their destinations without blocking
// the profiler: a directory (written at once) and Grafana Pyroscope (sent by a thread of its own).
//
// Pushed profiles wait in a bounded memory queue, oldest first; past Options::queue_max the oldest
// is dropped and counted. The sender posts each to Pyroscope's ingest API (PyroscopeIngestUrl):
// a 2xx delivers it; no answer (the backend down, a timeout), 429 or 5xx keep it at the head of
// the queue and retry after a backoff that doubles from Options::backoff_min up to backoff_max,
// with jitter (a quarter either way), or after the Retry-After the server asked for; any other
// answer (400: the backend refuses the profile) drops it, counted, and is told once per status
// through Options::notice. Close() sends what is queued until its deadline and counts the rest as
// dropped.
//
// Example:
//   auto delivery = Delivery::Create({.pyroscope_url = "http://127.0.0.1:4040",
//                                     .labels = {{"host_name", "web1"}}}).value();
//   delivery->Push({.service = "nginx", .start_unix_ns = ..., .end_unix_ns = ..., .pprof = ...});
//   delivery->Close(std::chrono::seconds(5));
//
// Context: Push() and counters() from any thread; Close() once, from one thread. `notice` is
// called on the sender thread or Push()'s.
#ifndef DPROF_CONTINUOUS_DELIVERY_H_
#define DPROF_CONTINUOUS_DELIVERY_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "dprof/continuous/output_dir.h"
#include "dprof/sync/mutex.h"

namespace dprof::continuous {

// One service's profile of one window.
struct WindowProfile {
  std::string service;
  uint64_t start_unix_ns = 0;
  uint64_t end_unix_ns = 0;
  std::string pprof;  // gzipped
};

struct DeliveryCounters {
  uint64_t pushed = 0;    // profiles handed to Push()
  uint64_t sent = 0;      // delivered to Pyroscope (2xx)
  uint64_t retries = 0;   // attempts that will be tried again
  uint64_t rejected = 0;  // dropped: the backend refused them (4xx but 429)
  uint64_t overflow = 0;  // dropped: the queue was full
  uint64_t unsent = 0;    // dropped: still queued when Close()'s deadline passed
  uint64_t written = 0;   // files written in the output directory
  uint64_t write_errors = 0;
  uint64_t bytes_sent = 0;
};

class Delivery {
 public:
  struct Options {
    std::string pyroscope_url = {};  // empty: no Pyroscope
    std::string tenant = {};         // X-Scope-OrgID; empty: none
    std::string bearer_token = {};   // Authorization: Bearer; empty: none
    std::string user_password = {};  // "user:password" for Basic; empty: none
    std::map<std::string, std::string> labels = {};
    uint64_t sample_rate = 0;     // Hz, for Pyroscope; 0: not said
    std::string output_dir = {};  // empty: no files
    OutputDir::Limits output_limits = {};
    size_t queue_max = 256;
    std::chrono::milliseconds timeout{10000};  // per request
    std::chrono::milliseconds backoff_min{500};
    std::chrono::milliseconds backoff_max{60000};
    std::function<void(std::string_view)> notice = nullptr;
  };

  // FailedPrecondition when the output directory cannot be used; InvalidArgument for a URL that
  // is not http:// or https://.
  static absl::StatusOr<std::unique_ptr<Delivery>> Create(Options options);
  ~Delivery();  // Close(0) unless closed

  void Push(WindowProfile profile);
  // Sends what is queued for at most `deadline`, then stops the sender. Once.
  void Close(std::chrono::milliseconds deadline);
  DeliveryCounters counters() const;

 private:
  explicit Delivery(Options options) : options_(std::move(options)) {}
  void SenderLoop();
  // One attempt: how long to wait before the next (0: delivered or dropped, go on).
  struct Queued {
    uint64_t seq;
    WindowProfile profile;
  };
  std::chrono::milliseconds Send(const Queued& queued, std::chrono::milliseconds backoff);
  // Takes the queue's head out if it is still `seq` (Push() may have dropped it meanwhile).
  void Done(uint64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notice(std::string_view text);

  Options options_;
  std::unique_ptr<OutputDir> output_dir_;
  std::thread sender_;

  mutable sync::Mutex mu_;
  sync::CondVar changed_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  DeliveryCounters counters_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point deadline_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> told_ ABSL_GUARDED_BY(mu_);  // causes already told
  bool closed_ = false;
};

}  // namespace dprof::continuous

#endif  // DPROF_CONTINUOUS_DELIVERY_H_
