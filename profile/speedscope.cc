#include "dprof/profile/speedscope.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "profile/internal/json.h"

namespace dprof::profile {

void WriteSpeedscope(const View& p, const std::string& name, std::ostream& out) {
  using internal::AppendJsonString;
  std::string json = R"({"$schema":"https://www.speedscope.app/file-format-schema.json",)";
  json += R"("exporter":"dprof","name":)";
  AppendJsonString(json, name);
  json += R"(,"activeProfileIndex":0,"shared":{"frames":[)";
  for (size_t i = 0; i < p.frames().size(); ++i) {
    const View::Frame& f = p.frames()[i];
    json += i == 0 ? "{\"name\":" : ",{\"name\":";
    AppendJsonString(json, f.name);
    if (!f.file.empty()) {
      json += ",\"file\":";
      AppendJsonString(json, f.file);
      if (f.line != 0) absl::StrAppend(&json, ",\"line\":", f.line);
    }
    json += '}';
  }
  json += R"(]},"profiles":[{"type":"sampled","name":)";
  AppendJsonString(json, name);
  json += p.unit() == WeightUnit::kCount ? R"(,"unit":"none")" : R"(,"unit":"nanoseconds")";
  absl::StrAppend(&json, ",\"startValue\":0,\"endValue\":", p.total_weight(), ",\"samples\":[");
  for (size_t i = 0; i < p.stacks().size(); ++i) {
    json += i == 0 ? "[" : ",[";
    const std::vector<uint32_t>& frames = p.stacks()[i].frames;
    for (size_t j = 0; j < frames.size(); ++j) absl::StrAppend(&json, j == 0 ? "" : ",", frames[j]);
    json += ']';
  }
  json += "],\"weights\":[";
  for (size_t i = 0; i < p.stacks().size(); ++i) {
    absl::StrAppend(&json, i == 0 ? "" : ",", p.stacks()[i].weight);
  }
  json += "]}]}\n";
  out << json;
}

}  // namespace dprof::profile
