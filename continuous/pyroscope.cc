#include "dprof/continuous/pyroscope.h"

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

std::string PyroscopeIngestUrl(std::string_view base, const PyroscopeSeries& series) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  std::string name = series.service;
  if (!series.labels.empty()) {
    name += '{';
    bool first = true;
    for (const auto& [key, value] : series.labels) {
      absl::StrAppend(&name, first ? "" : ",", key, "=", value);
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

}  // namespace dprof::continuous
