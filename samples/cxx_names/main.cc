// cxx_names: hot C++ code in namespaces, class templates, an anonymous namespace and a lambda, for
// symbolizers to demangle.
//
//   cxx_names [SECONDS]
//
// Nearly all the time is in shapes::detail::Accumulator<double>::Add(double) and
// shapes::detail::Accumulator<unsigned long>::Add(unsigned long), called from a lambda in main
// through (anonymous namespace)::Drive<...>().

#include <cstdint>
#include <cstdlib>

#include "samples/monotonic_seconds.h"

namespace shapes::detail {

template <typename T>
class Accumulator {
 public:
  __attribute__((noinline)) T Add(T x) {
    for (int i = 0; i < 20000; ++i) total_ = total_ * T(3) / T(2) + x + T(i & 7);
    return total_;
  }

 private:
  T total_ = T(1);
};

}  // namespace shapes::detail

namespace {

volatile double sink;

template <typename Work>
__attribute__((noinline)) double Drive(double seconds, Work work) {
  const double end = MonotonicSeconds() + seconds;
  double x = 0;
  while (MonotonicSeconds() < end) x += work();
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  shapes::detail::Accumulator<double> doubles;
  shapes::detail::Accumulator<unsigned long> integers;
  sink = Drive(
      seconds, [&]() __attribute__((noinline)) {
        double x = doubles.Add(1.5);
        x += doubles.Add(2.5);
        x += static_cast<double>(integers.Add(3) & 0xff);
        return x;
      });
  return 0;
}
