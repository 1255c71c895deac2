// The dprof commands. Each Add* function adds its subcommand to the application, with its flags,
// and returns what runs it once the command line parsed: the exit code.
#ifndef DPROF_CLI_COMMANDS_H_
#define DPROF_CLI_COMMANDS_H_

#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace dprof::cli {

using Runner = std::function<int()>;

// `after_dashes`: what followed "--" on the command line (main() takes it out before parsing).
Runner AddRecord(CLI::App& app, const std::vector<std::string>* after_dashes);  // record.cc
Runner AddReport(CLI::App& app);                                                // report.cc
Runner AddFlameGraph(CLI::App& app);                                            // flamegraph.cc
Runner AddExport(CLI::App& app);                                                // export.cc
Runner AddStat(CLI::App& app);                                                  // stat.cc
Runner AddImport(CLI::App& app);                                                // import.cc
Runner AddScript(CLI::App& app);                                                // script.cc
Runner AddAgent(CLI::App& app);                                                 // agent_command.cc

}  // namespace dprof::cli

#endif  // DPROF_CLI_COMMANDS_H_
