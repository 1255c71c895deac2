#include "dprof/tracer/records.h"

#include <sys/mman.h>

#include <deque>
#include <vector>

#include "dprof/tracer/perf_abi.h"
#include "gtest/gtest.h"
#include "tests/tracer/record_builder.h"

namespace dprof::tracer {
namespace {

using testing::RecordBuilder;

constexpr uint64_t kId = 77;
constexpr uint64_t kType = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID |
                           PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD;
const event::SampleId kSid{.pid = 10, .tid = 11, .time = 123456, .cpu = 1, .id = kId};

class RecordsTest : public ::testing::Test {
 protected:
  RecordsTest() {
    parser_.AddEvent(kId, {.sample_type = kType, .regs_user_mask = 0});
    parser_.AddEvent(kDwarfId, {.sample_type = kType | PERF_SAMPLE_CALLCHAIN |
                                               PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER,
                                .regs_user_mask = abi::kUserRegsMask});
  }
  // Parsed records point into their bytes: the fixture keeps them alive.
  template <typename T>
  T ParseAs(std::vector<uint8_t> record) {
    const std::vector<uint8_t>& bytes = kept_.emplace_back(std::move(record));
    Record r;
    EXPECT_EQ(parser_.Parse(bytes, &r), ParseStatus::kOk);
    EXPECT_TRUE(std::holds_alternative<T>(r));
    return std::holds_alternative<T>(r) ? std::get<T>(r) : T{};
  }
  static void ExpectSid(const event::SampleId& sid) {
    EXPECT_EQ(sid.pid, kSid.pid);
    EXPECT_EQ(sid.tid, kSid.tid);
    EXPECT_EQ(sid.time, kSid.time);
    EXPECT_EQ(sid.cpu, kSid.cpu);
    EXPECT_EQ(sid.id, kId);
  }

