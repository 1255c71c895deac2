// Ctrl-C (SIGINT), SIGTERM and SIGHUP while recording (those not ignored, as under nohup). The
// first asks the profiler to stop cleanly: the remaining unwinds finish, symbols are written, the
// summary prints. A second one ends dprof at once (exit 130), killing the command it launched; the
// recording stays readable up to its last complete chunk.
#ifndef DPROF_CLI_STOP_SIGNALS_H_
#define DPROF_CLI_STOP_SIGNALS_H_

#include <sys/types.h>

#include "dprof/profiler.h"

namespace dprof::cli {

// Installs the handlers for `profiler`, which must stay alive until UninstallStopSignals().
void InstallStopSignals(Profiler* profiler);
// The command the profiler launched, which a second signal kills with dprof (0: none).
void SetStopSignalCommand(pid_t command);
// Restores the actions from before InstallStopSignals().
void UninstallStopSignals();
// Whether a stop signal arrived since InstallStopSignals().
bool StopSignalReceived();

}  // namespace dprof::cli

#endif  // DPROF_CLI_STOP_SIGNALS_H_
