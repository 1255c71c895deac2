// The symbolizer's parts on known inputs: kallsyms and module texts, perf maps and their owner
// check, demangling; and the whole symbolizer on code this test process loads itself (a library
// with DWARF, the same stripped with its DWARF in a separate file, a deleted copy).
#include "dprof/profile/symbolizer.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "profile/internal/demangle.h"
#include "profile/internal/kernel_symbols.h"
#include "profile/internal/perf_map.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::profile {
namespace {

using internal::KernelSymbols;
using internal::PerfMap;
using ::testing::EndsWith;
using ::testing::HasSubstr;

constexpr char kKallsyms[] =
    "ffffffff81000000 T _text\n"
    "ffffffff81000000 T _stext\n"
    "ffffffff81001000 T do_syscall_64\n"
    "ffffffff81002000 t schedule\n"
    "ffffffff82000000 D some_data\n"
    "ffffffff8200bb08 T _etext\n"
    "ffffffffc0a01000 t ext4_fill_super\t[ext4]\n"
    "ffffffffc0a02000 t ext4_sync_fs\t[ext4]\n"
    "ffffffffc0b00000 t bpf_prog_6deef7357e7b4530\t[bpf]\n";
constexpr char kModules[] = "ext4 65536 2 - Live 0xffffffffc0a00000\n";

TEST(KernelSymbolsTest, NamesKernelAndModuleAddresses) {
  absl::StatusOr<KernelSymbols> k = KernelSymbols::Parse(kKallsyms, kModules);
  ASSERT_TRUE(k.ok()) << k.status();
  KernelSymbols::Found f = k->Lookup(0xffffffff81001010);
  EXPECT_EQ(f.function, "do_syscall_64");
  EXPECT_EQ(f.module, "[kernel.kallsyms]");
  EXPECT_EQ(f.offset, 0x1010u);
  // Data symbols do not end a function.
  EXPECT_EQ(k->Lookup(0xffffffff82000010).function, "schedule");
  f = k->Lookup(0xffffffffc0a02004);
  EXPECT_EQ(f.function, "ext4_sync_fs");
  EXPECT_EQ(f.module, "[ext4]");
  EXPECT_EQ(f.offset, 0x2004u);
  // In ext4's extent but before its first symbol: ext4, unnamed.
  f = k->Lookup(0xffffffffc0a00010);
  EXPECT_EQ(f.module, "[ext4]");
  EXPECT_EQ(f.function, "");
  // Past ext4's 64 KiB: nothing of ext4's.
  f = k->Lookup(0xffffffffc0a20000);
  EXPECT_EQ(f.function, "");
  EXPECT_EQ(f.module, "[kernel.kallsyms]");
  // A module /proc/modules does not list starts at its first symbol.
  f = k->Lookup(0xffffffffc0b00040);
  EXPECT_EQ(f.module, "[bpf]");
  EXPECT_EQ(f.function, "bpf_prog_6deef7357e7b4530");
  EXPECT_EQ(f.offset, 0x40u);
}

TEST(KernelSymbolsTest, RestrictedKallsymsNamesNothing) {
  absl::StatusOr<KernelSymbols> k =
      KernelSymbols::Parse("0000000000000000 T _text\n0000000000000000 T do_syscall_64\n", "");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_FALSE(k->has_addresses());
  EXPECT_EQ(k->Lookup(0xffffffff81001010).function, "");
}

TEST(KernelSymbolsTest, MalformedLineIsNamed) {
  absl::StatusOr<KernelSymbols> k =
      KernelSymbols::Parse("ffffffff81000000 T _text\nnonsense\n", "");
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(), HasSubstr("line 2"));
}

TEST(KernelSymbolsTest, ThisMachinesKallsyms) {
  Symbolizer symbolizer({.cache_kernel_symbols = false});
  absl::StatusOr<std::string> kallsyms = internal::ReadWholeFile("/proc/kallsyms");
  ASSERT_TRUE(kallsyms.ok()) << kallsyms.status();
  absl::StatusOr<KernelSymbols> k = KernelSymbols::Parse(*kallsyms, "");
  ASSERT_TRUE(k.ok()) << k.status();
  if (!k->has_addresses()) GTEST_SKIP() << "kallsyms addresses are hidden here (kptr_restrict)";
  // The address of a function every kernel has, from the file itself.
  std::ifstream in("/proc/kallsyms");
  std::string address, type, name;
  uint64_t schedule = 0;
  while (in >> address >> type >> name) {
    if (name == "schedule") schedule = std::stoull(address, nullptr, 16);
    in.ignore(1 << 10, '\n');
  }
  ASSERT_NE(schedule, 0u);
  const Symbol s = symbolizer.Kernel(schedule + 1, false);
  ASSERT_EQ(s.frames.size(), 1u);
  EXPECT_EQ(s.frames[0].function, "schedule");
  EXPECT_EQ(s.module, "[kernel.kallsyms]");
  // A return address just past the function's last byte is named by the call before it.
  const Symbol after = symbolizer.Kernel(schedule, true);
  ASSERT_EQ(after.frames.size(), 1u);
  EXPECT_NE(after.frames[0].function, "schedule");
}

