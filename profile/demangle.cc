#include "profile/internal/demangle.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <utility>

namespace dprof::profile::internal {

std::string Demangle(std::string_view name) {
  if (!name.starts_with("_Z")) return std::string(name);
  const std::string mangled(name);
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status), &std::free);
  return status == 0 && demangled != nullptr ? std::string(demangled.get()) : mangled;
}

std::string_view WithoutSignature(std::string_view name) {
  // Qualifiers of the function type: "f() const &".
  for (bool again = true; again;) {
    again = false;
    for (std::string_view q : {" const", " volatile", " &&", " &", " noexcept"}) {
      if (name.ends_with(q)) {
        name.remove_suffix(q.size());
        again = true;
      }
    }
  }
  if (!name.ends_with(')')) return name;
  // The parameter list: the parentheses that close at the end, unless they are operator()'s own.
  size_t open = name.size();
  for (int depth = 0; open-- > 0;) {
    depth += name[open] == ')' ? 1 : name[open] == '(' ? -1 : 0;
    if (depth == 0) break;
  }
  if (open == 0 || open > name.size() || name.substr(0, open).ends_with("operator")) return name;
  name = name.substr(0, open);
  // The return type (only templates have one): everything up to the last space outside brackets
  // before the name's first "operator" ("std::ostream& std::operator<< <char>" -> the operator).
  size_t start = 0;
  int depth = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (depth == 0 && name.substr(i).starts_with("operator") &&
        (i == 0 || name[i - 1] == ':' || name[i - 1] == ' ')) {
      break;
    }
    if (c == '<' || c == '(' || c == '[' || c == '{') ++depth;
    if ((c == '>' || c == ')' || c == ']' || c == '}') && depth > 0) --depth;
    if (c == ' ' && depth == 0) start = i + 1;
  }
  return name.substr(start);
}

}  // namespace dprof::profile::internal
