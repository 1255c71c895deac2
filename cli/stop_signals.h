// Ctrl-C (SIGINT), SIGTERM and SIGHUP while recording (those not ignored, as under nohup). The
// first asks the profiler to stop cleanly: the remaining unwinds finish, symbols are written, the
// summary prints. A second one ends dprof at once (exit 130), killing the command it launched; the
// recording stays readable up to its last complete chunk.
#ifndef DPROF_CLI_STOP_SIGNALS_H_
#define DPROF_CLI_STOP_SIGNALS_H_

#include <sys/types.h>

#include "dprof/profiler.h"

namespace dprof::cli {

// What the first signal and a second one print (one line each, written from the handler).
struct StopMessages {
  const char* stopping =
      "dprof: stopping: finishing unwinds and writing symbols (press Ctrl-C again to abort)";
  const char* aborted =
      "dprof: aborted; the recording stays readable up to its last complete chunk";
};

// Installs the handlers for `profiler`, which must stay alive until UninstallStopSignals().
void InstallStopSignals(Profiler* profiler, StopMessages messages = {});
// The command the profiler launched, which a second signal kills with dprof (0: none).
void SetStopSignalCommand(pid_t command);
// Restores the actions from before InstallStopSignals().
void UninstallStopSignals();
// Whether a stop signal arrived since InstallStopSignals().
bool StopSignalReceived();

}  // namespace dprof::cli

#endif  // DPROF_CLI_STOP_SIGNALS_H_
