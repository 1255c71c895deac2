#include "cli/view_flags.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dprof::cli {

void AddViewFlags(CLI::App* command, ViewFlags* flags) {
  CLI::Option* events =
      command
          ->add_option("--event", flags->events, "Show these recorded events (default: the first)")
          ->type_name("EVENT")
          ->delimiter(',')
          ->allow_extra_args(false);
  CLI::Option* off = command
                         ->add_flag("--off-cpu", flags->off_cpu,
                                    "Show the off-CPU intervals: where threads blocked")
                         ->excludes(events);
  command->add_flag("--on-cpu", flags->on_cpu, "Show every event but the off-CPU intervals")
      ->excludes(off)
      ->excludes(events);
  command->add_option("--pid", flags->pids, "Only these processes")
      ->type_name("PID")
      ->delimiter(',')
      ->allow_extra_args(false);
  command->add_option("--tid", flags->tids, "Only these threads")
      ->type_name("TID")
      ->delimiter(',')
      ->allow_extra_args(false);
  command->add_option("--comm,--comms", flags->comms, "Only threads of these names")
      ->type_name("NAME")
      ->delimiter(',')
      ->allow_extra_args(false);
  command->add_flag_callback(
      "--kernel", [flags] { flags->kernel = true; }, "Show kernel frames (the default)");
  command->add_flag_callback(
      "--no-kernel", [flags] { flags->kernel = false; }, "Leave out kernel frames");
  command->add_flag_callback(
      "--user", [flags] { flags->user = true; }, "Show user frames (the default)");
  command->add_flag_callback(
      "--no-user", [flags] { flags->user = false; }, "Leave out user frames");
}

absl::StatusOr<View> BuildView(const ViewFlags& flags, const profile::Recording& recording,
                               profile::ViewOptions shape) {
  const std::vector<std::string>& names = recording.event_names;
  View out;
  profile::ViewOptions& o = shape;
  o.pids.insert(flags.pids.begin(), flags.pids.end());
  o.tids.insert(flags.tids.begin(), flags.tids.end());
  o.comms.insert(flags.comms.begin(), flags.comms.end());
  o.kernel = flags.kernel;
  o.user = flags.user;
  if (!o.kernel && !o.user) {
    return absl::InvalidArgumentError("--no-kernel and --no-user together leave nothing to show");
  }

  const auto off_cpu = std::find(names.begin(), names.end(), profile::kOffCpuEvent);
  const uint32_t off_index = static_cast<uint32_t>(off_cpu - names.begin());
  for (const std::string& name : flags.events) {
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      return absl::InvalidArgumentError(absl::StrCat("the recording holds no event '", name,
                                                     "'; it holds: ", absl::StrJoin(names, ", ")));
    }
    o.events.insert(static_cast<uint32_t>(it - names.begin()));
  }
  if (flags.off_cpu) {
    if (off_cpu == names.end()) {
      return absl::InvalidArgumentError(
          "the recording holds no off-CPU intervals; record with --off-cpu or --wall");
    }
    o.events = {off_index};
  } else if (flags.on_cpu) {
    for (uint32_t i = 0; i < names.size(); ++i) {
      if (i != off_index) o.events.insert(i);
    }
  } else if (o.events.empty() && !flags.every_event) {
    o.events = profile::DefaultEvents(recording);
  }
  if (o.events.empty()) {
    for (uint32_t i = 0; i < names.size(); ++i) o.events.insert(i);
  }
  for (uint32_t i = 0; i < names.size(); ++i) {
    (o.events.contains(i) ? out.shown : out.other).push_back(names[i]);
  }
  const size_t time_events = std::count_if(out.shown.begin(), out.shown.end(), profile::WeighsTime);
  if (time_events != 0 && time_events != out.shown.size() && !flags.every_event) {
    return absl::InvalidArgumentError(
        absl::StrCat("the events ", absl::StrJoin(out.shown, ", "),
                     " weigh different things (time and counts); show them apart with --event"));
  }
  out.profile = profile::View::Build(recording, o);
  if (out.profile.total_count() == 0 && !recording.events.empty()) {
    // Say which filter left nothing, and what the recording has instead.
    std::vector<std::string> filters;
    if (!flags.pids.empty()) filters.push_back("--pid " + absl::StrJoin(flags.pids, ","));
    if (!flags.tids.empty()) filters.push_back("--tid " + absl::StrJoin(flags.tids, ","));
    if (!flags.comms.empty()) filters.push_back("--comm " + absl::StrJoin(flags.comms, ","));
    if (!flags.kernel) filters.push_back("--no-kernel");
    if (!flags.user) filters.push_back("--no-user");
    std::vector<std::string> events = flags.events;
    if (flags.off_cpu) events.push_back("--off-cpu");
    if (flags.on_cpu) events.push_back("--on-cpu");
    if (!filters.empty() || !events.empty()) {
      filters.insert(filters.end(), events.begin(), events.end());
      // The first processes recorded, named.
      const absl::flat_hash_map<uint32_t, std::string> thread_names =
          profile::ThreadNames(recording);
      std::vector<std::string> processes;
      absl::flat_hash_set<uint32_t> seen;
      for (const profile::Event& e : recording.events) {
        if (!seen.insert(e.pid).second) continue;
        if (processes.size() == 8) {
          processes.push_back("...");
          break;
        }
        auto name = thread_names.find(e.pid);
        processes.push_back(name == thread_names.end()
                                ? absl::StrCat(e.pid)
                                : absl::StrCat(e.pid, " (", name->second, ")"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("no recorded event matches ", absl::StrJoin(filters, " "),
                       "; the recording's processes: ", absl::StrJoin(processes, ", ")));
    }
  }
  return out;
}

void AddWeightsFlag(CLI::App* command, std::string* weights) {
  command
      ->add_option("--weights", *weights,
                   "What folded stacks' numbers count: count (samples; the default), us "
                   "(microseconds; the default with off-CPU time) or ns")
      ->type_name("count|us|ns")
      ->check(CLI::IsMember({"count", "us", "ns"}));
}

absl::StatusOr<profile::FoldedValue> FoldedValueOf(const std::string& weights, const View& view) {
  if (weights.empty()) return profile::FoldedValue::kAuto;
  if (weights == "count") return profile::FoldedValue::kCount;
  if (view.profile.unit() == profile::WeightUnit::kCount) {
    return absl::InvalidArgumentError(absl::StrCat("--weights ", weights, ": ",
                                                   absl::StrJoin(view.shown, ", "),
                                                   " counts events, not time; use --weights count"));
  }
  return weights == "us" ? profile::FoldedValue::kMicroseconds : profile::FoldedValue::kWeight;
}

}  // namespace dprof::cli
