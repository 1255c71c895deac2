#include "profile/internal/demangle.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace dprof::profile::internal {

std::string Demangle(std::string_view name) {
  if (!name.starts_with("_Z")) return std::string(name);
  const std::string mangled(name);
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status), &std::free);
  return status == 0 && demangled != nullptr ? std::string(demangled.get()) : mangled;
}

}  // namespace dprof::profile::internal
