#include "tracer/internal/stack_services.h"

#include "tracer/internal/callchain.h"

namespace dprof::tracer::internal {

StackServices::~StackServices() {
  if (!works_.empty()) engine_->Cancel(works_.front());
}

absl::Status StackServices::InitDepot(stackdepot::Depot* depot) {
  if (depot == nullptr) {
    absl::StatusOr<std::unique_ptr<stackdepot::Depot>> own = stackdepot::Depot::Create({});
    if (!own.ok()) return own.status();
    own_depot_ = *std::move(own);
    depot = own_depot_.get();
  }
  depot_ = depot;
  return absl::OkStatus();
}

absl::Status StackServices::InitEngine(unwind::DeferredUnwinder* engine, int workers,
                                       std::span<const unwind::UnwindWork> shared,
                                       event::TraceSink* sink) {
  if (engine == nullptr) {
    if (!shared.empty()) {
      return absl::InvalidArgumentError(
          "shared unwind works must be registered on the engine given in the options");
    }
    absl::StatusOr<std::unique_ptr<unwind::DeferredUnwinder>> own =
        unwind::DeferredUnwinder::Create(
            {.unwinder = unwind::MakeDwarfUnwinder(), .workers = workers, .depot = depot_});
    if (!own.ok()) return own.status();
    own_engine_ = *std::move(own);
    engine = own_engine_.get();
  }
  engine_ = engine;
  absl::StatusOr<unwind::UnwindWork> work =
      engine_->Register([sink](const unwind::UnwindTrace& trace, cookie::Cookie cookie) {
        sink->OnUserStack(cookie,
                          {.pcs = trace.pcs,
                           .handle = stackdepot::SetExtraBits(trace.handle, event::kUserStackTag),
                           .reason = trace.reason});
      });
  if (!work.ok()) return work.status();
  works_ = {*work};
  works_.insert(works_.end(), shared.begin(), shared.end());
  return absl::OkStatus();
}

stackdepot::Handle StackServices::Save(std::span<const uint64_t> frames, uint32_t tag) const {
  if (frames.empty()) return stackdepot::kNoHandle;
  return stackdepot::SetExtraBits(depot_->Save(frames, stackdepot::kCanAlloc), tag);
}

void StackServices::RequestUserStack(const unwind::TaskContext& context, bool truncated,
                                     SourceCounters* counters, event::TraceEvent* e) const {
  if (truncated) {
    counters->Count(event::TracerStat::kTruncatedSnapshots);
    counters->CountThread(context.tid, [](event::ThreadStats& t) { ++t.truncated_snapshots; });
  }
  const unwind::RequestResult r = engine_->Request(works_, context);
  e->user = UserStackOf(r.status);
  if (e->user != event::UserStack::kMissing) e->cookie = r.cookie;
  if (e->user == event::UserStack::kDropped) {
    counters->Count(event::TracerStat::kDroppedSnapshots);
    counters->CountThread(context.tid, [](event::ThreadStats& t) { ++t.dropped_snapshots; });
  }
}

}  // namespace dprof::tracer::internal
