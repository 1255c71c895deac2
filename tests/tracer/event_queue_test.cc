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
  auto collect = [&](uint64_t t, std::span<const uint8_t> r, EventQueue::Buffer*) {
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
  q.PopAll(
      [&](uint64_t, std::span<const uint8_t> r, EventQueue::Buffer*) { tags.push_back(r[0]); });
  ASSERT_EQ(tags.size(), 20u);
  for (uint8_t i = 0; i < 20; ++i) EXPECT_EQ(tags[i], i);
}

// A visitor that takes a record's buffer (the unwind engine taking a stack copy) leaves the queue
// another, of any size, to reuse: later records arrive whole.
TEST(EventQueueTest, VisitorsMayTakeBuffers) {
  EventQueue q;
  std::vector<EventQueue::Buffer> taken;
  for (uint8_t round = 0; round < 3; ++round) {
    for (uint8_t i = 0; i < 4; ++i) q.Push(i, std::vector<uint8_t>(24 + 8 * i, 10 * round + i));
    q.PopAll([&](uint64_t, std::span<const uint8_t> r, EventQueue::Buffer* buffer) {
      ASSERT_EQ(reinterpret_cast<const uint8_t*>(buffer->data()), r.data());
      EXPECT_EQ(r.size(), 24u + 8 * (r[0] % 10));
      for (uint8_t b : r) EXPECT_EQ(b, r[0]);
      EventQueue::Buffer other(round);  // what the taker gives back: here smaller, or empty
      std::swap(*buffer, other);
      taken.push_back(std::move(other));
    });
  }
  ASSERT_EQ(taken.size(), 12u);
  // Taken buffers keep their record's bytes.
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(taken[5].data())[0], 11);
}

// Records that outlive the queue (a mapped file) are delivered where they lie, without a buffer,
// in time order among copied ones.
TEST(EventQueueTest, LastingRecordsStayWhereTheyLie) {
  EventQueue q;
  const std::vector<uint8_t> lasting_a = Bytes(1), lasting_b = Bytes(3);
  q.PushLasting(300, lasting_b);
  q.Push(200, Bytes(2));
  q.PushLasting(100, lasting_a);
  EXPECT_EQ(q.bytes(), 24u);
  std::vector<uint8_t> tags;
  q.PopAll([&](uint64_t, std::span<const uint8_t> r, EventQueue::Buffer* buffer) {
    tags.push_back(r[0]);
    if (r[0] == 1) {
      EXPECT_EQ(r.data(), lasting_a.data());
    } else if (r[0] == 3) {
      EXPECT_EQ(r.data(), lasting_b.data());
    }
    EXPECT_EQ(buffer == nullptr, r[0] != 2);
  });
  EXPECT_EQ(tags, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(q.bytes(), 0u);
}

}  // namespace
}  // namespace dprof::tracer
