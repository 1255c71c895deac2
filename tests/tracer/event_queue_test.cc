#include "dprof/tracer/event_queue.h"

#include <vector>

#include "gtest/gtest.h"

namespace dprof::tracer {
namespace {

std::vector<uint8_t> Bytes(uint8_t tag) { return std::vector<uint8_t>(8, tag); }

TEST(EventQueueTest, MergesBuffersIntoTimeOrderUpToTheHorizon) {
  EventQueue q;
  // Two buffers, each in order, interleaved in time.
  q.Push(100, Bytes(1));
  q.Push(300, Bytes(3));
  q.Push(200, Bytes(2));
  q.Push(400, Bytes(4));
  std::vector<uint64_t> times;
  std::vector<uint8_t> tags;
  auto collect = [&](uint64_t t, std::span<const uint8_t> r) {
    times.push_back(t);
    tags.push_back(r[0]);
  };
  EXPECT_EQ(q.PopUntil(250, collect), 2u);
  EXPECT_EQ(times, (std::vector<uint64_t>{100, 200}));
  EXPECT_EQ(q.oldest(), 300u);
  q.Push(350, Bytes(5));
  EXPECT_EQ(q.PopAll(collect), 3u);
  EXPECT_EQ(times, (std::vector<uint64_t>{100, 200, 300, 350, 400}));
  EXPECT_EQ(tags, (std::vector<uint8_t>{1, 2, 3, 5, 4}));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(EventQueueTest, EqualTimesKeepArrivalOrder) {
  EventQueue q;
  for (uint8_t i = 0; i < 20; ++i) q.Push(7, Bytes(i));
  std::vector<uint8_t> tags;
  q.PopAll([&](uint64_t, std::span<const uint8_t> r) { tags.push_back(r[0]); });
  ASSERT_EQ(tags.size(), 20u);
  for (uint8_t i = 0; i < 20; ++i) EXPECT_EQ(tags[i], i);
}

}  // namespace
}  // namespace dprof::tracer
