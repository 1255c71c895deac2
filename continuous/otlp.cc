#include "dprof/continuous/otlp.h"

#include <algorithm>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "continuous/internal/otlp_profiles.pb.h"
#include "dprof/profile/gzip.h"
#include "dprof/profile/pprof.h"
#include "dprof/profile/view.h"

namespace dprof::continuous {
namespace {

namespace pb = ::dprof::otlp;

// The request's dictionary, each entry once, every table starting with its zero entry.
class Dictionary {
 public:
  explicit Dictionary(pb::ProfilesDictionary* d) : d_(d) {
    d_->add_mapping_table();
    d_->add_location_table();
    d_->add_function_table();
    d_->add_link_table();
    d_->add_attribute_table();
    d_->add_stack_table();
    String("");
  }

  int32_t String(const std::string& s) {
    auto [it, inserted] = strings_.try_emplace(s, d_->string_table_size());
    if (inserted) d_->add_string_table(s);
    return it->second;
  }

  int32_t Mapping(const std::string& module) {
    if (module.empty()) return 0;
    auto [it, inserted] = mappings_.try_emplace(module, d_->mapping_table_size());
    if (inserted) d_->add_mapping_table()->set_filename_strindex(String(module));
    return it->second;
  }

  int32_t Function(const profile::View::Frame& f) {
    auto [it, inserted] =
        functions_.try_emplace(std::pair(f.name, f.file), d_->function_table_size());
    if (inserted) {
      pb::Function* fn = d_->add_function_table();
      fn->set_name_strindex(String(f.name));
      fn->set_system_name_strindex(String(f.name));
      fn->set_filename_strindex(String(f.file));
    }
    return it->second;
  }

  // A view's location: its module offset and its calls, the innermost first.
  int32_t Location(const profile::View& view, const profile::View::Location& l) {
    std::vector<std::pair<int32_t, int64_t>> lines;
    for (auto f = l.frames.rbegin(); f != l.frames.rend(); ++f) {
      const profile::View::Frame& frame = view.frame(*f);
      lines.emplace_back(Function(frame), frame.line);
    }
    const int32_t mapping = Mapping(l.module);
    auto [it, inserted] =
        locations_.try_emplace(std::tuple(mapping, l.offset, lines), d_->location_table_size());
    if (inserted) {
      pb::Location* location = d_->add_location_table();
      location->set_mapping_index(mapping);
      location->set_address(l.offset);
      for (const auto& [function, line] : lines) {
        pb::Line* out = location->add_lines();
        out->set_function_index(function);
        out->set_line(line);
      }
    }
    return it->second;
  }

  // Location indices, the leaf first.
  int32_t Stack(std::vector<int32_t> locations) {
    auto [it, inserted] = stacks_.try_emplace(std::move(locations), d_->stack_table_size());
    if (inserted) {
      pb::Stack* stack = d_->add_stack_table();
      for (int32_t l : it->first) stack->add_location_indices(l);
    }
    return it->second;
  }

 private:
  pb::ProfilesDictionary* d_;
  absl::flat_hash_map<std::string, int32_t> strings_;
  absl::flat_hash_map<std::string, int32_t> mappings_;
  absl::flat_hash_map<std::pair<std::string, std::string>, int32_t> functions_;
  absl::flat_hash_map<std::tuple<int32_t, uint64_t, std::vector<std::pair<int32_t, int64_t>>>,
                      int32_t>
      locations_;
  absl::flat_hash_map<std::vector<int32_t>, int32_t> stacks_;
};

void SetString(pb::KeyValue* kv, const std::string& key, const std::string& value) {
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

}  // namespace

absl::StatusOr<std::string> OtlpProfilesRequest(const profile::Recording& r,
                                                const OtlpWindow& window) {
  pb::ExportProfilesServiceRequest request;
  Dictionary dict(request.mutable_dictionary());

  for (const auto& [service, pids] : Services(r, window.services)) {
    pb::ScopeProfiles* scope = nullptr;
    // A profile per event: cpu time, off-CPU time and tracepoint hits are never summed.
    for (uint32_t event = 0; event < std::max<size_t>(r.event_names.size(), 1); ++event) {
      const profile::View view =
          profile::View::Build(r, {.events = {event}, .pids = pids, .keep_events = true});
      if (view.total_count() == 0) continue;
      if (scope == nullptr) {
        pb::ResourceProfiles* resource = request.add_resource_profiles();
        SetString(resource->mutable_resource()->add_attributes(), "service.name", service);
        for (const auto& [key, value] : window.attributes) {
          SetString(resource->mutable_resource()->add_attributes(), key, value);
        }
        scope = resource->add_scope_profiles();
        scope->mutable_scope()->set_name("dprof");
        scope->mutable_scope()->set_version(DPROF_VERSION);
      }
      pb::Profile* profile = scope->add_profiles();
      const char* type = "events";
      const char* unit = "count";
      if (view.unit() == profile::WeightUnit::kNanoseconds) {
        type = "cpu";
        unit = "nanoseconds";
      } else if (view.unit() == profile::WeightUnit::kOffCpuNanoseconds) {
        type = "off_cpu";
        unit = "nanoseconds";
      }
      for (pb::ValueType* t : {profile->mutable_sample_type(), profile->mutable_period_type()}) {
        t->set_type_strindex(dict.String(type));
        t->set_unit_strindex(dict.String(unit));
      }
      profile->set_period(profile::SamplePeriod(r, view.unit()));
      profile->set_time_unix_nano(window.start_unix_ns);
      profile->set_duration_nano(window.end_unix_ns - window.start_unix_ns);

      // A sample per distinct stack: each of its events' weight, with the event's time at the
      // same index (the schema pairs values and timestamps one to one).
      std::vector<pb::Sample*> samples(view.stacks().size(), nullptr);
      for (const profile::View::EventStack& e : view.events()) {
        pb::Sample*& sample = samples[e.stack];
        if (sample == nullptr) {
          const profile::View::Stack& s = view.stacks()[e.stack];
          std::vector<int32_t> locations;
          for (auto l = s.locations.rbegin(); l != s.locations.rend(); ++l) {
            locations.push_back(dict.Location(view, view.locations()[*l]));
          }
          sample = profile->add_samples();
          sample->set_stack_index(dict.Stack(std::move(locations)));
        }
        const profile::Event& event_of = r.events[e.event];
        sample->add_values(static_cast<int64_t>(event_of.weight));
        sample->add_timestamps_unix_nano(static_cast<uint64_t>(
            static_cast<int64_t>(event_of.time_ns) + window.unix_minus_monotonic_ns));
      }
    }
  }
  if (request.resource_profiles_size() == 0) return std::string();
  std::string bytes;
  if (!request.SerializeToString(&bytes)) return absl::InternalError("OTLP: cannot serialize");
  return bytes;
}

absl::StatusOr<Outgoing> OtlpHttpRequest(std::string_view base, std::string_view request,
                                         std::string what) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  absl::StatusOr<std::string> body = profile::Gzip(request);
  if (!body.ok()) return body.status();
  return Outgoing{.url = std::string(base) + "/v1development/profiles",
                  .headers = {"Content-Type: application/x-protobuf", "Content-Encoding: gzip"},
                  .body = *std::move(body),
                  .what = std::move(what)};
}

}  // namespace dprof::continuous