TEST(PerfMapTest, LaterLinesReplaceWhatTheyOverlap) {
  PerfMap map = PerfMap::Parse(
      "7f0000001000 100 LazyCompile:~foo app.js:1\n"
      "garbage line\n"
      "7f0000001080 40 bar\n"
      "0x7f0000002000 0x10 baz\n"
      "7f00000030");  // cut short while the JIT was writing it
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(map.Find(0x7f0000001000), nullptr);  // foo was replaced by bar
  ASSERT_NE(map.Find(0x7f0000001090), nullptr);
  EXPECT_EQ(map.Find(0x7f0000001090)->name, "bar");
  ASSERT_NE(map.Find(0x7f000000200f), nullptr);
  EXPECT_EQ(map.Find(0x7f000000200f)->name, "baz");
  EXPECT_EQ(map.Find(0x7f0000002010), nullptr);
}

class PerfMapFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("dprof-perfmap-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "perf-1.map").string();
    std::ofstream(path_) << "1000 10 jitted\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(PerfMapFileTest, ReadWhenOwnedByTheProcessUserOrRoot) {
  ASSERT_EQ(chown(path_.c_str(), 4242, 4242), 0) << "the test runs as root";
  absl::StatusOr<PerfMap> map = PerfMap::Load(path_, 4242);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->size(), 1u);
  ASSERT_EQ(chown(path_.c_str(), 0, 0), 0);
  EXPECT_TRUE(PerfMap::Load(path_, 4242).ok());
}

TEST_F(PerfMapFileTest, RefusedWhenSomeoneElseOwnsIt) {
  ASSERT_EQ(chown(path_.c_str(), 4343, 4343), 0) << "the test runs as root";
  absl::StatusOr<PerfMap> map = PerfMap::Load(path_, 4242);
  ASSERT_FALSE(map.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(map.status())) << map.status();
  EXPECT_THAT(map.status().message(), HasSubstr("owned by uid 4343"));
}

// A map past the bound is read up to its last whole line before it, and says so.
TEST_F(PerfMapFileTest, ReadUpToABound) {
  std::ofstream(path_) << "1000 10 first\n2000 10 second\n3000 10 third\n";
  absl::StatusOr<PerfMap> map = PerfMap::Load(path_, 0, /*max_bytes=*/20);  // into "second"
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_TRUE(map->truncated());
  EXPECT_EQ(map->size(), 1u);
  EXPECT_NE(map->Find(0x1004), nullptr);
  EXPECT_EQ(map->Find(0x2004), nullptr) << "a line cut at the bound is not read";
  map = PerfMap::Load(path_, 0);
  ASSERT_TRUE(map.ok());
  EXPECT_FALSE(map->truncated());
  EXPECT_EQ(map->size(), 3u);
}

// A FIFO where a perf map or a binary is expected is refused at once, never waited on.
TEST_F(PerfMapFileTest, FifoIsRefusedWithoutWaiting) {
  const std::string fifo = (dir_ / "perf-5.map").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  absl::StatusOr<PerfMap> map = PerfMap::Load(fifo, 0);
  ASSERT_FALSE(map.ok());
  EXPECT_THAT(map.status().message(), HasSubstr("not a regular file"));
  EXPECT_FALSE(unwind::Binary::Open(fifo).ok());
}

