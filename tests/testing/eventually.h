// Eventually(): waits for a condition that must come true on its own (a grace period ends, a
// worker drains a queue). The limit only turns a hang into a failure; it measures nothing.
#ifndef DPROF_TESTS_TESTING_EVENTUALLY_H_
#define DPROF_TESTS_TESTING_EVENTUALLY_H_

#include <chrono>
#include <thread>

namespace dprof::testing {

template <typename Condition>
bool Eventually(Condition done, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace dprof::testing

#endif  // DPROF_TESTS_TESTING_EVENTUALLY_H_
