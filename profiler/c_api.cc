#include <memory>
#include <optional>
#include <string>

#include "dprof.h"
#include "dprof/profiler.h"

struct dprof_profiler {
  std::unique_ptr<dprof::Profiler> profiler;
  std::optional<dprof::Profile> profile;
  std::string sampler;
};

namespace {

thread_local std::string last_error;

int Fail(const absl::Status& status) {
  last_error = std::string(status.message());
  return -1;
}

// The profile dprof_stop() kept, or why there is none.
const dprof::Profile* ProfileOf(dprof_profiler* p) {
  if (p == nullptr) {
    Fail(absl::InvalidArgumentError("dprof: no profiler (NULL)"));
    return nullptr;
  }
  if (!p->profile) {
    Fail(absl::FailedPreconditionError("dprof: call dprof_stop() before writing the profile"));
    return nullptr;
  }
  return &*p->profile;
}

int Result(const absl::Status& status) { return status.ok() ? 0 : Fail(status); }

}  // namespace

extern "C" {

void dprof_options_init(dprof_options* options) {
  *options = {.frequency = 999,
              .stack_size = 32768,
              .sampler = DPROF_SAMPLER_AUTO,
              .output = nullptr,
              .command = nullptr,
              .notice = nullptr,
              .notice_arg = nullptr};
}

dprof_profiler* dprof_start(const dprof_options* options) {
  last_error.clear();
  dprof_options o;
  dprof_options_init(&o);
  if (options != nullptr) o = *options;
  if (o.sampler < DPROF_SAMPLER_AUTO || o.sampler > DPROF_SAMPLER_TIMER_SIGNAL) {
    Fail(absl::InvalidArgumentError("dprof: options.sampler must be a dprof_sampler value"));
    return nullptr;
  }
  dprof::ProfilerOptions po{.frequency = o.frequency,
                            .stack_size = o.stack_size,
                            .output = o.output != nullptr ? o.output : "",
                            .sampler = static_cast<dprof::Sampler>(o.sampler)};
  for (const char* const* arg = o.command; arg != nullptr && *arg != nullptr; ++arg) {
    po.target.command.emplace_back(*arg);
  }
  if (o.notice != nullptr) {
    po.notice = [notice = o.notice, arg = o.notice_arg](std::string_view message) {
      notice(std::string(message).c_str(), arg);
    };
  }
  absl::StatusOr<std::unique_ptr<dprof::Profiler>> profiler =
      dprof::Profiler::Create(std::move(po));
  if (!profiler.ok()) {
    Fail(profiler.status());
    return nullptr;
  }
  if (absl::Status s = (*profiler)->Start(); !s.ok()) {
    Fail(s);
    return nullptr;
  }
  auto* p = new dprof_profiler;
  p->sampler = std::string(dprof::SamplerName((*profiler)->sampler()));
  p->profiler = *std::move(profiler);
  return p;
}

void dprof_request_stop(dprof_profiler* profiler) {
  if (profiler != nullptr && profiler->profiler != nullptr) profiler->profiler->RequestStop();
}

void dprof_wait(dprof_profiler* profiler) {
  if (profiler != nullptr && profiler->profiler != nullptr &&
      profiler->profiler->command_pid() != 0) {
    profiler->profiler->Wait();
  }
}

int dprof_stop(dprof_profiler* profiler) {
  last_error.clear();
  if (profiler == nullptr) return Fail(absl::InvalidArgumentError("dprof: no profiler (NULL)"));
  if (profiler->profile) return 0;
  absl::StatusOr<dprof::Profile> profile = profiler->profiler->Stop();
  if (!profile.ok()) return Fail(profile.status());
  profiler->profile.emplace(*std::move(profile));
  return 0;
}

int dprof_write_flamegraph(dprof_profiler* profiler, const char* path) {
  const dprof::Profile* p = ProfileOf(profiler);
  return p == nullptr ? -1 : Result(p->WriteFlameGraph(path));
}

int dprof_write_pprof(dprof_profiler* profiler, const char* path) {
  const dprof::Profile* p = ProfileOf(profiler);
  return p == nullptr ? -1 : Result(p->WritePprof(path));
}

int dprof_write_folded(dprof_profiler* profiler, const char* path) {
  const dprof::Profile* p = ProfileOf(profiler);
  return p == nullptr ? -1 : Result(p->WriteFolded(path));
}

unsigned long long dprof_sample_count(const dprof_profiler* profiler) {
  return profiler != nullptr && profiler->profile ? profiler->profile->view().total_count() : 0;
}

const char* dprof_sampler_name(const dprof_profiler* profiler) {
  return profiler != nullptr ? profiler->sampler.c_str() : "";
}

void dprof_free(dprof_profiler* profiler) { delete profiler; }

const char* dprof_last_error(void) { return last_error.c_str(); }

}  // extern "C"
