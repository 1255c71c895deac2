// Demangle — C++ (Itanium ABI) symbol names as people read them.
#ifndef DPROF_PROFILE_INTERNAL_DEMANGLE_H_
#define DPROF_PROFILE_INTERNAL_DEMANGLE_H_

#include <string>
#include <string_view>

namespace dprof::profile::internal {

// "_ZN2ns3FooIiE3barEi" -> "ns::Foo<int>::bar(int)"; any other name (C, or not a valid mangled
// name) comes back unchanged.
std::string Demangle(std::string_view name);

// A demangled function name without its signature, as perf prints names (libiberty's demangler
// without parameters): no return type, parameter list or qualifiers after it.
// "void ns::Foo<int>::bar<long>(long) const" -> "ns::Foo<int>::bar<long>";
// "f(int)::{lambda()#1}::operator()() const" -> "f(int)::{lambda()#1}::operator()"; a name with no
// parameter list ("hot_a", "operator()") comes back as it is.
std::string_view WithoutSignature(std::string_view name);

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_DEMANGLE_H_
