// The kernel's symbols kept between runs: their image read back as written and never past a
// damaged one, the cache file served only with the same modules, and the symbolizer serving
// from it until an address outside what lasts asks for a fresh read.
#include "profile/internal/kernel_symbol_cache.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_format.h"
#include "dprof/profile/symbolizer.h"
#include "gtest/gtest.h"
#include "profile/internal/kernel_symbols.h"

namespace dprof::profile::internal {
namespace {

constexpr char kKallsyms[] =
    "ffffffff81000000 T _text\n"
    "ffffffff81001000 T do_syscall_64\n"
    "ffffffff81002000 t schedule\n"
    "ffffffff8200bb08 T _etext\n"
    "ffffffffc0a01000 t ext4_fill_super\t[ext4]\n"
    "ffffffffc0b00000 t bpf_prog_6deef7357e7b4530\t[bpf]\n";
constexpr char kModules[] = "ext4 65536 2 - Live 0xffffffffc0a00000\n";
constexpr uint64_t kAddresses[] = {
    0xffffffff81000004, 0xffffffff81001010, 0xffffffff81002fff, 0xffffffffc0a00010,
    0xffffffffc0a01020, 0xffffffffc0a20000, 0xffffffffc0b00040, 0x1000};

class KernelSymbolCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/dprof-ksym-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST(KernelSymbolsImageTest, ReadsBackWhatItWrote) {
  absl::StatusOr<KernelSymbols> k = KernelSymbols::Parse(kKallsyms, kModules);
  ASSERT_TRUE(k.ok()) << k.status();
  std::optional<KernelSymbols> back = KernelSymbols::FromImage(k->Image());
  ASSERT_TRUE(back.has_value());
  for (uint64_t address : kAddresses) {
    const KernelSymbols::Found a = k->Lookup(address), b = back->Lookup(address);
    EXPECT_EQ(a.module, b.module) << std::hex << address;
    EXPECT_EQ(a.offset, b.offset) << std::hex << address;
    EXPECT_EQ(a.function, b.function) << std::hex << address;
    EXPECT_EQ(a.function_offset, b.function_offset) << std::hex << address;
    EXPECT_EQ(k->Lasting(address), back->Lasting(address)) << std::hex << address;
  }
  EXPECT_EQ(back->Lookup(0xffffffffc0a01020).function, "ext4_fill_super");
}

TEST(KernelSymbolsImageTest, LastingIsTheKernelsTextAndListedModules) {
  absl::StatusOr<KernelSymbols> k = KernelSymbols::Parse(kKallsyms, kModules);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_TRUE(k->Lasting(0xffffffff81002010));   // schedule
  EXPECT_FALSE(k->Lasting(0xffffffff8200bb08));  // _etext itself: past the text
  EXPECT_TRUE(k->Lasting(0xffffffffc0a01020));   // ext4, in /proc/modules
  EXPECT_FALSE(k->Lasting(0xffffffffc0a20000));  // past ext4's 64 KiB
  EXPECT_FALSE(k->Lasting(0xffffffffc0b00040));  // a BPF program
}

TEST(KernelSymbolsImageTest, DamagedImagesAreRefused) {
  absl::StatusOr<KernelSymbols> k = KernelSymbols::Parse(kKallsyms, kModules);
  ASSERT_TRUE(k.ok()) << k.status();
  const std::string image = k->Image();
  // Cut short anywhere: refused, never read past the end (ASan watches).
  for (size_t size = 0; size < image.size(); ++size) {
    EXPECT_FALSE(KernelSymbols::FromImage(image.substr(0, size)).has_value()) << size;
  }
  EXPECT_FALSE(KernelSymbols::FromImage(image + "x").has_value());
  // Any byte changed: refused or still safe to look up in.
  for (size_t i = 0; i < image.size(); ++i) {
    std::string damaged = image;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
    if (std::optional<KernelSymbols> d = KernelSymbols::FromImage(damaged)) {
      for (uint64_t address : kAddresses) d->Lookup(address);
    }
  }
}

TEST_F(KernelSymbolCacheTest, ServesOnlyWithTheSameModules) {
  absl::StatusOr<KernelSymbols> k = KernelSymbols::Parse(kKallsyms, kModules);
  ASSERT_TRUE(k.ok()) << k.status();
  const std::string dir = dir_ + "/made/by/the/writer";
  const std::string path = KernelSymbolCachePath(dir);
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(std::filesystem::path(path).parent_path(), dir);
  EXPECT_FALSE(ReadKernelSymbolCache(path, kModules).has_value());  // nothing kept yet
  ASSERT_TRUE(WriteKernelSymbolCache(path, kModules, *k).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // kernel addresses
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::optional<KernelSymbols> kept = ReadKernelSymbolCache(path, kModules);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->Lookup(0xffffffff81002010).function, "schedule");
  // A module loaded or unloaded since: not served.
  EXPECT_FALSE(ReadKernelSymbolCache(path, "").has_value());
  EXPECT_FALSE(
      ReadKernelSymbolCache(path, std::string(kModules) + "xfs 4096 0 - Live 0xffffffffc0c00000\n")
          .has_value());
  // Only the written file is left: the temporary one was renamed into place.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(KernelSymbolCacheTest, AnUnwritableDirectoryIsAnError) {
  absl::StatusOr<KernelSymbols> k = KernelSymbols::Parse(kKallsyms, kModules);
  ASSERT_TRUE(k.ok()) << k.status();
  std::ofstream(dir_ + "/file") << "not a directory";
  EXPECT_FALSE(WriteKernelSymbolCache(dir_ + "/file/kallsyms-x", kModules, *k).ok());
}

// The symbolizer on this machine's kernel: it keeps what it read, serves the next symbolizer
// from it (a cache file with a name of its own shows that it did), and reads kallsyms afresh
// for an address outside the kernel's text and modules.
TEST_F(KernelSymbolCacheTest, TheSymbolizerServesFromTheCache) {
  absl::StatusOr<std::string> text = ReadWholeFile("/proc/kallsyms");
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<KernelSymbols> real = KernelSymbols::Parse(*text, "");
  ASSERT_TRUE(real.ok()) << real.status();
  if (!real->has_addresses()) GTEST_SKIP() << "kallsyms addresses are hidden here (kptr_restrict)";
  uint64_t text_start = 0, schedule = 0, text_end = 0;
  std::istringstream in(*text);
  std::string address, type, name;
  while (in >> address >> type >> name) {
    if (name == "_text") text_start = std::stoull(address, nullptr, 16);
    if (name == "schedule") schedule = std::stoull(address, nullptr, 16);
    if (name == "_etext") text_end = std::stoull(address, nullptr, 16);
    in.ignore(1 << 10, '\n');
  }
  ASSERT_NE(schedule, 0u);
  if (text_end == 0) GTEST_SKIP() << "this kernel's kallsyms has no _etext";

  const Symbolizer::Options options = {.cache_dir = dir_};
  {
    Symbolizer first(options);
    EXPECT_EQ(first.Kernel(schedule + 1, false).frames.at(0).function, "schedule");
  }
  const std::string path = KernelSymbolCachePath(dir_);
  absl::StatusOr<std::string> modules = ReadWholeFile("/proc/modules");
  const std::string modules_text = modules.ok() ? *modules : "";
  ASSERT_TRUE(ReadKernelSymbolCache(path, modules_text).has_value()) << path;

  // A kept file that names schedule's address otherwise: the next symbolizer reads that.
  absl::StatusOr<KernelSymbols> marked =
      KernelSymbols::Parse(absl::StrFormat("%x T _text\n%x T kept_in_the_cache\n%x T _etext\n",
                                           text_start, schedule, text_end),
                           "");
  ASSERT_TRUE(marked.ok()) << marked.status();
  ASSERT_TRUE(WriteKernelSymbolCache(path, modules_text, *marked).ok());
  Symbolizer second(options);
  EXPECT_EQ(second.Kernel(schedule + 1, false).frames.at(0).function, "kept_in_the_cache");
  // Past the kernel's text (where BPF programs come and go): kallsyms read afresh, and the
  // cache rewritten from it.
  second.Kernel(text_end + 0x1000, false);
  EXPECT_EQ(second.Kernel(schedule + 1, false).frames.at(0).function, "schedule");
  std::optional<KernelSymbols> rewritten = ReadKernelSymbolCache(path, modules_text);
  ASSERT_TRUE(rewritten.has_value());
  EXPECT_EQ(rewritten->Lookup(schedule + 1).function, "schedule");

  // Not asked to keep anything: nothing read from or written to the cache.
  std::filesystem::remove(path);
  Symbolizer uncached({.cache_kernel_symbols = false, .cache_dir = dir_});
  EXPECT_EQ(uncached.Kernel(schedule + 1, false).frames.at(0).function, "schedule");
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace dprof::profile::internal
