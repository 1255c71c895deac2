#include "dprof/unwind/address_space.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "dprof/unwind/binary.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dprof::unwind {
namespace {

using ::testing::HasSubstr;

// A function of this test binary, to find in its own address space.
__attribute__((noinline)) int AFunctionOfThisBinary() { return 42; }

TEST(AddressSpaceTest, ParsesMapsLines) {
  AddressSpace space(nullptr);
  ASSERT_TRUE(space
                  .AddMaps("55d0c0de0000-55d0c0de1000 r--p 00000000 fd:01 12 /usr/bin/a b\n"
                           "55d0c0de1000-55d0c0de5000 r-xp 00001000 fd:01 12 /usr/bin/a b\n"
                           "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0  [stack]\n"
                           "7f0000000000-7f0000001000 r-xp 00000000 fd:01 13 /tmp/x (deleted)\n"
                           "7f0000002000-7f0000003000 rw-p 00000000 00:00 0 \n")
                  .ok());
  ASSERT_EQ(space.mappings().size(), 5u);
  const Mapping* text = space.Find(0x55d0c0de2345);
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(text->path, "/usr/bin/a b");  // paths keep their spaces
  EXPECT_EQ(text->pgoff, 0x1000u);
  EXPECT_TRUE(text->executable());
  EXPECT_EQ(text->prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(space.Find(0x7ffd00000010)->path, "[stack]");
  EXPECT_EQ(space.Find(0x7f0000000010)->path, "/tmp/x (deleted)");
  EXPECT_EQ(space.Find(0x7f0000002000)->path, "");
  EXPECT_EQ(space.Find(0x55d0c0de5000), nullptr);  // end is exclusive
  EXPECT_EQ(space.Find(0x1000), nullptr);
}

TEST(AddressSpaceTest, MalformedLinesAreNamed) {
  AddressSpace space(nullptr);
  const absl::Status status =
      space.AddMaps("00400000-00401000 r-xp 0 fd:01 1 /bin/x\nnot a line\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("maps line 2"));
  EXPECT_THAT(status.message(), HasSubstr("not a line"));
  EXPECT_FALSE(space.AddMaps("00402000-00401000 r-xp 0 fd:01 1 /bin/x\n").ok());  // end < start
}

TEST(AddressSpaceTest, MapCutsWhatItOverlaps) {
  AddressSpace space(nullptr);
  space.Map({.start = 0x1000, .end = 0x5000, .pgoff = 0x10000, .path = "/a"});
  const uint64_t before = space.id();
  space.Map({.start = 0x2000, .end = 0x3000, .path = "/b"});  // mmap MAP_FIXED into the middle
  EXPECT_NE(space.id(), before);                              // a new version
  ASSERT_EQ(space.mappings().size(), 3u);
  EXPECT_EQ(space.Find(0x1800)->path, "/a");
  EXPECT_EQ(space.Find(0x2800)->path, "/b");
  const Mapping* above = space.Find(0x3800);
  EXPECT_EQ(above->path, "/a");
  EXPECT_EQ(above->start, 0x3000u);
  EXPECT_EQ(above->pgoff, 0x12000u);  // the file offset moved with the start
  space.Unmap(0x1000, 0x2800);
  EXPECT_EQ(space.Find(0x1800), nullptr);
  EXPECT_EQ(space.Find(0x2900)->start, 0x2800u);
  EXPECT_EQ(space.mappings().size(), 2u);
}

TEST(AddressSpaceTest, CopiesAreNewVersions) {
  AddressSpace space(nullptr);
  AddressSpace copy = space;
  EXPECT_NE(copy.id(), space.id());
}

TEST(AddressSpaceTest, OwnProcessHasTheRightBias) {
  BinaryCache binaries;
  absl::StatusOr<AddressSpace> space = AddressSpace::FromProc(getpid(), &binaries);
  ASSERT_TRUE(space.ok()) << space.status();
  const uint64_t address = reinterpret_cast<uint64_t>(&AFunctionOfThisBinary);
  const Mapping* m = space->Find(address);
  ASSERT_NE(m, nullptr);
  ASSERT_NE(m->binary, nullptr);
  EXPECT_TRUE(m->executable());
  EXPECT_FALSE(m->build_id.empty());
  EXPECT_EQ(m->build_id, m->binary->build_id());
  // The dynamic loader, asked independently, loaded this position-independent executable (first
  // PT_LOAD at virtual address 0) where the bias says.
  Dl_info info;
  ASSERT_NE(dladdr(reinterpret_cast<void*>(address), &info), 0);
  EXPECT_EQ(m->bias, reinterpret_cast<uint64_t>(info.dli_fbase));
  // libc, a shared library with a search table over its .eh_frame.
  const Mapping* libc = space->Find(reinterpret_cast<uint64_t>(&std::fopen));
  ASSERT_NE(libc, nullptr);
  ASSERT_NE(libc->binary, nullptr);
  EXPECT_TRUE(libc->binary->eh_frame_hdr().has_value());
  EXPECT_GT(libc->binary->eh_frame_hdr()->fde_count, 100u);
}

TEST(AddressSpaceTest, ProcErrorsSayWhat) {
  BinaryCache binaries;
  absl::StatusOr<AddressSpace> gone = AddressSpace::FromProc(999999999, &binaries);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(gone.status().message(), HasSubstr("process 999999999 does not exist"));
}

TEST(AddressSpaceTest, ReplacedFileIsNotTrusted) {
  BinaryCache binaries;
  AddressSpace space(&binaries);
  // The kernel saw a different build-id than the file on disk now has.
  space.Map({.start = 0x400000,
             .end = 0x401000,
             .pgoff = 0,
             .prot = PROT_READ | PROT_EXEC,
             .path = "/proc/self/exe",
             .build_id = "not the same build"});
  ASSERT_NE(space.Find(0x400000), nullptr);
  EXPECT_EQ(space.Find(0x400000)->binary, nullptr);
}

class BinaryCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("dprof-binary-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(BinaryCacheTest, OpensOnceAndSharesByFileAndBuildId) {
  BinaryCache binaries;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  std::shared_ptr<const Binary> a = binaries.Open(self);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(binaries.Open(self), a);  // the same file again
  std::filesystem::create_symlink(self, dir_ / "link");
  EXPECT_EQ(binaries.Open((dir_ / "link").string()), a);  // the same file by another name
  std::filesystem::copy_file(self, dir_ / "copy");
  EXPECT_EQ(binaries.Open((dir_ / "copy").string()), a);  // another file, same build-id
  EXPECT_EQ(binaries.size(), 2u);                         // two files seen, one Binary
  EXPECT_NE(a->id(), 0u);
  EXPECT_FALSE(a->segments().empty());
}

TEST_F(BinaryCacheTest, NonElfAndMissingFilesGiveNothing) {
  BinaryCache binaries;
  std::ofstream(dir_ / "text") << "not an ELF file\n";
  EXPECT_EQ(binaries.Open((dir_ / "text").string()), nullptr);
  EXPECT_EQ(binaries.Open((dir_ / "missing").string()), nullptr);
  absl::StatusOr<std::unique_ptr<Binary>> direct = Binary::Open((dir_ / "text").string());
  EXPECT_THAT(direct.status().message(), HasSubstr("is not an ELF file"));
  direct = Binary::Open((dir_ / "missing").string());
  EXPECT_EQ(direct.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace dprof::unwind