  static constexpr uint64_t kDwarfId = 78;
  RecordParser parser_;
  std::deque<std::vector<uint8_t>> kept_;
};

TEST_F(RecordsTest, SampleWithUserRegistersAndStack) {
  RecordBuilder b(PERF_RECORD_SAMPLE, PERF_RECORD_MISC_USER);
  b.U64(kDwarfId).U64(0x401000).U32(10).U32(11).U64(5000).U32(1).U32(0).U64(1001001);
  b.U64(3).U64(PERF_CONTEXT_KERNEL).U64(0xffffffff81000000).U64(0xffffffff81000100);
  b.U64(abi::kRegsAbi64);
  for (int i = 0; i < 17; ++i) b.U64(100 + i);  // ax bx cx dx si di bp sp ip r8..r15
  b.U64(32);                                    // stack: 32 bytes reserved
  for (int i = 0; i < 4; ++i) b.U64(0xaa00 + i);
  b.U64(24);  // 24 valid
  const SampleRecord s = ParseAs<SampleRecord>(b.Finish());
  EXPECT_TRUE(s.user_mode());
  EXPECT_EQ(s.ip, 0x401000u);
  EXPECT_EQ(s.period, 1001001u);
  EXPECT_EQ(s.callchain.size(), 3u);
  EXPECT_EQ(s.regs.size(), 17u);
  uint64_t sp, ip, r15;
  ASSERT_TRUE(s.Reg(abi::kPerfRegSp, &sp));
  ASSERT_TRUE(s.Reg(abi::kPerfRegIp, &ip));
  ASSERT_TRUE(s.Reg(abi::kPerfRegR15, &r15));
  EXPECT_EQ(sp, 107u);
  EXPECT_EQ(ip, 108u);
  EXPECT_EQ(r15, 116u);
  EXPECT_EQ(s.stack.size(), 24u);
  EXPECT_EQ(s.stack_reserved, 32u);
}

TEST_F(RecordsTest, KernelThreadSampleHasNoRegisters) {
  RecordBuilder b(PERF_RECORD_SAMPLE, PERF_RECORD_MISC_KERNEL);
  b.U64(kDwarfId).U64(0xffffffff81000000).U32(0).U32(0).U64(1).U32(0).U32(0).U64(1);
  b.U64(0);                  // empty callchain
  b.U64(abi::kRegsAbiNone);  // no registers follow
  b.U64(0);                  // stack size 0: no data, no dyn_size
  const SampleRecord s = ParseAs<SampleRecord>(b.Finish());
  EXPECT_FALSE(s.user_mode());
  EXPECT_TRUE(s.regs.empty());
  EXPECT_TRUE(s.stack.empty());
}

TEST_F(RecordsTest, Mmap2WithBuildIdAndWithInode) {
  RecordBuilder b(PERF_RECORD_MMAP2, PERF_RECORD_MISC_MMAP_BUILD_ID);
  b.U32(10).U32(11).U64(0x400000).U64(0x2000).U64(0x1000);
  b.U8(20).U8(0).U8(0).U8(0);
  for (int i = 0; i < 20; ++i) b.U8(static_cast<uint8_t>(i));
  b.U32(PROT_READ | PROT_EXEC).U32(MAP_PRIVATE).PaddedString("/usr/bin/app");
  b.Trailer(kType, kSid);
  const event::Mmap2Record m = ParseAs<event::Mmap2Record>(b.Finish());
  EXPECT_EQ(m.address, 0x400000u);
  EXPECT_EQ(m.length, 0x2000u);
  EXPECT_EQ(m.pgoff, 0x1000u);
  EXPECT_EQ(m.build_id.size(), 20u);
  EXPECT_EQ(m.build_id[19], 19);
  EXPECT_EQ(m.prot, static_cast<uint32_t>(PROT_READ | PROT_EXEC));
  EXPECT_EQ(m.filename, "/usr/bin/app");
  ExpectSid(m.sid);

  RecordBuilder c(PERF_RECORD_MMAP2);
  c.U32(10).U32(11).U64(0x7f0000).U64(0x1000).U64(0).U32(8).U32(1).U64(12345).U64(0);
  c.U32(PROT_READ).U32(MAP_SHARED).PaddedString("/lib/x.so").Trailer(kType, kSid);
  const event::Mmap2Record n = ParseAs<event::Mmap2Record>(c.Finish());
  EXPECT_TRUE(n.build_id.empty());
  EXPECT_EQ(n.filename, "/lib/x.so");
}

TEST_F(RecordsTest, CommForkExit) {
  const event::CommRecord c =
      ParseAs<event::CommRecord>(RecordBuilder(PERF_RECORD_COMM, PERF_RECORD_MISC_COMM_EXEC)
                                     .U32(10)
                                     .U32(10)
                                     .PaddedString("worker-1")
                                     .Trailer(kType, kSid)
                                     .Finish());
  EXPECT_EQ(c.comm, "worker-1");
  EXPECT_TRUE(c.exec);
  ExpectSid(c.sid);

  const event::TaskRecord f = ParseAs<event::TaskRecord>(RecordBuilder(PERF_RECORD_FORK)
                                                             .U32(20)
                                                             .U32(10)
                                                             .U32(21)
                                                             .U32(11)
                                                             .U64(999)
                                                             .Trailer(kType, kSid)
                                                             .Finish());
  EXPECT_FALSE(f.exit);
  EXPECT_EQ(f.pid, 20u);
  EXPECT_EQ(f.ppid, 10u);
  EXPECT_EQ(f.tid, 21u);
  EXPECT_EQ(f.ptid, 11u);
  EXPECT_EQ(f.time, 999u);
  const event::TaskRecord e = ParseAs<event::TaskRecord>(RecordBuilder(PERF_RECORD_EXIT)
                                                             .U32(20)
                                                             .U32(10)
                                                             .U32(21)
                                                             .U32(11)
                                                             .U64(1000)
                                                             .Trailer(kType, kSid)
                                                             .Finish());
  EXPECT_TRUE(e.exit);
}

TEST_F(RecordsTest, LostThrottleAndSwitch) {
  const LostRecord l = ParseAs<LostRecord>(
      RecordBuilder(PERF_RECORD_LOST).U64(kId).U64(42).Trailer(kType, kSid).Finish());
  EXPECT_EQ(l.lost, 42u);
  const LostSamplesRecord ls = ParseAs<LostSamplesRecord>(
      RecordBuilder(PERF_RECORD_LOST_SAMPLES).U64(7).Trailer(kType, kSid).Finish());
  EXPECT_EQ(ls.lost, 7u);
  const ThrottleRecord t = ParseAs<ThrottleRecord>(
      RecordBuilder(PERF_RECORD_THROTTLE).U64(555).U64(kId).U64(0).Trailer(kType, kSid).Finish());
  EXPECT_TRUE(t.throttle);
  EXPECT_EQ(t.time, 555u);
  const ThrottleRecord u = ParseAs<ThrottleRecord>(
      RecordBuilder(PERF_RECORD_UNTHROTTLE).U64(556).U64(kId).U64(0).Trailer(kType, kSid).Finish());
  EXPECT_FALSE(u.throttle);

  const SwitchRecord out = ParseAs<SwitchRecord>(
      RecordBuilder(PERF_RECORD_SWITCH,
                    PERF_RECORD_MISC_SWITCH_OUT | PERF_RECORD_MISC_SWITCH_OUT_PREEMPT)
          .Trailer(kType, kSid)
          .Finish());
  EXPECT_TRUE(out.out);
  EXPECT_TRUE(out.preempt);
  EXPECT_FALSE(out.cpu_wide);
  const SwitchRecord in = ParseAs<SwitchRecord>(
      RecordBuilder(PERF_RECORD_SWITCH_CPU_WIDE).U32(30).U32(31).Trailer(kType, kSid).Finish());
  EXPECT_FALSE(in.out);
  EXPECT_TRUE(in.cpu_wide);
  EXPECT_EQ(in.next_prev_tid, 31u);
  ExpectSid(in.sid);
}

TEST_F(RecordsTest, DeferredCallchain) {
  const DeferredCallchainRecord d =
      ParseAs<DeferredCallchainRecord>(RecordBuilder(abi::kRecordCallchainDeferred)
                                           .U64(0x0000000500000001)
                                           .U64(3)
                                           .U64(PERF_CONTEXT_USER)
                                           .U64(0x401000)
                                           .U64(0x402000)
                                           .Trailer(kType, kSid)
                                           .Finish());
  EXPECT_EQ(d.cookie, 0x0000000500000001u);
  ASSERT_EQ(d.ips.size(), 3u);
  EXPECT_EQ(d.ips[2], 0x402000u);
  ExpectSid(d.sid);
}

TEST_F(RecordsTest, UnknownForeignAndMalformedRecordsAreReportedNotMisparsed) {
  Record r;
  const auto unknown = RecordBuilder(99).U64(1).Trailer(kType, kSid).Finish();
  EXPECT_EQ(parser_.Parse(unknown, &r), ParseStatus::kUnknownType);
  EXPECT_EQ(std::get<UnknownRecord>(r).size, unknown.size());

  event::SampleId foreign = kSid;
  foreign.id = 12345;
  EXPECT_EQ(
      parser_.Parse(RecordBuilder(PERF_RECORD_LOST_SAMPLES).U64(1).Trailer(kType, foreign).Finish(),
                    &r),
      ParseStatus::kUnknownEvent);

  // A callchain count that runs past the record.
  RecordBuilder b(PERF_RECORD_SAMPLE);
  b.U64(kDwarfId).U64(0).U32(1).U32(1).U64(1).U32(0).U32(0).U64(1).U64(1000000).U64(1);
  EXPECT_EQ(parser_.Parse(b.Finish(), &r), ParseStatus::kMalformed);
  // A deferred callchain whose count reaches into the trailer.
  EXPECT_EQ(parser_.Parse(RecordBuilder(abi::kRecordCallchainDeferred)
                              .U64(1)
                              .U64(4)
                              .U64(1)
                              .Trailer(kType, kSid)
                              .Finish(),
                          &r),
            ParseStatus::kMalformed);
  // Shorter than its trailer.
  EXPECT_EQ(parser_.Parse(RecordBuilder(PERF_RECORD_EXIT).U64(kId).Finish(), &r),
            ParseStatus::kMalformed);
}

// A perf.data file of one event: no IDENTIFIER, perf's default layout (IP, TID, TIME, ADDR, ID,
// CPU, PERIOD), the sample_id trailer in the kernel's order; and the first MMAP layout, which
// perf uses for the kernel.
TEST(RecordsOnlyEventTest, RecordsWithoutIdentifierFollowTheOnlyEvent) {
  constexpr uint64_t type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ADDR |
                            PERF_SAMPLE_ID | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD |
                            PERF_SAMPLE_CALLCHAIN;
  RecordParser parser;
  EXPECT_FALSE(parser.AddEvent(1, {.sample_type = type})) << "no IDENTIFIER";
  EXPECT_FALSE(parser.SetDefaultEvent({.sample_type = type | PERF_SAMPLE_BRANCH_STACK}));
  ASSERT_TRUE(parser.SetDefaultEvent({.sample_type = type}));

  const std::vector<uint8_t> sample = RecordBuilder(PERF_RECORD_SAMPLE, PERF_RECORD_MISC_USER)
                                          .U64(0x401000)    // ip
                                          .U32(10)          // pid
                                          .U32(11)          // tid
                                          .U64(123456)      // time
                                          .U64(0x7fff0000)  // addr
                                          .U64(42)          // id
                                          .U32(1)           // cpu
                                          .U32(0)           // res
                                          .U64(1000)        // period
                                          .U64(2)           // callchain
                                          .U64(0x401000)
                                          .U64(0x402000)
                                          .Finish();
  Record r;
  ASSERT_EQ(parser.Parse(sample, &r), ParseStatus::kOk);
  const SampleRecord& s = std::get<SampleRecord>(r);
  EXPECT_EQ(s.ip, 0x401000u);
  EXPECT_EQ(s.addr, 0x7fff0000u);
  EXPECT_EQ(s.sid.pid, 10u);
  EXPECT_EQ(s.sid.tid, 11u);
  EXPECT_EQ(s.sid.time, 123456u);
  EXPECT_EQ(s.sid.id, 42u);
  EXPECT_EQ(s.sid.cpu, 1u);
  EXPECT_EQ(s.period, 1000u);
  EXPECT_EQ(s.callchain.size(), 2u);
  event::SampleId sid;
  ASSERT_TRUE(parser.ParseSampleId(sample, &sid));
  EXPECT_EQ(sid.time, 123456u);

  // The trailer of this layout: TID, TIME, ID, CPU.
  const std::vector<uint8_t> kernel = RecordBuilder(PERF_RECORD_MMAP, PERF_RECORD_MISC_KERNEL)
                                          .U32(0xffffffff)
                                          .U32(0)
                                          .U64(0xffffffff81000000)
                                          .U64(0x1000000)
                                          .U64(0xffffffff81000000)
                                          .PaddedString("[kernel.kallsyms]_text")
                                          .U32(0)   // pid
                                          .U32(0)   // tid
                                          .U64(5)   // time
                                          .U64(42)  // id
                                          .U32(0)   // cpu
                                          .U32(0)   // res
                                          .Finish();
  ASSERT_EQ(parser.Parse(kernel, &r), ParseStatus::kOk);
  const event::Mmap2Record& m = std::get<event::Mmap2Record>(r);
  EXPECT_EQ(m.address, 0xffffffff81000000u);
  EXPECT_EQ(m.length, 0x1000000u);
  EXPECT_EQ(m.filename, "[kernel.kallsyms]_text");
  EXPECT_EQ(m.prot, uint32_t{PROT_READ | PROT_EXEC});
  EXPECT_EQ(m.sid.time, 5u);
  EXPECT_EQ(m.sid.id, 42u);
}

}  // namespace
}  // namespace dprof::tracer
