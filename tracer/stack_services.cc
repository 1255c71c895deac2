#include "tracer/internal/stack_services.h"

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

}  // namespace dprof::tracer::internal
