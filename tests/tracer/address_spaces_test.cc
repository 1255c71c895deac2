// The tracer's per-process address-space model, from hand-made records and a fake /proc.
#include "tracer/internal/address_spaces.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace dprof::tracer::internal {
namespace {

class AddressSpacesTest : public ::testing::Test {
 protected:
  // /proc/PID/maps as the fake reads it: one mapping per pid in `maps_`; pids not there are gone.
  AddressSpaces spaces_{
      &binaries_, [this](uint32_t pid) -> absl::StatusOr<unwind::AddressSpace> {
        ++reads_[pid];
        auto it = maps_.find(pid);
        if (it == maps_.end()) return absl::NotFoundError("gone");
        unwind::AddressSpace space(&binaries_, "", static_cast<pid_t>(pid));
        if (it->second != 0) {
          space.Map(
              {.start = it->second, .end = it->second + 0x1000, .prot = 5, .path = "/proc-maps"});
        }
        return space;
      }};

  static event::Mmap2Record Mmap(uint32_t pid, uint64_t start, std::string_view path) {
    event::Mmap2Record m;
    m.pid = pid;
    m.address = start;
    m.length = 0x1000;
    m.prot = 5;
    m.filename = path;
    return m;
  }
  // The path mapped at `address` in `space`, or "" when nothing is.
  static std::string PathAt(const std::shared_ptr<const unwind::AddressSpace>& space,
                            uint64_t address) {
    const unwind::Mapping* m = space ? space->Find(address) : nullptr;
    return m == nullptr ? "" : m->path;
  }
  std::shared_ptr<const unwind::AddressSpace> For(uint32_t pid) {
    return spaces_.For(pid, [this](uint32_t p, const unwind::AddressSpace& s) {
      announced_[p] = s.mappings().size();
    });
  }

  unwind::BinaryCache binaries_;
  std::map<uint32_t, uint64_t> maps_;  // pid -> the start of its one mapping (0: none)
  std::map<uint32_t, int> reads_;
  std::map<uint32_t, size_t> announced_;  // pid -> mappings announced
};

TEST_F(AddressSpacesTest, AttachReadsAndAnnouncesTheMapsOnce) {
  maps_[10] = 0x400000;
  ASSERT_TRUE(spaces_.Attach(10, [this](uint32_t p, const unwind::AddressSpace& s) {
    announced_[p] = s.mappings().size();
  }));
  EXPECT_EQ(announced_[10], 1u);
  EXPECT_EQ(PathAt(For(10), 0x400100), "/proc-maps");
  EXPECT_EQ(reads_[10], 1) << "a sample of an attached process reads nothing more";
  EXPECT_FALSE(spaces_.Attach(11, [](uint32_t, const unwind::AddressSpace&) {}));
  EXPECT_EQ(spaces_.Of(11), nullptr);
}

TEST_F(AddressSpacesTest, AForkedChildStartsWithItsParentsMappingsAndThenGoesItsOwnWay) {
  maps_[10] = 0x400000;
  spaces_.Attach(10, [](uint32_t, const unwind::AddressSpace&) {});
  spaces_.Fork(10, 20);
  EXPECT_EQ(PathAt(For(20), 0x400100), "/proc-maps");
  EXPECT_EQ(reads_[20], 0) << "the child's maps are its parent's: no /proc read";
  spaces_.Map(Mmap(20, 0x500000, "/child-only"));
  EXPECT_EQ(PathAt(For(20), 0x500100), "/child-only");
  EXPECT_EQ(PathAt(For(10), 0x500100), "") << "the parent does not see its child's mmap";
}

TEST_F(AddressSpacesTest, ExecStartsEmptyAndIsFilledByTheRecordsNotByProc) {
  maps_[10] = 0x400000;
  spaces_.Attach(10, [](uint32_t, const unwind::AddressSpace&) {});
  const std::shared_ptr<const unwind::AddressSpace> before = For(10);
  spaces_.Exec(10);
  spaces_.Map(Mmap(10, 0x600000, "/new-program"));
  EXPECT_EQ(PathAt(For(10), 0x400100), "") << "the old program is gone";
  EXPECT_EQ(PathAt(For(10), 0x600100), "/new-program");
  EXPECT_EQ(reads_[10], 1);
  EXPECT_EQ(PathAt(before, 0x400100), "/proc-maps") << "a snapshot keeps the space it had";
}

TEST_F(AddressSpacesTest, AProcessMetAtItsFirstSampleIsReadThenAndAnnounced) {
  maps_[30] = 0x700000;
  EXPECT_EQ(PathAt(For(30), 0x700100), "/proc-maps");
  EXPECT_EQ(announced_[30], 1u);
  For(30);
  EXPECT_EQ(reads_[30], 1);
}

TEST_F(AddressSpacesTest, ALaunchedCommandIsReadAtItsFirstSample) {
  maps_[40] = 0x800000;
  spaces_.Launched(40);
  EXPECT_EQ(PathAt(spaces_.Of(40), 0x800100), "");
  EXPECT_EQ(PathAt(For(40), 0x800100), "/proc-maps");
}

TEST_F(AddressSpacesTest, AnExitedProcessKeepsWhatItsRecordsSaid) {
  maps_[50] = 0;  // exited, not reaped: /proc/50/maps reads empty
  spaces_.Map(Mmap(50, 0x900000, "/from-records"));
  EXPECT_EQ(PathAt(For(50), 0x900100), "/from-records");
  EXPECT_EQ(announced_.count(50), 0u);
  EXPECT_NE(For(60), nullptr) << "a process gone entirely still gets an (empty) space";
}

}  // namespace
}  // namespace dprof::tracer::internal
