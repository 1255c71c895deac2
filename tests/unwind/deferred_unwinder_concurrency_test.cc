// The deferred unwinder under concurrent requests, deliveries and cancels. Run under TSan too.
#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "dprof/unwind/deferred_unwinder.h"
#include "gtest/gtest.h"
#include "tests/unwind/deferred_unwinder_testing.h"

namespace dprof::unwind {
namespace {

using testing::Event;
using testing::FakeUnwinder;

const std::vector<uint8_t> kStack(512, 0x5a);

std::unique_ptr<DeferredUnwinder> MakeEngine() {
  return DeferredUnwinder::Create({.unwinder = std::make_unique<FakeUnwinder>(),
                                   .workers = 2,
                                   .queue_capacity = 64,
                                   .result_cache = 128})
      .value();
}

// Two threads request for works A and B while a third cancels A and registers C, which may get
// A's bit. After Cancel(A) returns, A's callback must never run, requests with A must fail, and C
// must only ever hear about cookies C asked for.
TEST(DeferredUnwinderConcurrencyTest, CancelWhileRequesting) {
  for (int round = 0; round < 20; ++round) {
    std::atomic<bool> a_canceled{false};
    std::atomic<int> a_after_cancel{0}, a_calls{0}, b_calls{0}, c_unasked{0};
    std::atomic<int> a_accepted_after_cancel{0};
    std::mutex c_mu;
    std::set<Cookie> c_asked;
    // Declared before the engine: its callbacks use them until it is gone.
    auto engine = MakeEngine();
    const UnwindWork a = engine
                             ->Register([&](const UnwindTrace&, Cookie) {
                               a_calls.fetch_add(1);
                               if (a_canceled.load()) a_after_cancel.fetch_add(1);
                             })
                             .value();
    const UnwindWork b =
        engine->Register([&](const UnwindTrace&, Cookie) { b_calls.fetch_add(1); }).value();
    std::atomic<UnwindWork*> c_work{nullptr};
    UnwindWork c;

    std::latch start(3);
    auto requester = [&](uint32_t first_tid) {
      start.arrive_and_wait();
      for (uint32_t i = 0; i < 3000; ++i) {
        // Kernel-mode events of a few tasks: many requests share each entry.
        const TaskContext event = Event(first_tid + i % 8, 0x401000 + (i / 64), false, kStack);
        const bool canceled_before = a_canceled.load();
        const RequestResult ra = engine->Request(a, event);
        if (canceled_before && ra.status != RequestStatus::kCanceled) {
          a_accepted_after_cancel.fetch_add(1);
        }
        engine->Request(b, event);
        if (UnwindWork* cw = c_work.load()) {
          std::lock_guard lock(c_mu);
          const RequestResult rc = engine->Request(*cw, event);
          if (rc.status == RequestStatus::kQueued || rc.status == RequestStatus::kAlreadyPending) {
            c_asked.insert(rc.cookie);
          }
        }
      }
    };
    std::thread t1(requester, 100), t2(requester, 200);
    std::thread canceller([&] {
      start.arrive_and_wait();
      std::this_thread::sleep_for(std::chrono::microseconds(200 * (round % 5)));
      engine->Cancel(a);
      a_canceled.store(true);
      c = engine
              ->Register([&](const UnwindTrace&, Cookie cookie) {
                std::lock_guard lock(c_mu);
                if (!c_asked.contains(cookie)) c_unasked.fetch_add(1);
              })
              .value();
      c_work.store(&c);
    });
    t1.join();
    t2.join();
    canceller.join();
    engine->Flush();
    EXPECT_EQ(a_after_cancel.load(), 0) << "round " << round;
    EXPECT_EQ(a_accepted_after_cancel.load(), 0) << "round " << round;
    EXPECT_EQ(c_unasked.load(), 0) << "round " << round;
    EXPECT_GT(b_calls.load(), 0);
    const EngineStats stats = engine->Stats();
    EXPECT_EQ(stats[EngineStat::kUnwinds] + stats[EngineStat::kContentHits],
              stats[EngineStat::kJobs]);
  }
}

// Many threads ask for the same entries: each cookie is unwound once, and every work that asked
// for it hears about it, always with the same trace.
TEST(DeferredUnwinderConcurrencyTest, ParallelRequestsShareOneUnwindPerCookie) {
  constexpr int kThreads = 4, kWorks = 3;
  std::mutex mu;
  std::map<std::pair<int, Cookie>, std::vector<uint64_t>> got;  // (work, cookie) -> trace
  std::atomic<int> inconsistent{0};
  std::set<std::pair<int, Cookie>> asked;
  auto engine = DeferredUnwinder::Create({.unwinder = std::make_unique<FakeUnwinder>(),
                                          .workers = 2,
                                          .queue_capacity = 4096,
                                          .result_cache = 4096})
                    .value();
  std::vector<UnwindWork> works;
  for (int w = 0; w < kWorks; ++w) {
    works.push_back(engine
                        ->Register([&, w](const UnwindTrace& t, Cookie cookie) {
                          std::lock_guard lock(mu);
                          std::vector<uint64_t> trace(t.pcs.begin(), t.pcs.end());
                          auto [it, first] = got.try_emplace({w, cookie}, trace);
                          if (!first && it->second != trace) inconsistent.fetch_add(1);
                        })
                        .value());
  }
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < 2000; ++i) {
        // 16 tasks, each staying in one kernel entry for 50 events.
        const TaskContext event = Event(i % 16, 0x500000 + (i / 50), false, kStack);
        const int w = (t + i) % kWorks;
        const RequestResult r = engine->Request(works[w], event);
        if (r.status == RequestStatus::kQueued || r.status == RequestStatus::kAlreadyPending) {
          std::lock_guard lock(mu);
          asked.insert({w, r.cookie});
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  engine->Flush();
  std::lock_guard lock(mu);
  EXPECT_EQ(inconsistent.load(), 0);
  for (const auto& key : asked) EXPECT_TRUE(got.contains(key)) << "work " << key.first;
  const EngineStats stats = engine->Stats();
  EXPECT_EQ(stats[EngineStat::kDrops], 0u);
  // One job per kernel entry, however many requests.
  std::set<Cookie> cookies;
  for (const auto& key : asked) cookies.insert(key.second);
  EXPECT_EQ(stats[EngineStat::kJobs], cookies.size());
  EXPECT_EQ(stats[EngineStat::kRequests], uint64_t{kThreads} * 2000);
}

}  // namespace
}  // namespace dprof::unwind