// Refused and truncated maps reach the symbolizer's notes, one line each naming the file.
TEST_F(PerfMapFileTest, RefusalsAreNoted) {
  ASSERT_EQ(chown(path_.c_str(), 4343, 4343), 0) << "the test runs as root";
  Symbolizer symbolizer({.perf_map_dir = dir_.string()});
  const unwind::Mapping anon{.start = 0x0, .end = 0x10000, .prot = 5};
  symbolizer.User(1, &anon, 0x1004, false);  // pid 1's map is perf-1.map
  symbolizer.User(1, &anon, 0x1008, false);
  ASSERT_EQ(symbolizer.notes().size(), 1u);
  EXPECT_THAT(symbolizer.notes()[0], HasSubstr(path_));
  EXPECT_THAT(symbolizer.notes()[0], HasSubstr("owned by uid 4343"));
}

TEST_F(PerfMapFileTest, SymlinkIsNotFollowed) {
  const std::string link = (dir_ / "perf-2.map").string();
  ASSERT_EQ(symlink(path_.c_str(), link.c_str()), 0);
  absl::StatusOr<PerfMap> map = PerfMap::Load(link, 0);
  ASSERT_FALSE(map.ok());
  EXPECT_THAT(map.status().message(), HasSubstr("symlink"));
  EXPECT_TRUE(absl::IsNotFound(PerfMap::Load((dir_ / "perf-3.map").string(), 0).status()));
}

TEST(DemangleTest, CxxNamesAndOthers) {
  EXPECT_EQ(internal::Demangle("_ZN6shapes6detail11AccumulatorIdE3AddEd"),
            "shapes::detail::Accumulator<double>::Add(double)");
  EXPECT_EQ(internal::Demangle("plugin_hot"), "plugin_hot");
  EXPECT_EQ(internal::Demangle("_Znot_valid"), "_Znot_valid");
}

// As binutils' `c++filt -p` prints each name's mangled form.
TEST(DemangleTest, WithoutSignatureAsPerfPrintsNames) {
  const std::pair<const char*, const char*> cases[] = {
      {"_ZN6shapes6detail11AccumulatorIdE3AddEd", "shapes::detail::Accumulator<double>::Add"},
      {"_Z5twiceIlET_S0_", "twice<long>"},
      {"_ZN1AIiE1fIiEEvT_", "A<int>::f<int>"},
      {"_ZNKR1A1fEv", "A::f"},
      {"_ZNO1A1fEv", "A::f"},
      {"_ZNK12_GLOBAL__N_11AclEi", "(anonymous namespace)::A::operator()"},
      {"_ZNK12_GLOBAL__N_11AcvbEv", "(anonymous namespace)::A::operator bool"},
      {"_ZNK12_GLOBAL__N_11AltERKS0_", "(anonymous namespace)::A::operator<"},
      {"_ZStlsISt11char_traitsIcEERSt13basic_ostreamIcT_ES5_PKc",
       "std::operator<< <std::char_traits<char> >"},
      {"_ZN9__gnu_cxxmiIPiSt6vectorIiSaIiEEEENS_17__normal_iteratorIT_T0_E15difference_"
       "typeERKS8_SB_",
       "__gnu_cxx::operator-<int*, std::vector<int, std::allocator<int> > >"},
      {"_ZZ1fB5cxx11RSt6vectorIiSaIiEEENKUliE_clEi",
       "f[abi:cxx11](std::vector<int, std::allocator<int> >&)::{lambda(int)#1}::operator()"},
      {"_ZZ4mainENKUlvE_clEv", "main::{lambda()#1}::operator()"},
      {"_ZNSt6thread11_State_implINS_8_InvokerISt5tupleIJPFvdEdEEEEE6_M_runEv",
       "std::thread::_State_impl<std::thread::_Invoker<std::tuple<void (*)(double), double> > "
       ">::_M_run"},
      {"_ZSt13__invoke_implIvPFvdEJdEET_St14__invoke_otherOT0_DpOT1_",
       "std::__invoke_impl<void, void (*)(double), double>"},
  };
  for (const auto& [mangled, bare] : cases) {
    EXPECT_EQ(internal::WithoutSignature(internal::Demangle(mangled)), bare) << mangled;
  }
  for (const char* plain : {"hot_a", "operator()", "__libc_start_call_main", "[unknown]"}) {
    EXPECT_EQ(internal::WithoutSignature(plain), plain);
  }
}

// Symbolizes an address of this process, as a recording of it would.
Symbol SymbolizeHere(Symbolizer& symbolizer, const void* address) {
  absl::StatusOr<unwind::AddressSpace> space =
      unwind::AddressSpace::FromProc(getpid(), symbolizer.binaries());
  EXPECT_TRUE(space.ok()) << space.status();
  if (!space.ok()) return {};
  const uint64_t pc = reinterpret_cast<uint64_t>(address);
  return symbolizer.User(getpid(), space->Find(pc), pc, false);
}

