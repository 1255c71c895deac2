// dprof::continuous::PyroscopeIngestUrl — where Grafana Pyroscope takes one pprof profile: its
// ingest API, `POST BASE/ingest?name=SERVICE{k=v,...}&from=..&until=..&format=pprof&...` with the
// gzipped pprof as the body (Content-Type application/octet-stream). Pyroscope makes the name
// before the braces its service_name label and keeps the others as labels of the series; `from`
// and `until` are Unix seconds. In multi-tenant mode the X-Scope-OrgID header names the tenant.
//
// Example:
//   delivery->Push(PyroscopeRequest(url, series, std::move(pprof)));
//   PyroscopeIngestUrl("http://pyroscope:4040", {.service = "nginx", .labels = {{"host_name",
//       "web1"}}, .from_unix_s = 1700000000, .until_unix_s = 1700000010, .sample_rate = 99})
//   // http://pyroscope:4040/ingest?name=nginx%7Bhost_name%3Dweb1%7D&from=1700000000&...
//
// Context: a pure function.
#ifndef DPROF_CONTINUOUS_PYROSCOPE_H_
#define DPROF_CONTINUOUS_PYROSCOPE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "dprof/continuous/outgoing.h"

namespace dprof::continuous {

struct PyroscopeSeries {
  std::string service;
  std::map<std::string, std::string> labels = {};
  uint64_t from_unix_s = 0;
  uint64_t until_unix_s = 0;
  uint64_t sample_rate = 0;  // Hz; 0: left out
};

std::string PyroscopeIngestUrl(std::string_view base, const PyroscopeSeries& series);

// The request that delivers one gzipped pprof of `series`.
Outgoing PyroscopeRequest(std::string_view base, const PyroscopeSeries& series, std::string pprof);

// `text` as a part of a series name: the characters of its syntax ({ } , = ") and control
// characters replaced by '_' (a program may name its threads anything).
std::string PyroscopeName(std::string_view text);

// `text` with every byte but unreserved ones (RFC 3986: letters, digits, - . _ ~) as %XX.
std::string PercentEncode(std::string_view text);

}  // namespace dprof::continuous

#endif  // DPROF_CONTINUOUS_PYROSCOPE_H_
