// MonotonicSeconds — the sample programs' clock: CLOCK_MONOTONIC, in seconds.
#ifndef DPROF_SAMPLES_MONOTONIC_SECONDS_H_
#define DPROF_SAMPLES_MONOTONIC_SECONDS_H_

#include <time.h>

inline double MonotonicSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

#endif  // DPROF_SAMPLES_MONOTONIC_SECONDS_H_
