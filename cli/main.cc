// dprof — the command line. main() only parses and dispatches; each command lives in a file of
// its own and calls the library. Exit codes: 0 success, 1 runtime failure, 2 usage error.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/usage.h"

namespace {

const CLI::App* FindCommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* command : app.get_subcommands({})) {
    if (command->get_name() == name) return command;
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dprof::cli;
  // Symbols of files that have none come from debuginfod when DEBUGINFOD_URLS is set (libdw asks
  // it, through its cache, while naming a recording's addresses, never while sampling): at most
  // 10 s of silence per download unless DEBUGINFOD_TIMEOUT says otherwise, and the client's
  // progress line on a terminal.
  if (const char* urls = std::getenv("DEBUGINFOD_URLS"); urls != nullptr && *urls != '\0') {
    setenv("DEBUGINFOD_TIMEOUT", "10", /*overwrite=*/0);
    if (isatty(STDERR_FILENO)) setenv("DEBUGINFOD_PROGRESS", "1", /*overwrite=*/0);
  }
  CLI::App app{"dprof: a Linux profiler built on deferred user-stack unwinding", "dprof"};
  app.set_version_flag("--version", std::string("dprof ") + DPROF_VERSION);
  app.formatter(UsageFormatter());  // before the commands, which inherit it
  app.require_subcommand(1);
  app.footer(
      "Start with:\n  dprof record -- ./app     then     dprof report   and   dprof flamegraph\n"
      "'dprof help COMMAND' or 'dprof COMMAND -h' explains one command.");

  // `dprof record [OPTIONS] [--] CMD ARGS...`: what follows the first "--" is the command, kept
  // from CLI11 (whose prefix_command does not take "--").
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> after_dashes;
  if (!args.empty() && args[0] == "record") {
    if (auto dash = std::find(args.begin(), args.end(), "--"); dash != args.end()) {
      after_dashes.assign(dash + 1, args.end());
      args.erase(dash, args.end());
    }
  }

  std::vector<std::pair<CLI::App*, Runner>> commands;
  commands.emplace_back(nullptr, AddRecord(app, &after_dashes));
  for (Runner (*add)(CLI::App&) :
       {AddReport, AddFlameGraph, AddExport, AddScript, AddStat, AddImport, AddAgent}) {
    commands.emplace_back(nullptr, add(app));
  }
  for (size_t i = 0; i < commands.size(); ++i) commands[i].first = app.get_subcommands({})[i];
  std::string topic;
  CLI::App* help = app.add_subcommand("help", "Show help for dprof or for one command");
  help->add_option("command", topic, "The command to explain");
  SetUsage(help, {"[COMMAND]"});

  if (argc > 1 && argv[1][0] != '-' && FindCommand(app, argv[1]) == nullptr) {
    std::fprintf(stderr, "dprof: unknown command '%s'; run 'dprof help' for the list\n", argv[1]);
    return kUsageError;
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
      // CLI11 2.1 lists them last first: in the order they were typed.
      std::vector<std::string> extras;
      for (const CLI::App* command : app.get_subcommands({})) {
        if (command->parsed()) extras = command->remaining();
      }
      if (extras.empty()) extras = app.remaining();
      what = "unexpected arguments: ";
      for (const std::string& extra : extras) what += (what.back() == ' ' ? "" : " ") + extra;
    }
    std::fprintf(stderr, "dprof: %s; run 'dprof %s--help' for usage\n", what.c_str(),
                 argc > 1 && argv[1][0] != '-' ? (std::string(argv[1]) + " ").c_str() : "");
    return kUsageError;
  }

  if (help->parsed()) {
    if (topic.empty()) {
      // Not app.help(): that describes the selected subcommand, here "help" itself.
      std::fputs(app.get_formatter()->make_help(&app, "dprof", CLI::AppFormatMode::Normal).c_str(),
                 stdout);
      return kSuccess;
    }
    if (const CLI::App* command = FindCommand(app, topic)) {
      std::fputs(command->help("dprof").c_str(), stdout);
      return kSuccess;
    }
    std::fprintf(stderr, "dprof: no command '%s'; run 'dprof help' for the list\n", topic.c_str());
    return kUsageError;
  }
  for (auto& [command, run] : commands) {
    if (command->parsed()) return run();
  }
  return kUsageError;
}
