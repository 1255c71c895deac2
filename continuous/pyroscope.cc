#include "dprof/continuous/pyroscope.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dprof::continuous {

std::string PercentEncode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out += c;
    } else {
      absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string PyroscopeName(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '{' || c == '}' || c == ',' || c == '=' || c == '"' ||
        absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      c = '_';
    }
  }
  return out;
}

std::string PyroscopeIngestUrl(std::string_view base, const PyroscopeSeries& series) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  std::string name = PyroscopeName(series.service);
  if (!series.labels.empty()) {
    name += '{';
    bool first = true;
    for (const auto& [key, value] : series.labels) {
      absl::StrAppend(&name, first ? "" : ",", PyroscopeName(key), "=", PyroscopeName(value));
      first = false;
    }
    name += '}';
  }
  std::string url = absl::StrCat(absl::string_view(base.data(), base.size()),
                                 "/ingest?name=", PercentEncode(name), "&from=", series.from_unix_s,
                                 "&until=", series.until_unix_s, "&format=pprof&spyName=dprof");
  if (series.sample_rate != 0) absl::StrAppend(&url, "&sampleRate=", series.sample_rate);
  return url;
}

Outgoing PyroscopeRequest(std::string_view base, const PyroscopeSeries& series, std::string pprof) {
  return Outgoing{.url = PyroscopeIngestUrl(base, series),
                  .headers = {"Content-Type: application/octet-stream"},
                  .body = std::move(pprof),
                  .what = absl::StrCat("a profile of ", series.service)};
}

}  // namespace dprof::continuous
