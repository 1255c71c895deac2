#include "dprof/profile/pprof.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "dprof/profile/gzip.h"
#include "profile/internal/profile.pb.h"

namespace dprof::profile {

namespace {

namespace pb = ::perftools::profiles;

class StringTable {
 public:
  explicit StringTable(pb::Profile* profile) : profile_(profile) { Index(""); }
  int64_t Index(const std::string& s) {
    auto [it, inserted] = index_.try_emplace(s, profile_->string_table_size());
    if (inserted) profile_->add_string_table(s);
    return it->second;
  }

 private:
  pb::Profile* profile_;
  absl::flat_hash_map<std::string, int64_t> index_;
};

// The program a profile is of: the executable most stacks run in (the outermost file of each
// stack that is no shared library: a thread's stack starts in libc's clone3, then reaches its
// program), by weight; for a system-wide recording, the heaviest program. Else the heaviest
// library; empty when no stack has a user frame.
std::string MainModule(const View& p) {
  absl::flat_hash_map<std::string, uint64_t> programs, libraries;
  for (const View::Stack& s : p.stacks()) {
    const std::string* library = nullptr;
    for (uint32_t l : s.locations) {
      const std::string& module = p.locations()[l].module;
      if (!module.starts_with("/")) continue;
      if (module.find(".so", module.rfind('/')) == std::string::npos) {
        programs[module] += s.weight;
        library = nullptr;
        break;
      }
      if (library == nullptr) library = &module;
    }
    if (library != nullptr) libraries[*library] += s.weight;
  }
  const auto& weight = programs.empty() ? libraries : programs;
  std::string main;
  uint64_t most = 0;
  for (const auto& [module, w] : weight) {
    if (w > most || (w == most && module < main)) {
      main = module;
      most = w;
    }
  }
  return main;
}

}  // namespace

int64_t SamplePeriod(const Recording& r, WeightUnit unit) {
  double frequency = 0;
  uint64_t period = 0;
  if (auto it = r.metadata.find("period"); it != r.metadata.end()) {
    return absl::SimpleAtoi(it->second, &period) ? static_cast<int64_t>(period) : 0;
  }
  if (auto f = r.metadata.find("frequency");
      f != r.metadata.end() && absl::SimpleAtod(f->second, &frequency) && frequency > 0) {
    return unit == WeightUnit::kCount ? 1 : std::llround(1e9 / frequency);
  }
  return 0;
}

absl::Status WritePprof(const Recording& r, const View& p, std::ostream& out) {
  pb::Profile profile;
  StringTable strings(&profile);

  auto add_type = [&](pb::ValueType* t, const std::string& type, const std::string& unit) {
    t->set_type(strings.Index(type));
    t->set_unit(strings.Index(unit));
  };
  add_type(profile.add_sample_type(), "samples", "count");
  switch (p.unit()) {
    case WeightUnit::kNanoseconds:
      add_type(profile.add_sample_type(), "cpu", "nanoseconds");
      break;
    case WeightUnit::kOffCpuNanoseconds:
      add_type(profile.add_sample_type(), "off-cpu", "nanoseconds");
      break;
    case WeightUnit::kCount:
      add_type(profile.add_sample_type(), "events", "count");
      break;
  }
  *profile.mutable_period_type() = profile.sample_type(1);
  profile.set_default_sample_type(profile.sample_type(1).type());
  if (const int64_t period = SamplePeriod(r, p.unit()); period != 0) profile.set_period(period);
  // When: the recording's start, and its events' span.
  const auto [first, last] = r.EventSpan();
  profile.set_duration_nanos(static_cast<int64_t>(last - first));
  absl::Time start;
  std::string error;
  if (auto it = r.metadata.find("start_time");
      it != r.metadata.end() && absl::ParseTime(absl::RFC3339_full, it->second, &start, &error)) {
    profile.set_time_nanos(absl::ToUnixNanos(start));
  }
  if (auto it = r.metadata.find("command"); it != r.metadata.end()) {
    profile.add_comment(strings.Index("dprof record: " + it->second));
  }

  // Mappings: one per module, with the build-id the recording saw for its file.
  absl::flat_hash_map<std::string, std::string> build_ids;
  for (const Mapping& m : r.mappings) {
    if (!m.build_id.empty()) build_ids[m.path] = m.build_id;
  }
  absl::flat_hash_map<std::string, uint64_t> mapping_ids;
  auto mapping_of = [&](const std::string& module) -> uint64_t {
    if (module.empty()) return 0;
    auto [it, inserted] = mapping_ids.try_emplace(module, mapping_ids.size() + 1);
    if (inserted) {
      pb::Mapping* m = profile.add_mapping();
      m->set_id(it->second);
      m->set_filename(strings.Index(module));
      if (auto id = build_ids.find(module); id != build_ids.end()) {
        m->set_build_id(strings.Index(absl::BytesToHexString(id->second)));
      }
      m->set_has_functions(true);
      m->set_has_filenames(true);
      m->set_has_line_numbers(true);
      m->set_has_inline_frames(true);
    }
    return it->second;
  };

  // The program's mapping first: pprof names a profile by its first mapping.
  mapping_of(MainModule(p));

  // Functions: by name and source file.
  absl::flat_hash_map<std::pair<std::string, std::string>, uint64_t> function_ids;
  auto function_of = [&](const View::Frame& f) -> uint64_t {
    auto [it, inserted] =
        function_ids.try_emplace(std::pair(f.name, f.file), function_ids.size() + 1);
    if (inserted) {
      pb::Function* fn = profile.add_function();
      fn->set_id(it->second);
      fn->set_name(strings.Index(f.name));
      fn->set_system_name(strings.Index(f.name));
      fn->set_filename(strings.Index(f.file));
    }
    return it->second;
  };

  // Locations: View's, ids from 1; lines innermost first.
  for (size_t i = 0; i < p.locations().size(); ++i) {
    const View::Location& l = p.locations()[i];
    pb::Location* location = profile.add_location();
    location->set_id(i + 1);
    location->set_mapping_id(mapping_of(l.module));
    location->set_address(l.offset);
    for (auto f = l.frames.rbegin(); f != l.frames.rend(); ++f) {
      const View::Frame& frame = p.frame(*f);
      pb::Line* line = location->add_line();
      line->set_function_id(function_of(frame));
      line->set_line(frame.line);
    }
  }

  // Samples: the leaf first.
  for (const View::Stack& s : p.stacks()) {
    pb::Sample* sample = profile.add_sample();
    for (auto l = s.locations.rbegin(); l != s.locations.rend(); ++l) {
      sample->add_location_id(*l + 1);
    }
    sample->add_value(static_cast<int64_t>(s.count));
    sample->add_value(static_cast<int64_t>(s.weight));
  }

  std::string bytes;
  if (!profile.SerializeToString(&bytes)) return absl::InternalError("pprof: cannot serialize");
  absl::StatusOr<std::string> gzipped = Gzip(bytes);
  if (!gzipped.ok()) return gzipped.status();
  out.write(gzipped->data(), static_cast<std::streamsize>(gzipped->size()));
  if (!out) return absl::DataLossError("writing the profile failed (disk full?)");
  return absl::OkStatus();
}

}  // namespace dprof::profile
