#include "dprof/tracer/tracepoint.h"

#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dprof::tracer {
namespace {

// As Linux 6.18 prints it.
constexpr char kSchedSwitch[] = R"(name: sched_switch
ID: 372
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:char prev_comm[16];	offset:8;	size:16;	signed:0;
	field:pid_t prev_pid;	offset:24;	size:4;	signed:1;
	field:int prev_prio;	offset:28;	size:4;	signed:1;
	field:long prev_state;	offset:32;	size:8;	signed:1;
	field:char next_comm[16];	offset:40;	size:16;	signed:0;
	field:pid_t next_pid;	offset:56;	size:4;	signed:1;
	field:int next_prio;	offset:60;	size:4;	signed:1;

print fmt: "prev_comm=%s prev_pid=%d", REC->prev_comm, REC->prev_pid
)";

TEST(TracepointTest, ParsesFieldsAndReadsThemFromRawData) {
  absl::StatusOr<Tracepoint> tp = ParseTracepointFormat("sched", "sched_switch", kSchedSwitch);
  ASSERT_TRUE(tp.ok()) << tp.status();
  EXPECT_EQ(tp->id, 372u);
  EXPECT_EQ(tp->FullName(), "sched:sched_switch");
  ASSERT_EQ(tp->fields.size(), 11u);
  const TracepointField* comm = tp->Field("prev_comm");
  ASSERT_NE(comm, nullptr);
  EXPECT_EQ(comm->offset, 8u);
  EXPECT_EQ(comm->size, 16u);

  std::vector<uint8_t> raw(64, 0);
  std::memcpy(raw.data() + 8, "worker-1", 8);
  const int32_t pid = -5;  // signed fields sign-extend
  std::memcpy(raw.data() + 24, &pid, 4);
  const int64_t state = 2;
  std::memcpy(raw.data() + 32, &state, 8);
  int64_t v;
  ASSERT_TRUE(tp->ReadInt(raw, "prev_pid", &v));
  EXPECT_EQ(v, -5);
  ASSERT_TRUE(tp->ReadInt(raw, "prev_state", &v));
  EXPECT_EQ(v, 2);
  EXPECT_EQ(tp->ReadString(raw, "prev_comm"), "worker-1");
  EXPECT_FALSE(tp->ReadInt(raw, "no_such_field", &v));
  EXPECT_FALSE(tp->ReadInt(std::span<const uint8_t>(raw).first(30), "prev_state", &v))
      << "a field beyond the raw data is not read";
}

TEST(TracepointTest, DataLocStringsPointElsewhereInTheRecord) {
  absl::StatusOr<Tracepoint> tp = ParseTracepointFormat("x", "y", R"(ID: 9
	field:__data_loc char[] filename;	offset:8;	size:4;	signed:0;
)");
  ASSERT_TRUE(tp.ok()) << tp.status();
  EXPECT_EQ(tp->fields[0].name, "filename");
  EXPECT_TRUE(tp->fields[0].data_loc);
  std::vector<uint8_t> raw(32, 0);
  const uint32_t loc = (6u << 16) | 16;  // 6 bytes at offset 16
  std::memcpy(raw.data() + 8, &loc, 4);
  std::memcpy(raw.data() + 16, "/a/b.c", 6);
  EXPECT_EQ(tp->ReadString(raw, "filename"), "/a/b.c");
}

TEST(TracepointTest, MalformedFormatIsRejected) {
  EXPECT_FALSE(ParseTracepointFormat("x", "y", "field:int a;\toffset:0;\tsize:4;\n").ok())
      << "no ID";
  EXPECT_FALSE(ParseTracepointFormat("x", "y", "ID: 3\nfield:int a;\tsize:4;\n").ok())
      << "no offset";
}

TEST(TracepointTest, CloseMatchesSuggestWhatWasMeant) {
  const std::vector<std::string> all = {"sched:sched_switch", "sched:sched_wakeup",
                                        "syscalls:sys_enter_read", "syscalls:sys_exit_read",
                                        "irq:irq_handler_entry"};
  EXPECT_THAT(CloseMatches("sched:sched_swich", all), ::testing::ElementsAre("sched:sched_switch"));
  EXPECT_THAT(CloseMatches("sched_switch", all), ::testing::Contains("sched:sched_switch"));
  EXPECT_THAT(CloseMatches("syscalls:sys_enter_reed", all),
              ::testing::Contains("syscalls:sys_enter_read"));
  EXPECT_TRUE(CloseMatches("completely:different", all).empty());
}

TEST(TracepointTest, UnknownTracepointInTracefsListsCloseMatches) {
  const std::string root = ::testing::TempDir() + "/tracefs_test";
  ASSERT_EQ(system(("mkdir -p " + root + "/events/sched/sched_switch").c_str()), 0);
  FILE* f = fopen((root + "/events/sched/sched_switch/format").c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(kSchedSwitch, f);
  fclose(f);
  Tracefs tracefs(root);
  EXPECT_TRUE(tracefs.Load("sched:sched_switch").ok());
  absl::StatusOr<Tracepoint> missing = tracefs.Load("sched:sched_swtch");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              ::testing::HasSubstr("did you mean sched:sched_switch?"));
  EXPECT_EQ(tracefs.Load("../../etc:passwd").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dprof::tracer
