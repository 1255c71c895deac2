#include "dprof/unwind/address_space.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
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

TEST(AddressSpaceTest, OnlyFileBackedChangesMakeANewVersion) {
  AddressSpace space(nullptr);
  space.Map({.start = 0x400000, .end = 0x401000, .path = "/bin/x"});
  const uint64_t with_file = space.id();
  space.Map({.start = 0x7f0000000000, .end = 0x7f0000100000});  // malloc'd arena
  space.Map({.start = 0x7ffd0000, .end = 0x7ffe0000, .path = "[stack]"});
  space.Unmap(0x7f0000000000, 0x7f0000001000);
  EXPECT_EQ(space.id(), with_file);  // what unwinders know about did not change
  space.Unmap(0x400000, 0x401000);
  EXPECT_NE(space.id(), with_file);
}

TEST(AddressSpaceTest, EmptyAndInvertedRangesAreIgnored) {
  AddressSpace space(nullptr);
  space.Map({.start = 0x2000, .end = 0x1000, .path = "/x"});
  space.Map({.start = 0x2000, .end = 0x2000, .path = "/x"});
  EXPECT_TRUE(space.mappings().empty());
  space.Map({.start = 0x1000, .end = 0x3000, .path = "/x"});
  space.Unmap(0x2800, 0x1800);
  EXPECT_EQ(space.mappings().size(), 1u);
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

// A process in another mount namespace that has exited: its /proc/PID/root is gone, but the
// build-id the kernel reported still names the file; a different build-id does not.
TEST(AddressSpaceTest, ExitedProcessesFilesAreFoundByBuildId) {
  BinaryCache binaries;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  std::shared_ptr<const Binary> binary = binaries.Open(self);
  ASSERT_NE(binary, nullptr);
  ASSERT_FALSE(binary->build_id().empty());
  AddressSpace space(&binaries, "/proc/999999999/root");
  const Segment* text = nullptr;
  for (const Segment& s : binary->segments()) {
    if ((s.flags & PF_X) != 0) text = &s;
  }
  ASSERT_NE(text, nullptr);
  const uint64_t pgoff = text->offset & ~uint64_t{0xfff};
  space.Map({.start = 0x7f0000000000,
             .end = 0x7f0000001000,
             .pgoff = pgoff,
             .prot = PROT_READ | PROT_EXEC,
             .path = self,
             .build_id = binary->build_id()});
  space.Map({.start = 0x7f1000000000,
             .end = 0x7f1000001000,
             .pgoff = pgoff,
             .prot = PROT_READ | PROT_EXEC,
             .path = self});
  space.Map({.start = 0x7f2000000000,
             .end = 0x7f2000001000,
             .pgoff = pgoff,
             .prot = PROT_READ | PROT_EXEC,
             .path = self,
             .build_id = "another build"});
  EXPECT_EQ(space.Find(0x7f0000000000)->binary, binary);
  EXPECT_EQ(space.Find(0x7f1000000000)->binary, nullptr);  // nothing vouches for the path
  EXPECT_EQ(space.Find(0x7f2000000000)->binary, nullptr);
}

// A file deleted while mapped (an upgraded library): its path no longer opens it, the process's
// /proc/PID/map_files entry for the mapping does.
TEST(AddressSpaceTest, DeletedFileOpensThroughMapFiles) {
  const std::filesystem::path copy =
      std::filesystem::temp_directory_path() / ("dprof-mapped-" + std::to_string(getpid()));
  std::filesystem::copy_file(std::filesystem::read_symlink("/proc/self/exe"), copy,
                             std::filesystem::copy_options::overwrite_existing);
  std::shared_ptr<const Binary> file = Binary::Open(copy.string()).value();
  const Segment* text = nullptr;
  for (const Segment& s : file->segments()) {
    if ((s.flags & PF_X) != 0) text = &s;
  }
  ASSERT_NE(text, nullptr);
  const uint64_t pgoff = text->offset & ~uint64_t{0xfff};
  const int fd = open(copy.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* at = mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, static_cast<off_t>(pgoff));
  close(fd);
  ASSERT_NE(at, MAP_FAILED);
  std::filesystem::remove(copy);

  BinaryCache binaries;
  const uint64_t start = reinterpret_cast<uint64_t>(at);
  AddressSpace space(&binaries, "", getpid());
  space.Map({.start = start,
             .end = start + 4096,
             .pgoff = pgoff,
             .prot = PROT_READ | PROT_EXEC,
             .path = copy.string() + " (deleted)"});
  const Mapping* m = space.Find(start);
  ASSERT_NE(m, nullptr);
  ASSERT_NE(m->binary, nullptr);
  EXPECT_EQ(m->binary->build_id(), file->build_id());
  EXPECT_EQ(m->bias, start - pgoff - text->vaddr + text->offset);
  // Without the process to ask, nothing opens it.
  AddressSpace elsewhere(&binaries);
  elsewhere.Map({.start = start,
                 .end = start + 4096,
                 .pgoff = pgoff,
                 .prot = PROT_READ | PROT_EXEC,
                 .path = "/nonexistent/dir/file (deleted)"});
  EXPECT_EQ(elsewhere.Find(start)->binary, nullptr);
  munmap(at, 4096);
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

// A path that vanished names the file last opened under it; one never opened names nothing.
TEST_F(BinaryCacheTest, DeletedFileStaysNamedByItsPath) {
  const std::filesystem::path copy = dir_ / "soon-deleted";
  std::filesystem::copy_file(std::filesystem::read_symlink("/proc/self/exe"), copy);
  BinaryCache binaries;
  std::shared_ptr<const Binary> opened = binaries.Open(copy.string());
  ASSERT_NE(opened, nullptr);
  std::filesystem::remove(copy);
  EXPECT_EQ(binaries.Open(copy.string()), opened);
  EXPECT_EQ(binaries.Open((dir_ / "never-there").string()), nullptr);
  // Opened by another name, remembered under the name it was mapped from.
  std::filesystem::copy_file(std::filesystem::read_symlink("/proc/self/exe"), dir_ / "other");
  std::shared_ptr<const Binary> other =
      binaries.OpenAs((dir_ / "other").string(), (dir_ / "mapped-as").string());
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(binaries.Open((dir_ / "mapped-as").string()), other);
}

// Writes an x86-64 shared object with only the given PT_LOAD program headers.
void WriteElf(const std::string& path, const std::vector<GElf_Phdr>& loads) {
  elf_version(EV_CURRENT);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  Elf* elf = elf_begin(fd, ELF_C_WRITE, nullptr);
  GElf_Ehdr ehdr;
  ASSERT_NE(gelf_newehdr(elf, ELFCLASS64), nullptr);
  ASSERT_NE(gelf_getehdr(elf, &ehdr), nullptr);
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_type = ET_DYN;
  ehdr.e_machine = EM_X86_64;
  ehdr.e_version = EV_CURRENT;
  gelf_update_ehdr(elf, &ehdr);
  ASSERT_NE(gelf_newphdr(elf, loads.size()), nullptr);
  for (size_t i = 0; i < loads.size(); ++i)
    gelf_update_phdr(elf, static_cast<int>(i), const_cast<GElf_Phdr*>(&loads[i]));
  ASSERT_GE(elf_update(elf, ELF_C_WRITE), 0);
  elf_end(elf);
  close(fd);
}

// lld packs segments without padding them to pages: the read-only headers and the code share a
// page, and the kernel maps the code at file offset 0 too. The code's mapping must be matched to
// the executable segment, or every address in it is off by the difference.
TEST_F(BinaryCacheTest, BiasOfSegmentsSharingAPage) {
  const std::string path = (dir_ / "lld_layout.so").string();
  WriteElf(path, {{.p_type = PT_LOAD,
                   .p_flags = PF_R,
                   .p_offset = 0,
                   .p_vaddr = 0,
                   .p_paddr = 0,
                   .p_filesz = 0x530,
                   .p_memsz = 0x530,
                   .p_align = 0x1000},
                  {.p_type = PT_LOAD,
                   .p_flags = PF_R | PF_X,
                   .p_offset = 0x530,
                   .p_vaddr = 0x1530,
                   .p_paddr = 0x1530,
                   .p_filesz = 0x200,
                   .p_memsz = 0x200,
                   .p_align = 0x1000}});
  BinaryCache binaries;
  AddressSpace space(&binaries);
  const uint64_t base = 0x7f1234560000;
  space.Map({.start = base, .end = base + 0x1000, .pgoff = 0, .prot = PROT_READ, .path = path});
  space.Map({.start = base + 0x1000,
             .end = base + 0x2000,
             .pgoff = 0,
             .prot = PROT_READ | PROT_EXEC,
             .path = path});
  const Mapping* headers = space.Find(base + 0x10);
  const Mapping* code = space.Find(base + 0x1540);
  ASSERT_NE(headers->binary, nullptr);
  ASSERT_NE(code->binary, nullptr);
  EXPECT_EQ(headers->bias, base);
  EXPECT_EQ(code->bias, base);  // the code at vaddr 0x1540 is at base + 0x1540
  EXPECT_FALSE(headers->executable());
  EXPECT_TRUE(code->file_contents);
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
