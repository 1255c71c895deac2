// Tracer::Impl's record dispatch: each record the ring buffers delivered, in time order, to the
// models it changes (address spaces, processes followed, cookies, off-CPU intervals) and to the
// sink, with its stacks attached (internal/sample_stacks.h).
#include <optional>

#include "tracer/internal/callchain.h"
#include "tracer/internal/tracer_impl.h"

namespace dprof::tracer {

namespace {

// sched_switch's prev_state bits of a task that is exiting (EXIT_DEAD, EXIT_ZOMBIE).
constexpr int64_t kExitingStates = 0x10 | 0x20;

}  // namespace

bool Tracer::Impl::Filtered(uint32_t pid, uint32_t tid) const {
  if (excluded_.contains(tid)) return true;
  if (filter_pids_.empty() && filter_tids_.empty()) return false;
  return !filter_pids_.contains(pid) && !filter_tids_.contains(tid);
}

void Tracer::Impl::Emit(const event::TraceEvent& e) {
  if (e.kind == event::EventKind::kOffCpu) {
    Count(event::TracerStat::kOffCpuIntervals);
    CountThread(e.tid, [](event::ThreadStats& t) { ++t.off_cpu; });
  }
  if (named_.insert(e.pid).second) {
    internal::AnnounceNames(e.pid, internal::ListThreads(e.pid), backend_->NowNs(), sink_);
  }
  sink_->OnEvent(e);
}

void Tracer::Impl::Process(std::span<const uint8_t> bytes) {
  Record record;
  switch (events_->parser().Parse(bytes, &record)) {
    case ParseStatus::kOk:
      break;
    case ParseStatus::kUnknownType:
      Count(event::TracerStat::kUnknownRecords);
      return;
    case ParseStatus::kUnknownEvent:
      Count(event::TracerStat::kForeignRecords);
      return;
    case ParseStatus::kMalformed:
      Count(event::TracerStat::kMalformedRecords);
      return;
  }
  if (auto* s = std::get_if<SampleRecord>(&record)) {
    if (std::optional<uint32_t> event = events_->EventOf(s->sid.id)) OnSample(*s, *event);
  } else if (auto* m = std::get_if<event::Mmap2Record>(&record)) {
    OnMmap(*m);
  } else if (auto* c = std::get_if<event::CommRecord>(&record)) {
    if (c->exec) {
      // A new program: the MMAP2 records that follow describe all of it (the program, its
      // loader, every library), so /proc need not be read, and may be gone by the first sample.
      spaces_.Exec(c->pid);
    }
    sink_->OnComm(*c);
  } else if (auto* t = std::get_if<event::TaskRecord>(&record)) {
    if (t->exit) {
      if (stacks_.engine() != nullptr) stacks_.engine()->TaskExited(t->tid);
      tracker_.TaskExited(t->tid);
      off_cpu_.Exited(t->tid);
      if (t->pid == t->tid) exits_->Forget(t->pid);
    } else if (t->pid != t->ppid) {
      // A new process of the recorded tree: followed until it exits, past its parent's exit.
      if (!options_.target.system_wide) exits_->Watch(t->pid, false);
      spaces_.Fork(t->ppid, t->pid);
    }
    sink_->OnTask(*t);
  } else if (auto* l = std::get_if<LostRecord>(&record)) {
    Count(event::TracerStat::kLost, l->lost);
    CountThread(l->sid.tid, [&](event::ThreadStats& ts) { ts.lost += l->lost; });
  } else if (auto* ls = std::get_if<LostSamplesRecord>(&record)) {
    Count(event::TracerStat::kLostSamples, ls->lost);
    CountThread(ls->sid.tid, [&](event::ThreadStats& ts) { ts.lost += ls->lost; });
  } else if (auto* th = std::get_if<ThrottleRecord>(&record)) {
    Count(th->throttle ? event::TracerStat::kThrottled : event::TracerStat::kUnthrottled);
    if (th->throttle) CountThread(th->sid.tid, [](event::ThreadStats& ts) { ++ts.throttled; });
  } else if (auto* sw = std::get_if<SwitchRecord>(&record)) {
    if (!sw->out) {
      off_cpu_.SwitchedIn(sw->sid.tid, sw->sid.time,
                          [this](const event::TraceEvent& e) { Emit(e); });
    }
  } else if (auto* d = std::get_if<DeferredCallchainRecord>(&record)) {
    OnDeferredCallchain(*d);
  }
}

void Tracer::Impl::AnnounceMappings(uint32_t pid, const unwind::AddressSpace& space) {
  internal::AnnounceMappings(pid, space, backend_->NowNs(), sink_);
}

std::shared_ptr<const unwind::AddressSpace> Tracer::Impl::SpaceFor(uint32_t pid) {
  return spaces_.For(pid,
                     [this](uint32_t p, const unwind::AddressSpace& s) { AnnounceMappings(p, s); });
}

void Tracer::Impl::OnMmap(const event::Mmap2Record& m) {
  spaces_.Map(m);
  sink_->OnMmap(m);
}

void Tracer::Impl::OnSample(const SampleRecord& s, uint32_t event) {
  if (Filtered(s.sid.pid, s.sid.tid)) {
    Count(event::TracerStat::kFilteredOut);
    return;
  }
  const EventSpec& spec = specs_[event];
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
  sample_stacks_->Attach(
      s, [this](uint32_t pid) { return SpaceFor(pid); }, &e);
  const bool requested = event < options_.events.size();
  if (static_cast<int>(event) == off_cpu_event_) {
    int64_t prev_state = 0;
    spec.tracepoint->ReadInt(s.raw, "prev_state", &prev_state);
    if ((prev_state & kExitingStates) == 0) off_cpu_.SwitchedOut(e);
  }
  if (!requested) return;  // the internal sched_switch only feeds off-CPU intervals
  Count(spec.tracepoint ? event::TracerStat::kTracepointHits : event::TracerStat::kSamples);
  CountThread(s.sid.tid, [](event::ThreadStats& t) { ++t.samples; });
  Emit(e);
}

void Tracer::Impl::OnDeferredCallchain(const DeferredCallchainRecord& d) {
  Count(event::TracerStat::kDeferredCallchains);
  const cookie::Cookie cookie = tracker_.AcceptNative(d.sid.tid, d.sid.cpu, d.sid.time, d.cookie);
  const size_t n = internal::StripMarkers(d.ips, frames_);
  const std::span<const uint64_t> pcs(frames_.data(), n);
  sink_->OnUserStack(cookie, {.pcs = pcs,
                              .handle = stacks_.Save(pcs, event::kUserStackTag),
                              .reason = unwind::StopReason::kOutermost,
                              .native = true});
}

}  // namespace dprof::tracer
