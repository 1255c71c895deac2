/* dprof.h — the dprof profiler for programs not written in C++.
 *
 * Profiles the calling process (every thread, dprof's own left out) or a command, and writes the
 * result as a flame graph, pprof or folded stacks. Where perf_event_open is not allowed the
 * calling process is sampled with CPU-time timer signals instead (dprof::Profiler, profiler.h).
 *
 * Example:
 *   dprof_options options;
 *   dprof_options_init(&options);
 *   options.frequency = 499;
 *   dprof_profiler* p = dprof_start(&options);
 *   if (p == NULL) { fprintf(stderr, "%s\n", dprof_last_error()); return 1; }
 *   run_the_workload();
 *   if (dprof_stop(p) != 0 || dprof_write_flamegraph(p, "profile.html") != 0)
 *     fprintf(stderr, "%s\n", dprof_last_error());
 *   dprof_free(p);
 *
 * Errors: a function that fails returns NULL or -1 and leaves a one-line message, naming the
 * problem and what to do, in dprof_last_error().
 *
 * Thread safety: one dprof_profiler is used by one thread at a time (any thread); different
 * profilers are independent, but only one at a time may sample with timer signals.
 * dprof_last_error() is per thread. dprof_request_stop() is the only function that may be called
 * from a signal handler. */
#ifndef DPROF_H_
#define DPROF_H_

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dprof_profiler dprof_profiler;

enum dprof_sampler {
  DPROF_SAMPLER_AUTO = 0, /* perf_event; timer signals when it is not allowed (itself only) */
  DPROF_SAMPLER_PERF_EVENT = 1,
  DPROF_SAMPLER_TIMER_SIGNAL = 2,
};

typedef struct dprof_options {
  unsigned frequency;         /* samples per second per thread; default 999 */
  unsigned stack_size;        /* bytes of user stack copied per sample; default 32768 */
  int sampler;                /* enum dprof_sampler; default DPROF_SAMPLER_AUTO */
  const char* output;         /* a recording file to write while recording; NULL: memory only */
  const char* const* command; /* NULL-terminated argv of a command to launch and profile;
                                 NULL: the calling process */
  /* Told once what the user should know (that sampling fell back to timer signals); NULL: not
   * told. Called during dprof_start(), on its thread. */
  void (*notice)(const char* message, void* arg);
  void* notice_arg;
} dprof_options;

/* Fills `options` with the defaults. */
void dprof_options_init(dprof_options* options);

/* Starts profiling; NULL on failure. `options` may be NULL (the defaults). */
dprof_profiler* dprof_start(const dprof_options* options);
/* Asks the recording to end; async-signal-safe. */
void dprof_request_stop(dprof_profiler* profiler);
/* Waits for a launched command to exit (returns at once for the calling process). */
void dprof_wait(dprof_profiler* profiler);
/* Stops profiling and keeps the profile for the dprof_write_* functions: 0, or -1. */
int dprof_stop(dprof_profiler* profiler);

/* After dprof_stop(): 0, or -1. A flame graph is SVG when `path` ends in .svg, else HTML. */
int dprof_write_flamegraph(dprof_profiler* profiler, const char* path);
int dprof_write_pprof(dprof_profiler* profiler, const char* path);
int dprof_write_folded(dprof_profiler* profiler, const char* path);

/* After dprof_stop(): the samples in the profile; the sampler that took them ("perf_event",
 * "timer signal"), valid while the profiler lives. */
unsigned long long dprof_sample_count(const dprof_profiler* profiler);
const char* dprof_sampler_name(const dprof_profiler* profiler);

/* Stops a profiler still running and frees it. NULL is ignored. */
void dprof_free(dprof_profiler* profiler);

/* The calling thread's last error message; "" when none. Valid until its next dprof call. */
const char* dprof_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* DPROF_H_ */
