#include "dprof/profile/speedscope.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "profile/internal/json.h"

namespace dprof::profile {
namespace {

inline constexpr int64_t kIdle = -1;  // a sample with an empty stack: speedscope's idle time

struct Placed {
  uint64_t start = 0;  // ns; in count views, the event's time
  uint64_t weight = 0;
  uint64_t gap_below = 0;  // a gap shorter than this before the event is jitter
  uint32_t stack = 0;      // a stack id (Functions::stacks)
};

struct Thread {
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t total = 0;
  std::vector<Placed> events = {};
};

struct Sample {
  int64_t stack = kIdle;
  uint64_t weight = 0;
};

void Append(std::vector<Sample>& samples, int64_t stack, uint64_t weight) {
  if (weight == 0) return;  // speedscope ignores it
  if (!samples.empty() && samples.back().stack == stack) {
    samples.back().weight += weight;
  } else {
    samples.push_back({stack, weight});
  }
}

// Where an event lies in time: a clock sample covers the period before it, an off-CPU interval
// the time after its switch; in count views, the event's moment.
Placed Place(const Event& e, uint32_t stack, bool timed) {
  if (!timed || e.kind == event::EventKind::kOffCpu) {
    return {.start = e.time_ns, .weight = e.weight, .stack = stack};
  }
  return {.start = e.time_ns > e.weight ? e.time_ns - e.weight : 0,
          .weight = e.weight,
          .gap_below = e.weight,
          .stack = stack};
}

// A thread's events as speedscope's samples, from `begin` to `end` when timed.
std::vector<Sample> Samples(const Thread& t, bool timed, uint64_t begin, uint64_t end) {
  std::vector<Sample> samples;
  uint64_t cursor = begin;
  for (const Placed& p : t.events) {
    if (timed && p.start > cursor && p.start - cursor >= p.gap_below) {
      Append(samples, kIdle, p.start - cursor);
      cursor = p.start;
    }
    Append(samples, p.stack, p.weight);
    cursor += p.weight;
  }
  if (timed && end > cursor) Append(samples, kIdle, end - cursor);
  return samples;
}

// speedscope's frame is a function: the view's frames of one function at different lines are
// one frame (or its sandwich view would list the function once per line), and the view's stacks
// that differ only in lines are one stack.
struct Functions {
  std::string json;                    // the "frames" array's elements
  std::vector<std::string> stacks;     // by stack id: its frames' indices, root first
  std::vector<uint32_t> stack_of;      // by the view's stack: a stack id
};

Functions FunctionsOf(const View& view) {
  Functions out;
  using Function = std::tuple<std::string_view, std::string_view, std::string_view>;
  absl::flat_hash_map<Function, uint32_t> function_of;
  std::vector<uint32_t> frame_of(view.frames().size());
  for (size_t i = 0; i < view.frames().size(); ++i) {
    const View::Frame& f = view.frames()[i];
    const auto [it, added] = function_of.try_emplace(Function(f.name, f.module, f.file),
                                                     static_cast<uint32_t>(function_of.size()));
    frame_of[i] = it->second;
    if (!added) continue;
    out.json += it->second == 0 ? "{\"name\":" : ",{\"name\":";
    internal::AppendJsonString(out.json, f.name);
    if (!f.file.empty()) {
      out.json += ",\"file\":";
      internal::AppendJsonString(out.json, f.file);
    }
    out.json += '}';
  }
  absl::flat_hash_map<std::string, uint32_t> stack_ids;
  for (const View::Stack& stack : view.stacks()) {
    std::string frames;
    for (size_t k = 0; k < stack.frames.size(); ++k) {
      absl::StrAppend(&frames, k == 0 ? "" : ",", frame_of[stack.frames[k]]);
    }
    const auto [it, added] =
        stack_ids.try_emplace(frames, static_cast<uint32_t>(out.stacks.size()));
    if (added) out.stacks.push_back(std::move(frames));
    out.stack_of.push_back(it->second);
  }
  return out;
}

}  // namespace

void WriteSpeedscope(const Recording& recording, const View& view, const std::string& name,
                     std::ostream& out) {
  using internal::AppendJsonString;
  const bool timed = view.unit() != WeightUnit::kCount;
  const Functions functions = FunctionsOf(view);

  // The view's events by thread, and the time they span.
  std::vector<Thread> threads;
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, size_t> thread_of;
  uint64_t begin = UINT64_MAX, end = 0;
  for (const View::EventStack& shown : view.events()) {
    const Event& e = recording.events[shown.event];
    const auto [it, added] = thread_of.try_emplace(std::pair(e.pid, e.tid), threads.size());
    if (added) threads.push_back({.pid = e.pid, .tid = e.tid});
    Thread& t = threads[it->second];
    t.events.push_back(Place(e, functions.stack_of[shown.stack], timed));
    t.total += e.weight;
    begin = std::min(begin, t.events.back().start);
    end = std::max(end, t.events.back().start + e.weight);
  }
  for (Thread& t : threads) {
    std::stable_sort(t.events.begin(), t.events.end(),
                     [](const Placed& a, const Placed& b) { return a.start < b.start; });
  }
  std::stable_sort(threads.begin(), threads.end(), [](const Thread& a, const Thread& b) {
    if (a.total != b.total) return a.total > b.total;
    return std::pair(a.pid, a.tid) < std::pair(b.pid, b.tid);
  });

  std::string json = R"({"$schema":"https://www.speedscope.app/file-format-schema.json",)";
  json += R"("exporter":"dprof","name":)";
  AppendJsonString(json, name);
  json += R"(,"activeProfileIndex":0,"shared":{"frames":[)";
  json += functions.json;
  json += "]},\"profiles\":[";
  const auto write_profile = [&](const std::string& profile_name,
                                 const std::vector<Sample>& samples) {
    json += R"({"type":"sampled","name":)";
    AppendJsonString(json, profile_name);
    json += timed ? R"(,"unit":"nanoseconds")" : R"(,"unit":"none")";
    uint64_t length = 0;
    for (const Sample& s : samples) length += s.weight;
    absl::StrAppend(&json, ",\"startValue\":0,\"endValue\":", length, ",\"samples\":[");
    for (size_t j = 0; j < samples.size(); ++j) {
      json += j == 0 ? "[" : ",[";
      if (samples[j].stack != kIdle) json += functions.stacks[samples[j].stack];
      json += ']';
    }
    json += "],\"weights\":[";
    for (size_t j = 0; j < samples.size(); ++j) {
      absl::StrAppend(&json, j == 0 ? "" : ",", samples[j].weight);
    }
    json += "]}";
  };
  // speedscope needs a profile to show, even an empty one.
  if (threads.empty()) write_profile(name, {});
  const absl::flat_hash_map<uint32_t, std::string> names = ThreadNames(recording);
  for (size_t i = 0; i < threads.size(); ++i) {
    const Thread& t = threads[i];
    const auto named = names.find(t.tid);
    if (i > 0) json += ',';
    write_profile(absl::StrCat(named == names.end() ? "[unknown]" : named->second, " ", t.pid,
                               "/", t.tid),
                  Samples(t, timed, begin, end));
  }
  json += "]}\n";
  out << json;
}

}  // namespace dprof::profile
