#include "dprof/continuous/delivery.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dprof/continuous/http_client.h"
#include "dprof/continuous/pyroscope.h"

namespace dprof::continuous {

absl::StatusOr<std::unique_ptr<Delivery>> Delivery::Create(Options options) {
  const std::string& url = options.pyroscope_url;
  if (!url.empty() && !absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("the Pyroscope URL '", url, "' is not http:// or https://"));
  }
  std::unique_ptr<Delivery> d(new Delivery(std::move(options)));
  if (!d->options_.output_dir.empty()) {
    absl::StatusOr<std::unique_ptr<OutputDir>> dir =
        OutputDir::Open(d->options_.output_dir, d->options_.output_limits);
    if (!dir.ok()) return dir.status();
    d->output_dir_ = *std::move(dir);
  }
  if (!d->options_.pyroscope_url.empty()) {
    d->sender_ = std::thread([raw = d.get()] { raw->SenderLoop(); });
  }
  return d;
}

Delivery::~Delivery() {
  if (!closed_) Close(std::chrono::milliseconds(0));
}

void Delivery::Notice(std::string_view text) {
  if (options_.notice) options_.notice(text);
}

void Delivery::Push(WindowProfile profile) {
  if (output_dir_ != nullptr) {
    const absl::Status s =
        output_dir_->Write(profile.service, profile.start_unix_ns, profile.pprof);
    bool tell = false;
    {
      sync::MutexLock lock(&mu_);
      ++(s.ok() ? counters_.written : counters_.write_errors);
      tell = !s.ok() && told_.insert(absl::StrCat("write ", s.code())).second;
    }
    if (tell) Notice(absl::StrCat("cannot write a profile: ", s.message()));
  }
  sync::MutexLock lock(&mu_);
  ++counters_.pushed;
  if (!sender_.joinable()) return;
  if (queue_.size() >= std::max<size_t>(options_.queue_max, 1)) {
    queue_.pop_front();
    ++counters_.overflow;
  }
  queue_.push_back({next_seq_++, std::move(profile)});
  changed_.NotifyAll();
}

void Delivery::Done(uint64_t seq) {
  if (!queue_.empty() && queue_.front().seq == seq) queue_.pop_front();
}

std::chrono::milliseconds Delivery::Send(const Queued& queued, std::chrono::milliseconds backoff) {
  const WindowProfile& p = queued.profile;
  std::map<std::string, std::string> labels = options_.labels;
  const HttpRequest request{
      .url = PyroscopeIngestUrl(options_.pyroscope_url,
                                {.service = p.service,
                                 .labels = std::move(labels),
                                 .from_unix_s = p.start_unix_ns / 1'000'000'000,
                                 .until_unix_s = p.end_unix_ns / 1'000'000'000,  // windows tile
                                 .sample_rate = options_.sample_rate}),
      .headers =
          [&] {
            std::vector<std::string> h = {"Content-Type: application/octet-stream"};
            if (!options_.tenant.empty()) h.push_back("X-Scope-OrgID: " + options_.tenant);
            if (!options_.bearer_token.empty()) {
              h.push_back("Authorization: Bearer " + options_.bearer_token);
            }
            return h;
          }(),
      .body = p.pprof,
      .timeout = options_.timeout,
      .user_password = options_.user_password};
  const absl::StatusOr<HttpResponse> response = HttpPost(request);
  std::string cause;
  std::chrono::milliseconds wait{0};
  {
    sync::MutexLock lock(&mu_);
    if (response.ok() && response->status / 100 == 2) {
      ++counters_.sent;
      counters_.bytes_sent += p.pprof.size();
      Done(queued.seq);
      return wait;
    }
    const bool again = !response.ok() || response->status == 429 || response->status / 100 == 5;
    if (again) {
      ++counters_.retries;
      // Jitter: a quarter either way, so that agents that failed together do not retry together.
      absl::BitGen random;
      wait = std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(backoff.count()) *
                                                            absl::Uniform(random, 0.75, 1.25)));
      if (response.ok() && response->retry_after.has_value()) {
        wait = std::max<std::chrono::milliseconds>(wait, *response->retry_after);
      }
      cause = response.ok() ? absl::StrCat("Pyroscope answered ", response->status, "; retrying")
                            : absl::StrCat("Pyroscope did not answer (",
                                           response.status().message(), "); retrying");
    } else {
      ++counters_.rejected;
      Done(queued.seq);
      cause = absl::StrCat("Pyroscope refused a profile of ", p.service, " with ", response->status,
                           ": ", response->body.substr(0, 200), "; such profiles are dropped");
    }
    if (!told_.insert(cause).second) cause.clear();
  }
  if (!cause.empty()) Notice(cause);
  return wait;
}

void Delivery::SenderLoop() {
  pthread_setname_np(pthread_self(), "dprof-push");
  std::chrono::milliseconds backoff = options_.backoff_min;
  for (;;) {
    Queued head;
    {
      sync::MutexLock lock(&mu_);
      while (queue_.empty() && !closing_) changed_.Wait(&mu_);
      if (queue_.empty()) return;
      if (closing_ && std::chrono::steady_clock::now() >= deadline_) {
        counters_.unsent += queue_.size();
        queue_.clear();
        return;
      }
      head = queue_.front();  // a copy: Push() may drop the head while this one is sent
    }
    const std::chrono::milliseconds wait = Send(head, backoff);
    if (wait.count() == 0) {
      backoff = options_.backoff_min;
      continue;
    }
    backoff = std::min(backoff * 2, options_.backoff_max);
    sync::MutexLock lock(&mu_);
    const auto until = std::chrono::steady_clock::now() + wait;
    // Close() cuts a wait short at its deadline.
    while (std::chrono::steady_clock::now() < until) {
      const auto end = closing_ ? std::min(until, deadline_) : until;
      if (std::chrono::steady_clock::now() >= end) break;
      changed_.WaitFor(&mu_, end - std::chrono::steady_clock::now());
    }
  }
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
