// Support for the real-program tier: a program nobody here wrote, recorded by dprof and by
// `perf record --call-graph dwarf,65528` in the same test, and the two compared on what a user
// sees: the functions with the most self time, the share of samples whose leaf is named, and the
// share of complete stacks (from _start, or a thread's clone3/start_thread).
#ifndef DPROF_TESTS_REALWORLD_COMPARISON_H_
#define DPROF_TESTS_REALWORLD_COMPARISON_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace dprof::testing {

// What one tool's recordings of a workload say. Weights are the samples' periods; shares are
// percent of the total weight.
struct Figures {
  uint64_t samples = 0;
  uint64_t lost = 0;  // samples the tool says it lost (dprof: or dropped unwound)
  double total = 0;
  double named = 0;                    // of samples whose leaf frame is named
  double complete = 0;                 // of samples whose outermost user frames reach a root
  std::map<std::string, double> self;  // leaf function -> weight (unnamed leaves left out)
  // By the leaf's module (file name; "[kernel.kallsyms]"): the weight, and that with a named leaf.
  std::map<std::string, std::pair<double, double>> leaf_modules;

  double Share(double weight) const { return total > 0 ? 100 * weight / total : 0; }
  double SelfShare(const std::string& function) const;
  // Another recording of the same workload: the figures of both together.
  void Add(const Figures& other);
};

// The share of `f`'s samples with a named leaf had its samples been spread over modules as
// `composition`'s are: how well `f` names code, apart from how the workload's time fell between
// programs in its run (a fork/exec storm's does by several points from run to run).
double NamedLeafAsIn(const Figures& f, const Figures& composition);

// dprof's figures of the recording at `path` (its default view: kernel and user frames).
Figures DprofFigures(const std::string& path);
// perf's, from `perf script` of the perf.data at `path`.
Figures PerfFigures(const std::string& path);

// dprof's figures of perf's own recording at `perf_data` (dprof import): dprof's unwinder and
// symbolizer on the very snapshots perf unwinds.
Figures ImportedFigures(const std::string& perf_data);

// How one tool records a workload.
class Recorder {
 public:
  enum class Tool { kDprof, kPerf };
  Recorder(Tool tool, std::string output, std::vector<std::string> flags)
      : tool_(tool), output_(std::move(output)), flags_(std::move(flags)) {}

  Tool tool() const { return tool_; }
  const char* name() const { return tool_ == Tool::kDprof ? "dprof" : "perf"; }
  // The command line that launches `command` and records it (and what it starts).
  std::vector<std::string> Launching(const std::vector<std::string>& command) const;
  // The command line that records process `pid` and the processes it started, for `seconds`:
  // dprof -p PID --children; perf, which cannot follow children started before, is given them
  // all (-p PID,CHILD,...).
  std::vector<std::string> Attaching(pid_t pid, double seconds) const;

 private:
  std::vector<std::string> Prefix() const;

  Tool tool_;
  std::string output_;
  std::vector<std::string> flags_;
};

// Runs `argv` (argv[0] a path or a name on PATH) to its end, in `cwd` when given; its exit code
// (128 + signal when killed). Its output goes to `out` and `err` when given.
int RunProgram(const std::vector<std::string>& argv, std::string* out = nullptr,
               std::string* err = nullptr, const std::string& cwd = "");

struct Workload {
  std::string name;
  // Records the workload with `recorder`; returns the recorder's exit code.
  std::function<int(const Recorder& recorder)> run;
  double min_share = 3;        // function self shares below this (in both) are not compared
  double share_tolerance = 3;  // percentage points
  // Functions whose time the host decides, not the program: shown, their shares not compared.
  // In a VM, cpuid traps to the hypervisor, and libc's start-up runs it in handle_amd: the
  // bash loop's share there was 4% to 13% from run to run, for either tool alike.
  std::set<std::string> host_timed = {};
};

// Runs `w` under dprof (with `dprof_flags`) and then under perf (perf record -F 999
// --call-graph dwarf,65528, and `perf_flags`), each recording in `dir`, and compares them as the
// real-program tier demands: every function with a self share of at least min_share within
// share_tolerance points of perf's; named leaves (as NamedLeafAsIn weighs them) and complete
// stacks at least perf's minus 2 points or what sampling alone may move them by; on perf's own
// recordings (dprof import) named leaves and complete stacks at least perf's minus half a point;
// no more samples lost than perf lost (plus 1% of the samples). Two runs of one program differ by a
// point or two (timing, address layout), in a VM by more: where the first pair differs beyond a
// threshold, both record the workload once more, the two runs of each are compared together, and a
// function's tolerance widens to how far its share moved between perf's own two runs. Prints both
// side by side and appends a row to DPROF_ARTIFACTS_DIR/realworld.md.
void RecordAndCompare(const Workload& w, const std::string& dir,
                      const std::vector<std::string>& dprof_flags = {},
                      const std::vector<std::string>& perf_flags = {});

}  // namespace dprof::testing

#endif  // DPROF_TESTS_REALWORLD_COMPARISON_H_
