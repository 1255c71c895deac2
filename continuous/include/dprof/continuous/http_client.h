// dprof::continuous::HttpPost — one HTTP POST through libcurl (TLS, proxies from the environment
// as curl reads them, redirects not followed), with a whole-request timeout.
//
// Example:
//   absl::StatusOr<HttpResponse> r = HttpPost({.url = "http://127.0.0.1:4040/ingest?...",
//                                               .headers = {"Content-Type:
//                                               application/octet-stream"}, .body = pprof});
//   if (r.ok() && r->status / 100 == 2) { /* delivered */ }
//
// Context: any thread, concurrently (each call has its own handle; no signals are used).
#ifndef DPROF_CONTINUOUS_HTTP_CLIENT_H_
#define DPROF_CONTINUOUS_HTTP_CLIENT_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dprof::continuous {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers = {};  // "Name: value"
  std::string body = {};
  std::chrono::milliseconds timeout{10000};
  std::string user_password = {};  // "user:password" for Basic authentication; empty: none
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;  // a Retry-After header in seconds
};

// The server's answer, whatever its status; Unavailable (with curl's reason) when none came: no
// connection, a timeout, a TLS failure. InvalidArgument for a URL curl cannot use.
absl::StatusOr<HttpResponse> HttpPost(const HttpRequest& request);

}  // namespace dprof::continuous

#endif  // DPROF_CONTINUOUS_HTTP_CLIENT_H_
