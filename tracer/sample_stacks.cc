#include "tracer/internal/sample_stacks.h"

#include "dprof/tracer/perf_abi.h"
#include "tracer/internal/callchain.h"

namespace dprof::tracer::internal {

void SampleStacks::AttachInline(std::span<const uint64_t> user, event::TraceEvent* e) {
  if (user.empty()) {
    counters_->Count(event::TracerStat::kNoUserContext);
    return;
  }
  e->user = event::UserStack::kInline;
  e->user_stack = services_->Save(user, event::kUserStackTag);
  if (e->user_stack == stackdepot::kNoHandle) e->user_pcs = user;
}

void SampleStacks::Attach(
    const SampleRecord& s,
    absl::FunctionRef<std::shared_ptr<const unwind::AddressSpace>(uint32_t)> space_of,
    event::TraceEvent* e, unwind::StackBuffer* buffer) {
  const Callchain chain = SplitCallchain(s.callchain);
  e->kernel_stack = services_->Save(chain.kernel, event::kKernelStackTag);
  if (e->kernel_stack == stackdepot::kNoHandle) e->kernel_pcs = chain.kernel;
  switch (mode_) {
    case StackMode::kNone:
      return;
    case StackMode::kFramePointer:
      AttachInline(chain.user, e);
      return;
    case StackMode::kNative:
      if (chain.deferred_cookie != 0) {
        e->user = event::UserStack::kDeferred;
        e->cookie = tracker_->AcceptNative(s.sid.tid, s.sid.cpu, s.sid.time, chain.deferred_cookie);
      } else {
        AttachInline(chain.user, e);  // user frames walked before native support
      }
      return;
    case StackMode::kDwarf:
      break;
  }
  if (s.regs_abi == abi::kRegsAbiNone || s.regs.empty()) {
    counters_->Count(event::TracerStat::kNoUserContext);
    return;
  }
  if (s.stack.empty()) {
    e->user = event::UserStack::kMissing;
    counters_->Count(event::TracerStat::kNoUserContext);
    return;
  }
  const unwind::Registers regs = ToDwarfRegisters(s);
  const unwind::TaskContext context{.pid = s.sid.pid,
                                    .tid = s.sid.tid,
                                    .cpu = s.sid.cpu,
                                    .time_ns = s.sid.time,
                                    .user_mode = s.user_mode(),
                                    .regs = regs,
                                    .stack_address = regs.sp(),
                                    .stack = s.stack,
                                    .stack_buffer = buffer,
                                    .stack_lasts = buffer == nullptr && records_last_,
                                    .space = space_of(s.sid.pid)};
  services_->RequestUserStack(context, s.stack.size() >= s.stack_reserved, counters_, e);
}

}  // namespace dprof::tracer::internal
