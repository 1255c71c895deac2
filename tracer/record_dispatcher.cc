#include "tracer/internal/record_dispatcher.h"

#include <optional>
#include <utility>

#include "tracer/internal/callchain.h"
#include "tracer/internal/process.h"

namespace dprof::tracer::internal {

namespace {

// sched_switch's prev_state bits of a task that is exiting (EXIT_DEAD, EXIT_ZOMBIE).
constexpr int64_t kExitingStates = 0x10 | 0x20;
// The longest deferred callchain kept.
constexpr size_t kMaxDeferredFrames = 512;

}  // namespace

RecordDispatcher::RecordDispatcher(Events events, Filters filters, Parts parts, Host* host,
                                   event::TraceSink* sink)
    : events_(events),
      filters_(std::move(filters)),
      parts_(parts),
      host_(host),
      sink_(sink),
      frames_(kMaxDeferredFrames) {}

bool RecordDispatcher::Filtered(uint32_t pid, uint32_t tid) const {
  if (filters_.excluded.contains(tid)) return true;
  if (filters_.pids.empty() && filters_.tids.empty()) return false;
  return !filters_.pids.contains(pid) && !filters_.tids.contains(tid);
}

void RecordDispatcher::Emit(const event::TraceEvent& e) {
  if (e.kind == event::EventKind::kOffCpu) {
    parts_.counters->Count(event::TracerStat::kOffCpuIntervals);
    parts_.counters->CountThread(e.tid, [](event::ThreadStats& t) { ++t.off_cpu; });
  }
  if (seen_.insert(e.pid).second) host_->FirstEventOf(e.pid);
  sink_->OnEvent(e);
}

void RecordDispatcher::Process(std::span<const uint8_t> bytes, unwind::StackBuffer* buffer) {
  SourceCounters& counters = *parts_.counters;
  Record record;
  switch (parts_.ids->parser().Parse(bytes, &record)) {
    case ParseStatus::kOk:
      break;
    case ParseStatus::kUnknownType:
      counters.Count(event::TracerStat::kUnknownRecords);
      return;
    case ParseStatus::kUnknownEvent:
      counters.Count(event::TracerStat::kForeignRecords);
      return;
    case ParseStatus::kMalformed:
      counters.Count(event::TracerStat::kMalformedRecords);
      return;
  }
  if (auto* s = std::get_if<SampleRecord>(&record)) {
    if (std::optional<uint32_t> event = parts_.ids->EventOf(s->sid.id))
      OnSample(*s, *event, buffer);
  } else if (auto* m = std::get_if<event::Mmap2Record>(&record)) {
    OnMmap(*m);
  } else if (auto* c = std::get_if<event::CommRecord>(&record)) {
    if (c->exec) {
      // A new program: the MMAP2 records that follow describe all of it (the program, its
      // loader, every library), so /proc need not be read, and may be gone by the first sample.
      parts_.spaces->Exec(c->pid);
    }
    sink_->OnComm(*c);
  } else if (auto* t = std::get_if<event::TaskRecord>(&record)) {
    OnTask(*t);
  } else if (auto* l = std::get_if<LostRecord>(&record)) {
    counters.Count(event::TracerStat::kLost, l->lost);
    counters.CountThread(l->sid.tid, [&](event::ThreadStats& ts) { ts.lost += l->lost; });
  } else if (auto* ls = std::get_if<LostSamplesRecord>(&record)) {
    counters.Count(event::TracerStat::kLostSamples, ls->lost);
    counters.CountThread(ls->sid.tid, [&](event::ThreadStats& ts) { ts.lost += ls->lost; });
  } else if (auto* th = std::get_if<ThrottleRecord>(&record)) {
    counters.Count(th->throttle ? event::TracerStat::kThrottled : event::TracerStat::kUnthrottled);
    if (th->throttle) {
      counters.CountThread(th->sid.tid, [](event::ThreadStats& ts) { ++ts.throttled; });
    }
  } else if (auto* sw = std::get_if<SwitchRecord>(&record)) {
    if (!sw->out) {
      off_cpu_.SwitchedIn(sw->sid.tid, sw->sid.time,
                          [this](const event::TraceEvent& e) { Emit(e); });
    }
  } else if (auto* d = std::get_if<DeferredCallchainRecord>(&record)) {
    OnDeferredCallchain(*d);
  }
}

void RecordDispatcher::OnTask(const event::TaskRecord& t) {
  if (t.exit) {
    if (parts_.stacks->engine() != nullptr) parts_.stacks->engine()->TaskExited(t.tid);
    parts_.tracker->TaskExited(t.tid);
    off_cpu_.Exited(t.tid);
    if (t.pid == t.tid) host_->ProcessExited(t.pid);
  } else if (t.pid != t.ppid) {
    // A new process of the recorded tree: its parent's address space, copied.
    host_->ProcessForked(t.pid);
    parts_.spaces->Fork(t.ppid, t.pid);
  }
  sink_->OnTask(t);
}

std::shared_ptr<const unwind::AddressSpace> RecordDispatcher::SpaceFor(uint32_t pid) {
  return parts_.spaces->For(pid, [this](uint32_t p, const unwind::AddressSpace& s) {
    AnnounceMappings(p, s, host_->NowNs(), sink_);
  });
}

void RecordDispatcher::OnMmap(const event::Mmap2Record& record) {
  event::Mmap2Record m = record;
  if (m.build_id.empty() && parts_.build_ids != nullptr) {
    if (auto it = parts_.build_ids->find(absl::string_view(m.filename.data(), m.filename.size()));
        it != parts_.build_ids->end()) {
      m.build_id =
          std::span(reinterpret_cast<const uint8_t*>(it->second.data()), it->second.size());
    }
  }
  parts_.spaces->Map(m);
  sink_->OnMmap(m);
}

void RecordDispatcher::OnSample(const SampleRecord& s, uint32_t event,
                                unwind::StackBuffer* buffer) {
  if (Filtered(s.sid.pid, s.sid.tid)) {
    parts_.counters->Count(event::TracerStat::kFilteredOut);
    return;
  }
  const EventSpec& spec = (*events_.specs)[event];
  event::TraceEvent e{
      .kind = spec.tracepoint ? event::EventKind::kTracepoint : event::EventKind::kSample,
      .event = event,
      .pid = s.sid.pid,
      .tid = s.sid.tid,
      .cpu = s.sid.cpu,
      .time_ns = s.sid.time,
      .weight = spec.tracepoint ? 1 : s.period,
      .user_mode = s.user_mode(),
      .raw = s.raw};
  parts_.sample_stacks->Attach(
      s, [this](uint32_t pid) { return SpaceFor(pid); }, &e, buffer);
  if (static_cast<int>(event) == events_.off_cpu_event) {
    int64_t prev_state = 0;
    spec.tracepoint->ReadInt(s.raw, "prev_state", &prev_state);
    if ((prev_state & kExitingStates) == 0) off_cpu_.SwitchedOut(e);
  }
  if (event >= events_.requested) return;  // an internal sched_switch feeds off-CPU only
  parts_.counters->Count(spec.tracepoint ? event::TracerStat::kTracepointHits
                                         : event::TracerStat::kSamples);
  parts_.counters->CountThread(s.sid.tid, [](event::ThreadStats& t) { ++t.samples; });
  Emit(e);
}

void RecordDispatcher::OnDeferredCallchain(const DeferredCallchainRecord& d) {
  parts_.counters->Count(event::TracerStat::kDeferredCallchains);
  const cookie::Cookie cookie =
      parts_.tracker->AcceptNative(d.sid.tid, d.sid.cpu, d.sid.time, d.cookie);
  const size_t n = StripMarkers(d.ips, frames_);
  const std::span<const uint64_t> pcs(frames_.data(), n);
  sink_->OnUserStack(cookie, {.pcs = pcs,
                              .handle = parts_.stacks->Save(pcs, event::kUserStackTag),
                              .reason = unwind::StopReason::kOutermost,
                              .native = true});
}

void RecordDispatcher::Finish(uint64_t now_ns) {
  off_cpu_.CloseAll(now_ns, [this](const event::TraceEvent& e) { Emit(e); });
}

}  // namespace dprof::tracer::internal
