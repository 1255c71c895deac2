// Helpers shared by the stack depot tests.
#ifndef DPROF_TESTS_STACKDEPOT_DEPOT_TESTING_H_
#define DPROF_TESTS_STACKDEPOT_DEPOT_TESTING_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dprof/stackdepot/depot.h"
#include "gtest/gtest.h"

namespace dprof::testing {

inline std::unique_ptr<stackdepot::Depot> MakeDepot(const stackdepot::Options& options = {}) {
  absl::StatusOr<std::unique_ptr<stackdepot::Depot>> depot = stackdepot::Depot::Create(options);
  EXPECT_TRUE(depot.ok()) << depot.status();
  return *std::move(depot);
}

// A distinct trace per `seed` (up to 2,800 frames): `n` frames that look like return addresses,
// the seed in bits 16 and up of each.
inline std::vector<uint64_t> Trace(uint64_t seed, size_t n = 16) {
  std::vector<uint64_t> frames(n);
  for (size_t i = 0; i < n; ++i) frames[i] = 0x400000 + seed * 0x10000 + i * 0x17;
  return frames;
}

inline bool Same(std::span<const uint64_t> a, const std::vector<uint64_t>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace dprof::testing

#endif  // DPROF_TESTS_STACKDEPOT_DEPOT_TESTING_H_
