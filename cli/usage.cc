#include "cli/usage.h"

#include <utility>

#include "absl/container/flat_hash_map.h"

namespace dprof::cli {
namespace {

// By command: its forms. The CLI is built once, on main's thread.
absl::flat_hash_map<const CLI::App*, std::vector<std::string>>& Forms() {
  static auto* forms = new absl::flat_hash_map<const CLI::App*, std::vector<std::string>>();
  return *forms;
}

class FormsFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    auto it = Forms().find(app);
    if (it == Forms().end()) return CLI::Formatter::make_usage(app, std::move(name));
    std::string out;
    for (const std::string& form : it->second) {
      out += (out.empty() ? "Usage: " : "       ") + name + " " + form + "\n";
    }
    return out;
  }
};

}  // namespace

std::shared_ptr<CLI::Formatter> UsageFormatter() { return std::make_shared<FormsFormatter>(); }

void SetUsage(CLI::App* command, std::vector<std::string> forms) {
  Forms()[command] = std::move(forms);
}

}  // namespace dprof::cli