// The address of plugin_hot's loop (the marked line) in a loaded copy of the plugin: its entry
// plus a few instructions.
const void* PluginHot(void* handle) {
  void* hot = dlsym(handle, "plugin_hot");
  EXPECT_NE(hot, nullptr) << dlerror();
  return static_cast<const char*>(hot) + 8;
}

// The hot function is __plugin_hot_impl to DWARF, plugin_hot to its callers (an alias): named as
// callers and perf name it.
TEST(SymbolizerTest, LibraryWithDwarf) {
  void* handle = dlopen(testing::SampleFile("libdlopen_plugin.so").c_str(), RTLD_NOW);
  ASSERT_NE(handle, nullptr) << dlerror();
  Symbolizer symbolizer({});
  const Symbol s = SymbolizeHere(symbolizer, PluginHot(handle));
  EXPECT_THAT(s.module, EndsWith("libdlopen_plugin.so"));
  EXPECT_FALSE(s.deleted);
  ASSERT_FALSE(s.frames.empty());
  EXPECT_EQ(s.frames.back().function, "plugin_hot");
  EXPECT_THAT(s.frames.back().file, EndsWith("samples/dlopen/plugin.cc"));
  EXPECT_GT(s.frames.back().line, 0u);
  dlclose(handle);
}

// Without .debug_aranges (clang writes none unless told to) libdw finds no compile unit by
// address: the symbolizer finds it by the units' own ranges, and names file and line all the same.
TEST(SymbolizerTest, LibraryWithoutArangesIsNamedByItsUnitsRanges) {
  void* handle = dlopen(testing::SampleFile("libdlopen_plugin_noaranges.so").c_str(), RTLD_NOW);
  ASSERT_NE(handle, nullptr) << dlerror();
  Symbolizer symbolizer({});
  const Symbol s = SymbolizeHere(symbolizer, PluginHot(handle));
  EXPECT_THAT(s.module, EndsWith("libdlopen_plugin_noaranges.so"));
  ASSERT_FALSE(s.frames.empty());
  EXPECT_EQ(s.frames.back().function, "plugin_hot");
  EXPECT_THAT(s.frames.back().file, EndsWith("samples/dlopen/plugin.cc"));
  EXPECT_GT(s.frames.back().line, 0u);
  dlclose(handle);
}

// Calls through the procedure linkage table land in entries no symbol covers: each is named after
// the function it calls, as objdump names them.
TEST(SymbolizerTest, PltEntriesAreNamed) {
  const std::string plugin = testing::SampleFile("libdlopen_plugin.so");
  void* handle = dlopen(plugin.c_str(), RTLD_NOW);
  ASSERT_NE(handle, nullptr) << dlerror();
  Dl_info info;
  ASSERT_NE(dladdr(dlsym(handle, "plugin_work"), &info), 0);
  const auto* base = static_cast<const char*>(info.dli_fbase);
  // "0000000000001030 <plugin_hot@plt>:"
  FILE* objdump = popen(("objdump -d --section=.plt " + plugin).c_str(), "r");
  ASSERT_NE(objdump, nullptr);
  std::vector<std::pair<uint64_t, std::string>> entries;
  char line[512];
  while (fgets(line, sizeof(line), objdump) != nullptr) {
    const std::string text(line);
    const size_t open = text.find(" <"), close = text.find("@plt>:");
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    entries.emplace_back(std::stoull(text.substr(0, open), nullptr, 16),
                         text.substr(open + 2, close - open - 2));
  }
  pclose(objdump);
  ASSERT_FALSE(entries.empty()) << "objdump shows no PLT entry in " << plugin;
  Symbolizer symbolizer({});
  for (const auto& [offset, name] : entries) {
    const Symbol s = SymbolizeHere(symbolizer, base + offset + 4);
    ASSERT_EQ(s.frames.size(), 1u) << name;
    EXPECT_EQ(s.frames[0].function, name + "@plt");
  }
  dlclose(handle);
}

