#include "dprof/cookie/cookie.h"

#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace dprof::cookie {
namespace {

int fake_cpu = 0;
int FakeCpu() { return fake_cpu; }

TEST(CookieTest, LayoutIsTheKernels) {
  const Cookie c = MakeCookie(3, 8);
  EXPECT_EQ(static_cast<uint32_t>(c), 4u);  // CPU + 1 in the low half
  EXPECT_EQ(CounterOf(c), 9u);              // counter, low bit forced, in the high half
  EXPECT_EQ(CpuOf(c), 3u);
  EXPECT_TRUE(IsValid(c));
  EXPECT_FALSE(IsDprofMade(c));
  EXPECT_FALSE(IsValid(kNoCookie));
  EXPECT_FALSE(IsValid(Cookie{8} << 32 | 4));  // even counter
  EXPECT_FALSE(IsValid(Cookie{9} << 32));      // no CPU
}

TEST(CookieTest, NextOnAdvancesByTwoAndIsNeverZero) {
  CpuCounter counters[4];
  CookieAllocator cookies(counters, FakeCpu);
  const Cookie first = cookies.NextOn(2);
  const Cookie second = cookies.NextOn(2);
  EXPECT_TRUE(IsDprofMade(first));
  EXPECT_TRUE(IsValid(first));
  EXPECT_EQ(CpuOf(first), 2u);
  EXPECT_EQ(CounterOf(first), 3u);
  EXPECT_EQ(CounterOf(second), 5u);
  EXPECT_EQ(counters[2].value.load(), 4u);  // the storage is the caller's
  EXPECT_EQ(counters[1].value.load(), 0u);
  // Across the counter's wrap-around the low bit keeps cookies non-zero and valid.
  counters[0].value.store(0xfffffffcu);
  for (int i = 0; i < 4; ++i) {
    const Cookie c = cookies.NextOn(0);
    EXPECT_NE(c, kNoCookie);
    EXPECT_TRUE(IsValid(c));
  }
}

// The kernel's counters start and step exactly like dprof's: the same CPU and counter must still
// name different contexts, so that a recording holding both kinds never mixes them up.
TEST(CookieTest, DprofMadeCookiesNeverEqualTheKernels) {
  CpuCounter counters[4];
  CookieAllocator cookies(counters, FakeCpu);
  const Cookie ours = cookies.NextOn(1);
  const Cookie kernels = MakeCookie(1, 2);  // the kernel's first cookie on CPU 1
  EXPECT_EQ(CounterOf(ours), CounterOf(kernels));
  EXPECT_EQ(CpuOf(ours), CpuOf(kernels));
  EXPECT_NE(ours, kernels);
}

TEST(CookieTest, CpusNeverCollide) {
  CpuCounter counters[8];
  CookieAllocator cookies(counters, FakeCpu);
  std::set<Cookie> seen;
  for (int round = 0; round < 1000; ++round) {
    for (uint32_t cpu = 0; cpu < 8; ++cpu) {
      const Cookie c = cookies.NextOn(cpu);
      ASSERT_EQ(CpuOf(c), cpu);
      ASSERT_TRUE(seen.insert(c).second) << "duplicate cookie " << c;
    }
  }
}

TEST(CookieTest, NextUsesTheCpuSource) {
  CpuCounter counters[4];
  CookieAllocator cookies(counters, FakeCpu);
  fake_cpu = 3;
  EXPECT_EQ(CpuOf(cookies.Next()), 3u);
  fake_cpu = 4;  // beyond the counters
  EXPECT_EQ(cookies.Next(), kNoCookie);
  fake_cpu = -1;  // unknown
  EXPECT_EQ(cookies.Next(), kNoCookie);
  EXPECT_EQ(cookies.NextOn(4), kNoCookie);
  fake_cpu = 0;
}

TEST(CookieTest, DefaultAllocatorCoversThisMachine) {
  CookieAllocator cookies;
  EXPECT_GE(cookies.cpus(), 1u);
  const Cookie c = cookies.Next();
  ASSERT_TRUE(IsValid(c));
  EXPECT_LT(CpuOf(c), cookies.cpus());
}

}  // namespace
}  // namespace dprof::cookie
