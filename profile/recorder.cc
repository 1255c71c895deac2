#include "dprof/profile/recorder.h"

#include <algorithm>
#include <iterator>

#include "dprof/sync/mutex.h"
#include "profile/internal/event_sites.h"

namespace dprof::profile {

RunCounters CountersOf(const event::TracerStats& stats) {
  RunCounters c;
  for (int i = 0; i < event::kNumTracerStats; ++i) {
    c.run[std::string(event::TracerStatName(static_cast<event::TracerStat>(i)))] = stats.values[i];
  }
  for (int i = 0; i < unwind::kNumEngineStats; ++i) {
    c.run["engine." + std::string(unwind::EngineStatName(static_cast<unwind::EngineStat>(i)))] =
        stats.engine.values[i];
  }
  for (int i = 0; i < unwind::kNumStopReasons; ++i) {
    c.run["stopped." + std::string(unwind::StopReasonName(static_cast<unwind::StopReason>(i)))] =
        stats.engine.stop_reasons[i];
  }
  for (int i = 0; i < stackdepot::kNumStats; ++i) {
    c.run["depot." + std::string(stackdepot::StatName(static_cast<stackdepot::Stat>(i)))] =
        stats.depot.values[i];
  }
  for (const auto& [tid, t] : stats.threads) {
    c.threads[tid] = {{"samples", t.samples},
                      {"off-cpu intervals", t.off_cpu},
                      {"lost", t.lost},
                      {"throttled", t.throttled},
                      {"dropped snapshots", t.dropped_snapshots},
                      {"truncated snapshots", t.truncated_snapshots}};
  }
  return c;
}

Recorder::Recorder(std::unique_ptr<RecordingWriter> writer, const stackdepot::Depot* depot,
                   const std::map<std::string, std::string>& metadata,
                   const std::vector<std::string>& event_names, Options options)
    : writer_(std::move(writer)), depot_(depot), options_(options) {
  kept_.metadata = metadata;
  kept_.event_names = event_names;
  kept_.tracepoints = options_.tracepoints;
  if (!options_.keep_recording) sites_ = std::make_unique<internal::EventSites>();
}

absl::StatusOr<std::unique_ptr<Recorder>> Recorder::Create(
    const std::string& path, const stackdepot::Depot* depot,
    const std::map<std::string, std::string>& metadata, const std::vector<std::string>& event_names,
    Options options) {
  absl::StatusOr<std::unique_ptr<RecordingWriter>> writer =
      RecordingWriter::Create(path, {.mode = options.mode});
  if (!writer.ok()) return writer.status();
  if (absl::Status s = (*writer)->WriteMetadata(metadata, event_names, options.tracepoints);
      !s.ok()) return s;
  return std::unique_ptr<Recorder>(
      new Recorder(*std::move(writer), depot, metadata, event_names, options));
}

std::unique_ptr<Recorder> Recorder::CreateInMemory(
    const stackdepot::Depot* depot, const std::map<std::string, std::string>& metadata,
    const std::vector<std::string>& event_names, Options options) {
  options.keep_recording = true;
  return std::unique_ptr<Recorder>(new Recorder(nullptr, depot, metadata, event_names, options));
}

Recorder::~Recorder() = default;

StackId Recorder::Reference(stackdepot::Handle handle, std::span<const uint64_t> pcs) {
  StackId id = stackdepot::RecordOf(handle);
  if (id == kNoStack) {
    id = next_own_id_++;
  } else if (!known_stacks_.insert(id).second) {
    return id;
  } else {
    pcs = depot_->Fetch(handle);
  }
  stacks_.emplace_back(id, std::vector<uint64_t>(pcs.begin(), pcs.end()));
  return id;
}

void Recorder::OnEvent(const event::TraceEvent& e) {
  Event out{.kind = e.kind,
            .event = e.event,
            .pid = e.pid,
            .tid = e.tid,
            .cpu = e.cpu,
            .time_ns = e.time_ns,
            .weight = e.weight,
            .user_mode = e.user_mode,
            .user = e.user,
            .cookie = e.cookie};
  {
    sync::MutexLock lock(&mu_);
    // A stack the depot refused comes as frames: kept under an id of the recorder's own.
    if (e.kernel_stack != stackdepot::kNoHandle || !e.kernel_pcs.empty()) {
      out.kernel_stack = Reference(e.kernel_stack, e.kernel_pcs);
    }
    if (e.user_stack != stackdepot::kNoHandle || !e.user_pcs.empty()) {
      out.user_stack = Reference(e.user_stack, e.user_pcs);
    }
  }
  if (!e.raw.empty()) {
    out.raw_offset = static_cast<uint32_t>(raw_.size());
    out.raw_size = static_cast<uint32_t>(e.raw.size());
    raw_.insert(raw_.end(), e.raw.begin(), e.raw.end());
  }
  events_.push_back(out);
  if (last_flush_ns_ == 0) last_flush_ns_ = e.time_ns;
  if (events_.size() >= options_.flush_events ||
      e.time_ns >= last_flush_ns_ + options_.flush_interval_ns) {
    last_flush_ns_ = e.time_ns;
    (void)Flush();  // a failure stays in status()
  }
}

void Recorder::OnUserStack(cookie::Cookie cookie, const event::UserStackTrace& trace) {
  sync::MutexLock lock(&mu_);
  const StackId id = Reference(trace.handle, trace.pcs);
  user_stacks_.push_back({cookie, {.stack = id, .reason = trace.reason, .native = trace.native}});
}

void Recorder::OnComm(const event::CommRecord& c) {
  threads_.push_back({.pid = c.pid,
                      .tid = c.tid,
                      .time_ns = c.sid.time,
                      .exec = c.exec,
                      .comm = std::string(c.comm)});
}

void Recorder::OnTask(const event::TaskRecord& t) {
  tasks_.push_back({.exit = t.exit,
                    .pid = t.pid,
                    .ppid = t.ppid,
                    .tid = t.tid,
                    .ptid = t.ptid,
                    .time_ns = t.time});
}

void Recorder::OnMmap(const event::Mmap2Record& m) {
  mappings_.push_back({.pid = m.pid,
                       .time_ns = m.sid.time,
                       .start = m.address,
                       .end = m.address + m.length,
                       .pgoff = m.pgoff,
                       .prot = m.prot,
                       .path = std::string(m.filename),
                       .build_id = std::string(reinterpret_cast<const char*>(m.build_id.data()),
                                               m.build_id.size())});
}

void Recorder::OnTick(uint64_t now_ns) {
  if (now_ns < last_flush_ns_ + options_.flush_interval_ns) return;
  last_flush_ns_ = now_ns;
  (void)Flush();  // a failure stays in status()
}

absl::Status Recorder::Flush() {
  if (!status_.ok()) return status_;
  std::vector<std::pair<StackId, std::vector<uint64_t>>> stacks;
  std::vector<std::pair<cookie::Cookie, UserStackEntry>> user_stacks;
  {
    sync::MutexLock lock(&mu_);
    stacks.swap(stacks_);
    user_stacks.swap(user_stacks_);
  }
  if (writer_ != nullptr) {
    std::vector<std::pair<StackId, std::span<const uint64_t>>> stack_views;
    stack_views.reserve(stacks.size());
    for (const auto& [id, pcs] : stacks) stack_views.emplace_back(id, pcs);
    // Stacks first: everything after may refer to them.
    for (absl::Status s :
         {writer_->WriteStacks(stack_views), writer_->WriteMappings(mappings_),
          writer_->WriteThreads(threads_, tasks_), writer_->WriteEvents(events_, raw_),
          writer_->WriteUserStacks(user_stacks)}) {
      if (!s.ok()) {
        status_ = s;
        return s;
      }
    }
  }
  Keep(stacks, user_stacks);
  return absl::OkStatus();
}

void Recorder::Keep(std::vector<std::pair<StackId, std::vector<uint64_t>>>& stacks,
                    std::vector<std::pair<cookie::Cookie, UserStackEntry>>& user_stacks) {
  // As a reader merges chunks: a later entry of the same id or cookie wins.
  for (auto& [id, pcs] : stacks) kept_.stacks.insert_or_assign(id, std::move(pcs));
  for (const auto& [cookie, entry] : user_stacks) kept_.user_stacks.insert_or_assign(cookie, entry);
  std::move(mappings_.begin(), mappings_.end(), std::back_inserter(kept_.mappings));
  std::move(threads_.begin(), threads_.end(), std::back_inserter(kept_.threads));
  kept_.tasks.insert(kept_.tasks.end(), tasks_.begin(), tasks_.end());
  if (sites_ != nullptr) {
    sites_->Arrived(user_stacks);
    sites_->Add(events_, kept_.user_stacks);
  } else {
    const uint64_t base = kept_.raw.size();
    for (Event& e : events_) {
      if (e.raw_size != 0) e.raw_offset += static_cast<uint32_t>(base);
    }
    kept_.events.insert(kept_.events.end(), events_.begin(), events_.end());
    kept_.raw.insert(kept_.raw.end(), raw_.begin(), raw_.end());
  }
  events_.clear();
  raw_.clear();
  mappings_.clear();
  threads_.clear();
  tasks_.clear();
}

absl::Status Recorder::WriteSymbols(Symbolizer& symbolizer) {
  if (sites_ == nullptr) {
    SymbolizeRecording(kept_, symbolizer);
  } else {
    // The sites name what all the events would (internal/event_sites.h).
    kept_.events = sites_->Representatives(kept_);
    SymbolizeRecording(kept_, symbolizer);
    kept_.events = {};
  }
  if (writer_ == nullptr) return absl::OkStatus();
  return writer_->WriteSymbols(kept_.symbols, kept_.symbol_of, kept_.mapped_symbol_of);
}

absl::Status Recorder::Finish(const RunCounters& counters, Symbolizer* symbolizer) {
  if (absl::Status s = Flush(); !s.ok()) return s;
  finished_ = true;
  if (symbolizer != nullptr) {
    if (absl::Status s = WriteSymbols(*symbolizer); !s.ok()) {
      status_ = s;
      return s;
    }
  }
  kept_.counters = counters.run;
  kept_.thread_counters = counters.threads;
  if (writer_ == nullptr) return status_;
  if (absl::Status s = writer_->WriteCounters(counters.run, counters.threads); !s.ok()) {
    status_ = s;
    return s;
  }
  status_ = writer_->Finish();
  return status_;
}

absl::StatusOr<Recording> Recorder::TakeRecording() {
  if (!finished_ || sites_ != nullptr || taken_) {
    return absl::FailedPreconditionError(
        "the recorder gives the whole recording once, after Finish(), with keep_recording");
  }
  if (!status_.ok()) return status_;
  taken_ = true;
  return std::move(kept_);
}

}  // namespace dprof::profile
