#include "dprof/continuous/delivery.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dprof/continuous/http_client.h"

namespace dprof::continuous {

absl::StatusOr<std::unique_ptr<Delivery>> Delivery::Create(Options options) {
  std::unique_ptr<Delivery> d(new Delivery(std::move(options)));
  if (!d->options_.spool_dir.empty()) {
    absl::StatusOr<std::unique_ptr<Spool>> spool =
        Spool::Open(d->options_.spool_dir, d->options_.spool_max_bytes);
    if (!spool.ok()) return spool.status();
    if ((*spool)->size() > 0 && d->options_.notice) {
      d->options_.notice(
          absl::StrCat((*spool)->size(), " profiles an earlier run could not send to ",
                       d->options_.name, " are sent first (", d->options_.spool_dir, ")"));
    }
    sync::MutexLock lock(&d->mu_);
    d->spool_ = *std::move(spool);
    d->CountSpoolDrops();  // past a smaller bound than the last run's
  }
  d->sender_ = std::thread([raw = d.get()] { raw->SenderLoop(); });
  return d;
}

Delivery::~Delivery() {
  if (!closed_) Close(std::chrono::milliseconds(0));
}

void Delivery::Tell(const std::string& cause, std::string text) {
  if (told_.insert(cause).second) notices_.push_back(std::move(text));
}

void Delivery::FlushNotices() {
  std::vector<std::string> notices;
  {
    sync::MutexLock lock(&mu_);
    notices.swap(notices_);
  }
  if (!options_.notice) return;
  for (const std::string& n : notices) options_.notice(n);
}

void Delivery::CountSpoolDrops() {
  const uint64_t dropped = spool_->dropped() + spool_->unreadable();
  counters_.spool_dropped += dropped - spool_seen_dropped_;
  spool_seen_dropped_ = dropped;
}

void Delivery::Spill(const Outgoing& request, uint64_t DeliveryCounters::*without_spool) {
  if (spool_ != nullptr) {
    const absl::Status s = spool_->Put(request);
    CountSpoolDrops();
    if (s.ok()) {
      ++counters_.spooled;
      return;
    }
    Tell("spool", absl::StrCat("cannot spool ", request.what, ": ", s.message()));
  }
  ++(counters_.*without_spool);
}

void Delivery::Push(Outgoing request) {
  {
    sync::MutexLock lock(&mu_);
    ++counters_.pushed;
    if (queue_.size() >= std::max<size_t>(options_.queue_max, 1)) {
      Spill(queue_.front(), &DeliveryCounters::overflow);
      queue_.pop_front();
    }
    queue_.push_back(std::move(request));
    changed_.NotifyAll();
  }
  FlushNotices();
}

std::chrono::milliseconds Delivery::Send(const Outgoing& r, std::chrono::milliseconds backoff,
                                         std::chrono::milliseconds timeout) {
  HttpRequest request{.url = r.url,
                      .headers = r.headers,
                      .body = r.body,
                      .timeout = timeout,
                      .user_password = options_.user_password};
  if (!options_.tenant.empty()) request.headers.push_back("X-Scope-OrgID: " + options_.tenant);
  if (!options_.bearer_token.empty()) {
    request.headers.push_back("Authorization: Bearer " + options_.bearer_token);
  }
  const absl::StatusOr<HttpResponse> response = HttpPost(request);
  std::chrono::milliseconds wait{0};
  {
    sync::MutexLock lock(&mu_);
    if (response.ok() && response->status / 100 == 2) {
      ++counters_.sent;
      counters_.bytes_sent += r.body.size();
      return wait;
    }
    const bool unusable = !response.ok() && absl::IsInvalidArgument(response.status());
    if (!unusable && (!response.ok() || response->status == 429 || response->status / 100 == 5)) {
      ++counters_.retries;
      // Jitter: agents that failed together do not retry together.
      absl::BitGen random;
      wait = std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(backoff.count()) *
                                                            absl::Uniform(random, 0.75, 1.25)));
      if (response.ok() && response->retry_after.has_value()) {
        wait = std::max<std::chrono::milliseconds>(wait, *response->retry_after);
      }
      wait = std::max(wait, std::chrono::milliseconds(1));
      if (response.ok()) {
        Tell(absl::StrCat("status ", response->status),
             absl::StrCat(options_.name, " answered ", response->status, "; retrying"));
      } else {
        Tell("no answer", absl::StrCat(options_.name, " did not answer (",
                                       response.status().message(), "); retrying"));
      }
    } else {
      ++counters_.rejected;
      if (unusable) {
        Tell("unusable", absl::StrCat("cannot send to ", options_.name, ": ",
                                      response.status().message(), "; such profiles are dropped"));
      } else {
        Tell(absl::StrCat("refused ", response->status),
             absl::StrCat(options_.name, " refused ", r.what, " with ", response->status, ": ",
                          response->body.substr(0, 200), "; such profiles are dropped"));
      }
    }
  }
  return wait;
}

