// Every form of a command in its help's usage lines: CLI11 2.1 prints "dprof record [OPTIONS]",
// which hides the command that record takes and the forms that choose what to record.
#ifndef DPROF_CLI_USAGE_H_
#define DPROF_CLI_USAGE_H_

#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace dprof::cli {

// The formatter that prints them; set on the top-level app before any command is added, which
// then inherits it.
std::shared_ptr<CLI::Formatter> UsageFormatter();

// `command`'s forms, each what follows "dprof NAME ": e.g. "[OPTIONS] [--] CMD [ARG]...".
void SetUsage(CLI::App* command, std::vector<std::string> forms);

}  // namespace dprof::cli

#endif  // DPROF_CLI_USAGE_H_
