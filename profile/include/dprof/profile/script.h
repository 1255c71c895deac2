// dprof::profile::WriteScript — every event of a view, one paragraph each, in the text layout
// `perf script` prints by default, so that what reads perf script's text reads dprof's:
// FlameGraph's stackcollapse-perf.pl, the Firefox Profiler's and speedscope's importers.
//
//   cpu_bound  4242 [001] 12345.678901:     250000 cpu-clock:
//   	ffffffff8162da95 __mmap_region+0x395 ([kernel.kallsyms])
//   	           15389 update_active+0x99 (inlined)
//   	           15389 init_cpu_features+0x99 (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)
//   <blank line>
//
// A header line (thread name, tid, CPU, the event's time in seconds with six decimals, its weight
// and event name, then a tracepoint's fields as name=value words), then one line per frame, leaf
// first: the address (for mapped code its offset in what was mapped, as perf prints it; the
// kernel's own address), the function as perf names it (a C++ function without its signature)
// with the offset into it when the recording has it, and the module, "(inlined)" for each
// function inlined at the address before the one it was inlined into. Frames nothing names read
// "[unknown]". perf formats some tracepoints' fields its own way (each tracepoint's print format);
// the values are the same.
//
// Example:
//   View view = View::Build(recording, {.by_thread = true, .keep_events = true});
//   WriteScript(recording, view, std::cout);
//
// Context: a pure function of its arguments.
#ifndef DPROF_PROFILE_SCRIPT_H_
#define DPROF_PROFILE_SCRIPT_H_

#include <ostream>

#include "dprof/profile/recording.h"
#include "dprof/profile/view.h"

namespace dprof::profile {

// `view` must have been built from `recording` with ViewOptions::by_thread and keep_events.
void WriteScript(const Recording& recording, const View& view, std::ostream& out);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_SCRIPT_H_