void Delivery::SenderLoop() {
  pthread_setname_np(pthread_self(), "dprof-push");
  std::chrono::milliseconds backoff = options_.backoff_min;
  std::optional<Outgoing> current;
  bool from_spool = false;  // `current` is the spool's oldest, still on disk
  int attempts = 0;
  for (;;) {
    std::chrono::milliseconds timeout = options_.timeout;
    {
      sync::MutexLock lock(&mu_);
      auto spooled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return spool_ != nullptr && spool_->size() > 0;
      };
      while (!current && queue_.empty() && !spooled() && !closing_) changed_.Wait(&mu_);
      const auto now = std::chrono::steady_clock::now();
      if (closing_ && now >= deadline_) break;
      if (!current && spooled()) {
        // What waited on disk is older than anything queued.
        current = spool_->Oldest();
        CountSpoolDrops();
        if (!current) continue;
        if (!absl::StartsWith(current->url, options_.base_url)) {
          // Spooled for a backend given before: not for this one, nor with its credentials.
          spool_->RemoveOldest();
          ++counters_.spool_dropped;
          Tell("foreign", absl::StrCat("spooled profiles for another URL than ", options_.base_url,
                                       " are dropped (", current->url.substr(0, 100), ")"));
          current.reset();
          continue;
        }
        from_spool = true;
        attempts = 0;
        ++counters_.from_spool;
      } else if (!current) {
        if (queue_.empty()) break;  // closing, and nothing left
        current = std::move(queue_.front());
        queue_.pop_front();
        from_spool = false;
        attempts = 0;
      }
      if (closing_) {
        timeout = std::min(
            timeout,
            std::max(std::chrono::milliseconds(1),
                     std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now)));
      }
    }
    FlushNotices();
    const std::chrono::milliseconds wait = Send(*current, backoff, timeout);
    FlushNotices();
    if (wait.count() == 0) {
      sync::MutexLock lock(&mu_);
      if (from_spool) spool_->RemoveOldest();  // delivered or given up
      current.reset();
      backoff = options_.backoff_min;
      continue;
    }
    backoff = std::min(backoff * 2, options_.backoff_max);
    sync::MutexLock lock(&mu_);
    if (++attempts >= options_.max_attempts && spool_ != nullptr) {
      // To the spool's end: one the backend never takes does not hold up the others.
      if (from_spool) {  // it only moves within the spool
        spool_->RemoveOldest();
        const absl::Status s = spool_->Put(*current);
        CountSpoolDrops();
        if (!s.ok()) {
          ++counters_.unsent;
          Tell("spool", absl::StrCat("cannot spool ", current->what, ": ", s.message()));
        }
      } else {
        Spill(*current, &DeliveryCounters::unsent);
      }
      current.reset();
    }
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {  // Close() cuts the wait short at its deadline
      const auto end = closing_ ? std::min(until, deadline_) : until;
      const auto now = std::chrono::steady_clock::now();
      if (now >= end) break;
      changed_.WaitFor(&mu_, end - now);
    }
  }
  // Closing: what could not be sent waits on disk for the next run (a spooled one is there).
  {
    sync::MutexLock lock(&mu_);
    if (current && !from_spool) Spill(*current, &DeliveryCounters::unsent);
    for (const Outgoing& r : queue_) Spill(r, &DeliveryCounters::unsent);
    queue_.clear();
  }
  FlushNotices();
}

void Delivery::Close(std::chrono::milliseconds deadline) {
  if (closed_) return;
  closed_ = true;
  {
    sync::MutexLock lock(&mu_);
    closing_ = true;
    deadline_ = std::chrono::steady_clock::now() + deadline;
    changed_.NotifyAll();
  }
  if (sender_.joinable()) sender_.join();
}

DeliveryCounters Delivery::counters() const {
  sync::MutexLock lock(&mu_);
  return counters_;
}

}  // namespace dprof::continuous
