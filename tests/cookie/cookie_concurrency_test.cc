// Cookie allocation from many threads and from a signal handler: every cookie is distinct.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "dprof/cookie/cookie.h"
#include "gtest/gtest.h"

namespace dprof::cookie {
namespace {

int CpuZero() { return 0; }

void ExpectAllDistinct(std::vector<Cookie> all) {
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end())
      << "a cookie was handed out twice";
  EXPECT_EQ(std::count(all.begin(), all.end(), kNoCookie), 0);
}

TEST(CookieConcurrencyTest, ThreadsSharingCpusGetDistinctCookies) {
  constexpr int kThreads = 4, kPerThread = 200000;
  CpuCounter counters[2];
  CookieAllocator cookies(counters, CpuZero);
  std::vector<std::vector<Cookie>> got(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      got[t].reserve(kPerThread);
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) got[t].push_back(cookies.NextOn(i % 2));
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<Cookie> all;
  for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
  ExpectAllDistinct(std::move(all));
  EXPECT_EQ(counters[0].value.load() + counters[1].value.load(), 2u * kThreads * kPerThread);
}

// A signal handler that takes cookies interrupts a thread that takes cookies on the same CPU
// counter: allocation is async-signal-safe and still unique.
constexpr int kHandlerSlots = 4096;
CookieAllocator* handler_cookies = nullptr;
Cookie handler_got[kHandlerSlots];
std::atomic<int> handler_count{0};

void TakeCookie(int) {
  const int slot = handler_count.fetch_add(1);
  if (slot < kHandlerSlots) handler_got[slot] = handler_cookies->Next();
}

TEST(CookieConcurrencyTest, SignalHandlerAndInterruptedThreadGetDistinctCookies) {
  CpuCounter counters[1];
  CookieAllocator cookies(counters, CpuZero);
  handler_cookies = &cookies;
  struct sigaction action = {};
  action.sa_handler = TakeCookie;
  sigemptyset(&action.sa_mask);
  struct sigaction previous;
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);

  std::atomic<bool> done{false};
  std::vector<Cookie> thread_got;
  thread_got.reserve(2000000);
  std::latch running(1);
  std::thread worker([&] {
    running.count_down();
    while (!done.load(std::memory_order_relaxed)) thread_got.push_back(cookies.Next());
  });
  running.wait();
  const pthread_t target = worker.native_handle();
  while (handler_count.load() < kHandlerSlots) {
    pthread_kill(target, SIGUSR1);
    std::this_thread::yield();
  }
  done.store(true);
  worker.join();
  sigaction(SIGUSR1, &previous, nullptr);

  std::vector<Cookie> all(handler_got, handler_got + kHandlerSlots);
  all.insert(all.end(), thread_got.begin(), thread_got.end());
  ExpectAllDistinct(std::move(all));
}

}  // namespace
}  // namespace dprof::cookie