// A distribution's stripped library: the dynamic symbol table names it, the separate debug file
// (found by build-id, or by .gnu_debuglink) adds the source line.
class SeparateDebugFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("dprof-debug-" + std::to_string(getpid()));
    std::filesystem::create_directories(root_);
    handle_ = dlopen(testing::SampleFile("libdlopen_plugin_stripped.so").c_str(), RTLD_NOW);
    ASSERT_NE(handle_, nullptr) << dlerror();
  }
  void TearDown() override {
    if (handle_ != nullptr) dlclose(handle_);
    std::filesystem::remove_all(root_);
  }
  Symbol Lookup() {
    Symbolizer symbolizer({.debug_path = root_.string()});
    return SymbolizeHere(symbolizer, PluginHot(handle_));
  }
  std::string BuildIdHex() {
    auto binary = unwind::Binary::Open(testing::SampleFile("libdlopen_plugin_stripped.so"));
    EXPECT_TRUE(binary.ok());
    return absl::BytesToHexString((*binary)->build_id());
  }
  void Place(const std::filesystem::path& at) {
    std::filesystem::create_directories(at.parent_path());
    std::filesystem::copy_file(testing::SampleFile("debug/dlopen_plugin.debug"), at);
  }

  std::filesystem::path root_;
  void* handle_ = nullptr;
};

TEST_F(SeparateDebugFileTest, WithoutItTheSymbolTableNamesTheFunction) {
  const Symbol s = Lookup();
  ASSERT_EQ(s.frames.size(), 1u);
  EXPECT_EQ(s.frames[0].function, "plugin_hot");
  EXPECT_EQ(s.frames[0].line, 0u);
}

TEST_F(SeparateDebugFileTest, FoundByBuildId) {
  const std::string id = BuildIdHex();
  ASSERT_GT(id.size(), 2u);
  Place(root_ / ".build-id" / id.substr(0, 2) / (id.substr(2) + ".debug"));
  const Symbol s = Lookup();
  ASSERT_FALSE(s.frames.empty());
  EXPECT_EQ(s.frames.back().function, "plugin_hot");
  EXPECT_THAT(s.frames.back().file, EndsWith("samples/dlopen/plugin.cc"));
  EXPECT_GT(s.frames.back().line, 0u);
}

TEST_F(SeparateDebugFileTest, FoundByDebugLink) {
  // <debug root>/<the library's directory>/<the name .gnu_debuglink gives>
  const std::filesystem::path dir =
      std::filesystem::path(testing::SampleFile("libdlopen_plugin_stripped.so")).parent_path();
  Place(root_ / dir.relative_path() / "dlopen_plugin.debug");
  const Symbol s = Lookup();
  ASSERT_FALSE(s.frames.empty());
  EXPECT_THAT(s.frames.back().file, EndsWith("samples/dlopen/plugin.cc"));
  EXPECT_GT(s.frames.back().line, 0u);
}

// A library deleted after it was loaded (a package upgrade): still named, through the process's
// own view of the mapping, and marked deleted.
TEST(SymbolizerTest, DeletedLibrary) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("dprof-deleted-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path copy = dir / "libdeleted_plugin.so";
  std::filesystem::copy_file(testing::SampleFile("libdlopen_plugin.so"), copy);
  void* handle = dlopen(copy.c_str(), RTLD_NOW);
  ASSERT_NE(handle, nullptr) << dlerror();
  std::filesystem::remove_all(dir);

  Symbolizer symbolizer({});
  const Symbol s = SymbolizeHere(symbolizer, PluginHot(handle));
  EXPECT_TRUE(s.deleted);
  EXPECT_EQ(s.module, copy.string());
  ASSERT_FALSE(s.frames.empty());
  EXPECT_EQ(s.frames.back().function, "plugin_hot");
  dlclose(handle);
}

// Anonymous executable memory named by a perf map; an address it does not cover stays unknown.
TEST(SymbolizerTest, JitCodeThroughThePerfMap) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("dprof-jit-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "perf-77.map") << "7f0000001000 100 LazyCompile:*hot app.js:3\n";
  Symbolizer symbolizer({.perf_map_dir = dir.string()});
  const unwind::Mapping anon{.start = 0x7f0000000000, .end = 0x7f0000100000, .prot = 5};
  Symbol s = symbolizer.User(77, &anon, 0x7f0000001010, false);
  ASSERT_EQ(s.frames.size(), 1u);
  EXPECT_EQ(s.frames[0].function, "LazyCompile:*hot app.js:3");
  s = symbolizer.User(77, &anon, 0x7f0000009000, false);
  EXPECT_TRUE(s.frames.empty());
  EXPECT_EQ(s.module, "[anon]");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dprof::profile
