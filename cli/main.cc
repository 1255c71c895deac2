// dprof — the command line. main() only parses and dispatches; each command lives in a file of
// its own and calls the library. Exit codes: 0 success, 1 runtime failure, 2 usage error.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/errors.h"

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
  CLI::App app{"dprof: a Linux profiler built on deferred user-stack unwinding", "dprof"};
  app.set_version_flag("--version", std::string("dprof ") + DPROF_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Start with:\n  dprof record -- ./app     then     dprof report   and   dprof flamegraph\n"
      "'dprof help COMMAND' or 'dprof COMMAND -h' explains one command.");

  std::vector<std::pair<CLI::App*, Runner>> commands;
  for (Runner (*add)(CLI::App&) : {AddRecord, AddReport, AddFlameGraph, AddExport, AddStat}) {
    Runner run = add(app);
    commands.emplace_back(app.get_subcommands({}).back(), std::move(run));
  }
  std::string topic;
  CLI::App* help = app.add_subcommand("help", "Show help for dprof or for one command");
  help->add_option("command", topic, "The command to explain");

  if (argc > 1 && argv[1][0] != '-' && FindCommand(app, argv[1]) == nullptr) {
    std::fprintf(stderr, "dprof: unknown command '%s'; run 'dprof help' for the list\n", argv[1]);
    return kUsageError;
  }
  // `dprof record [OPTIONS] [--] CMD ARGS...`: the command starts at the first argument that is not
  // an option, and CLI11 takes it from there (prefix_command) only without the "--".
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "record") {
    auto dash = std::find(args.begin(), args.end(), "--");
    if (dash != args.end()) args.erase(dash);
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "dprof: %s; run 'dprof %s--help' for usage\n", e.what(),
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
