#include "dprof/tracer/ring_buffer.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tracer/record_builder.h"

namespace dprof::tracer {
namespace {

using testing::RecordBuilder;

// A metadata page and a small data area, written the way the kernel writes.
class RingBufferTest : public ::testing::Test {
 protected:
  static constexpr size_t kData = 256;
  RingBufferTest()
      : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))),
        // aligned_alloc wants a multiple of the alignment: a whole page for the data.
        memory_(static_cast<uint8_t*>(std::aligned_alloc(page_, 2 * page_))),
        ring_(memory_, page_, kData) {
    std::memset(memory_, 0, page_ + kData);
  }
  ~RingBufferTest() override { std::free(memory_); }

  perf_event_mmap_page* meta() { return reinterpret_cast<perf_event_mmap_page*>(memory_); }
  void Put(const std::vector<uint8_t>& bytes, bool publish = true) {
    for (size_t i = 0; i < bytes.size(); ++i) memory_[page_ + (head_ + i) % kData] = bytes[i];
    head_ += bytes.size();
    if (publish) Publish();
  }
  void Publish() {
    std::atomic_ref<__u64>(meta()->data_head).store(head_, std::memory_order_release);
  }
  std::vector<std::vector<uint8_t>> ReadAll() {
    std::vector<std::vector<uint8_t>> out;
    ring_.Read([&](std::span<const uint8_t> r) { out.emplace_back(r.begin(), r.end()); });
    return out;
  }
  static std::vector<uint8_t> Record(uint64_t tag, size_t words) {
    RecordBuilder b(PERF_RECORD_LOST);
    for (size_t i = 0; i < words; ++i) b.U64(tag + i);
    return b.Finish();
  }

  size_t page_;
  uint8_t* memory_;
  RingBuffer ring_;
  uint64_t head_ = 0;
};

TEST_F(RingBufferTest, DeliversRecordsInOrderAndFreesTheirSpace) {
  const auto a = Record(1, 2), b = Record(10, 3);
  Put(a);
  Put(b);
  EXPECT_EQ(ReadAll(), (std::vector<std::vector<uint8_t>>{a, b}));
  EXPECT_EQ(meta()->data_tail, head_);
  EXPECT_TRUE(ring_.Empty());
  EXPECT_TRUE(ReadAll().empty());
}

TEST_F(RingBufferTest, RecordThatWrapsAroundTheEndArrivesWhole) {
  // 200 bytes, then a 120-byte record that crosses the 256-byte end.
  Put(Record(0, 24));
  ASSERT_EQ(ReadAll().size(), 1u);
  const auto wrapping = Record(100, 14);
  ASSERT_EQ(wrapping.size(), 120u);
  Put(wrapping);
  EXPECT_EQ(ReadAll(), (std::vector<std::vector<uint8_t>>{wrapping}));
  EXPECT_EQ(ring_.stats().wrapped, 1u);
  // A header split by the end too.
  const auto next = Record(7, 1);
  Put(next);
  Put(Record(0, 12));
  EXPECT_EQ(ReadAll().front(), next);
}

TEST_F(RingBufferTest, PartialRecordWaitsUntilItIsComplete) {
  const auto r = Record(5, 6);
  const std::vector<uint8_t> first(r.begin(), r.begin() + 20);
  const std::vector<uint8_t> rest(r.begin() + 20, r.end());
  Put(first);
  EXPECT_TRUE(ReadAll().empty());
  EXPECT_EQ(meta()->data_tail, 0u) << "nothing consumed";
  EXPECT_EQ(ring_.stats().partial_waits, 1u);
  Put(rest);
  EXPECT_EQ(ReadAll(), (std::vector<std::vector<uint8_t>>{r}));
}

TEST_F(RingBufferTest, MalformedHeaderDiscardsTheRestInsteadOfLooping) {
  perf_event_header bad{.type = PERF_RECORD_SAMPLE, .misc = 0, .size = 4};
  std::vector<uint8_t> bytes(16, 0);
  std::memcpy(bytes.data(), &bad, sizeof(bad));
  Put(bytes);
  EXPECT_TRUE(ReadAll().empty());
  EXPECT_EQ(ring_.stats().corrupt_bytes, 16u);
  EXPECT_EQ(meta()->data_tail, head_);
  const auto good = Record(3, 1);
  Put(good);
  EXPECT_EQ(ReadAll(), (std::vector<std::vector<uint8_t>>{good}));
}

}  // namespace
}  // namespace dprof::tracer
