// dprof — the command line. main() only parses and dispatches; each command lives in a file of
// its own and calls the library. Exit codes: 0 success, 1 runtime failure, 2 usage error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

namespace {

constexpr int kUsageError = 2;

const CLI::App* FindCommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* command : app.get_subcommands({})) {
    if (command->get_name() == name) return command;
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dprof: a Linux profiler built on deferred user-stack unwinding", "dprof"};
  app.set_version_flag("--version", std::string("dprof ") + DPROF_VERSION);
  app.require_subcommand(1);

  std::string topic;
  CLI::App* help = app.add_subcommand("help", "Show help for dprof or for one command");
  help->add_option("command", topic, "The command to explain");

  if (argc > 1 && argv[1][0] != '-' && FindCommand(app, argv[1]) == nullptr) {
    std::fprintf(stderr, "dprof: unknown command '%s'; run 'dprof help' for the list\n", argv[1]);
    return kUsageError;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "dprof: %s; run 'dprof --help' for usage\n", e.what());
    return kUsageError;
  }

  if (help->parsed()) {
    if (topic.empty()) {
      // Not app.help(): that describes the selected subcommand, here "help" itself.
      std::fputs(app.get_formatter()->make_help(&app, "dprof", CLI::AppFormatMode::Normal).c_str(),
                 stdout);
      return 0;
    }
    if (const CLI::App* command = FindCommand(app, topic)) {
      std::fputs(command->help().c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "dprof: no command '%s'; run 'dprof help' for the list\n", topic.c_str());
    return kUsageError;
  }
  return 0;
}
