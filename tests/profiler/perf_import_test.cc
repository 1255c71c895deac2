// dprof::ImportPerfData on hand-built perf.data files: what this kernel cannot make perf write
// (Linux 6.19's deferred callchains, with the kernel's cookies), binaries missing or changed since
// the recording (one warning each; perf's build-id cache consulted), and a file cut at every byte.
#include "dprof/perf_import.h"

#include <elf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dprof/cookie/cookie.h"
#include "dprof/profile/stitch.h"
#include "dprof/profile/view.h"
#include "dprof/tracer/perf_abi.h"
#include "dprof/unwind/binary.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tracer/record_builder.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof {
namespace {

using ::dprof::testing::RecordBuilder;
using ::testing::HasSubstr;

constexpr uint64_t kId = 7;
constexpr uint64_t kSampleType = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID |
                                 PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD |
                                 PERF_SAMPLE_CALLCHAIN;
constexpr uint32_t kPid = 100;
constexpr uint64_t kBase = 0x555500000000;  // where the program is mapped
constexpr uint64_t kKernelPc = 0xffffffff81000000;

// A perf.data file in file mode: one cpu-clock event (id kId), `records`, and a BUILD_ID feature
// when `build_ids` is not empty.
std::vector<uint8_t> PerfData(const perf_event_attr& attr,
                              const std::vector<std::vector<uint8_t>>& records,
                              const std::vector<std::pair<std::string, std::string>>& build_ids) {
  std::vector<uint8_t> f;
  auto u64 = [&f](uint64_t x) {
    f.insert(f.end(), reinterpret_cast<uint8_t*>(&x), reinterpret_cast<uint8_t*>(&x) + 8);
  };
  std::vector<uint8_t> data;
  for (const std::vector<uint8_t>& r : records) data.insert(data.end(), r.begin(), r.end());
  const uint64_t attr_size = sizeof(attr) + 16;
  const uint64_t attrs_at = 104, ids_at = attrs_at + attr_size, data_at = ids_at + 8;
  u64(0x32454c4946524550);  // PERFILE2
  u64(104);
  u64(attr_size);
  u64(attrs_at);
  u64(attr_size);
  u64(data_at);
  u64(data.size());
  u64(0);
  u64(0);
  u64(build_ids.empty() ? 0 : uint64_t{1} << 2);  // HEADER_BUILD_ID
  u64(0);
  u64(0);
  u64(0);
  f.insert(f.end(), reinterpret_cast<const uint8_t*>(&attr),
           reinterpret_cast<const uint8_t*>(&attr) + sizeof(attr));
  u64(ids_at);
  u64(8);
  u64(kId);
  f.insert(f.end(), data.begin(), data.end());
  if (!build_ids.empty()) {
    std::vector<uint8_t> section;
    for (const auto& [path, id] : build_ids) {
      // perf_event_header (type, misc, size), pid, the id padded to 24 bytes, the file's name.
      std::vector<uint8_t> entry(8, 0);
      const int32_t pid = -1;
      entry.insert(entry.end(), reinterpret_cast<const uint8_t*>(&pid),
                   reinterpret_cast<const uint8_t*>(&pid) + 4);
      std::string padded = id;
      padded.resize(24, '\0');
      entry.insert(entry.end(), padded.begin(), padded.end());
      entry.insert(entry.end(), path.begin(), path.end());
      do entry.push_back(0);
      while (entry.size() % 8 != 0);
      const uint16_t size = static_cast<uint16_t>(entry.size());
      std::memcpy(entry.data() + 6, &size, 2);
      section.insert(section.end(), entry.begin(), entry.end());
    }
    const uint64_t at = f.size() + 16;
    u64(at);
    u64(section.size());
    f.insert(f.end(), section.begin(), section.end());
  }
  return f;
}

perf_event_attr Attr(bool deferred) {
  perf_event_attr attr = {};
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.sample_type = kSampleType;
  attr.sample_id_all = 1;
  attr.freq = 1;
  attr.sample_freq = 999;
  if (deferred) tracer::abi::SetAttrFlag(attr, tracer::abi::kAttrBitDeferCallchain);
  return attr;
}

std::vector<uint8_t> Trailer(RecordBuilder b, uint64_t time) {
  return b.Trailer(kSampleType, {.pid = kPid, .tid = kPid, .time = time, .cpu = 1, .id = kId})
      .Finish();
}

// A sample of kPid at `ip` (misc: where it was taken) with `callchain`, at time 20.
std::vector<uint8_t> Sample(uint16_t misc, uint64_t ip, const std::vector<uint64_t>& callchain) {
  RecordBuilder b(PERF_RECORD_SAMPLE, misc);
  b.U64(kId).U64(ip).U32(kPid).U32(kPid).U64(20).U32(1).U32(0).U64(1000000).U64(callchain.size());
  for (uint64_t pc : callchain) b.U64(pc);
  return b.Finish();
}

// The process kPid execs `program`, its executable segment mapped at kBase + its address.
std::vector<std::vector<uint8_t>> ProgramRecords(const std::string& program) {
  absl::StatusOr<std::unique_ptr<unwind::Binary>> binary = unwind::Binary::Open(program);
  EXPECT_TRUE(binary.ok());
  const unwind::Segment* text = nullptr;
  for (const unwind::Segment& s : (*binary)->segments()) {
    if (s.flags & PF_X) text = &s;
  }
  EXPECT_NE(text, nullptr);
  const uint64_t start = kBase + (text->vaddr & ~0xfffull), pgoff = text->offset & ~0xfffull;
  return {Trailer(RecordBuilder(PERF_RECORD_COMM, PERF_RECORD_MISC_COMM_EXEC)
                      .U32(kPid)
                      .U32(kPid)
                      .PaddedString("app"),
                  10),
          Trailer(RecordBuilder(PERF_RECORD_MMAP2)
                      .U32(kPid)
                      .U32(kPid)
                      .U64(start)
                      .U64(text->memsz + (text->vaddr & 0xfff))
                      .U64(pgoff)
                      .U32(0)  // maj, min
                      .U32(0)
                      .U64(0)  // ino
                      .U64(0)  // ino_generation
                      .U32(PROT_READ | PROT_EXEC)
                      .U32(MAP_PRIVATE)
                      .PaddedString(program),
                  11)};
}

// The ELF address of `function` in `program` (nm's).
uint64_t AddressOf(const std::string& program, const std::string& function) {
  FILE* p = popen(("nm " + program + " | grep ' " + function + "$'").c_str(), "r");
  char line[256] = {};
  const bool read = p != nullptr && fgets(line, sizeof(line), p) != nullptr;
  if (p != nullptr) pclose(p);
  EXPECT_TRUE(read) << function;
  return std::strtoull(line, nullptr, 16);
}

std::string WriteFile(const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = std::filesystem::temp_directory_path() /
                           ("dprof-perf-import-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return path;
}

// The function names of the first stack of the recording's default view, leaf first.
std::vector<std::string> Functions(const profile::Recording& r) {
  const profile::View view = profile::View::Build(r);
  std::vector<std::string> out;
  if (view.stacks().empty()) return out;
  const std::vector<uint32_t>& frames = view.stacks()[0].frames;
  for (auto f = frames.rbegin(); f != frames.rend(); ++f) out.push_back(view.frame(*f).name);
  return out;
}

// Linux 6.19 perf (--call-graph fp,defer): the sample's callchain ends in the kernel's cookie,
// and a CALLCHAIN_DEFERRED record brings the user frames for it later.
TEST(PerfImportTest, NativeDeferredCallchainsAreStitchedByTheKernelsCookie) {
  const std::string program = testing::SampleProgram("cpu_bound", "fp");
  const uint64_t hot_a = kBase + AddressOf(program, "hot_a") + 4;
  const uint64_t one_round = kBase + AddressOf(program, "one_round") + 8;
  const cookie::Cookie cookie = cookie::MakeCookie(1, 42);
  std::vector<std::vector<uint8_t>> records = ProgramRecords(program);
  records.push_back(
      Sample(PERF_RECORD_MISC_KERNEL, kKernelPc,
             {PERF_CONTEXT_KERNEL, kKernelPc, tracer::abi::kContextUserDeferred, cookie}));
  records.push_back(Trailer(RecordBuilder(tracer::abi::kRecordCallchainDeferred)
                                .U64(cookie)
                                .U64(3)
                                .U64(PERF_CONTEXT_USER)
                                .U64(hot_a)
                                .U64(one_round),
                            30));
  const std::string path = WriteFile("deferred.data", PerfData(Attr(true), records, {}));
  absl::StatusOr<PerfImport> imported = ImportPerfData(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(imported.ok()) << imported.status();
  const profile::Recording& r = imported->recording;
  EXPECT_EQ(r.metadata.at("call_graph"), "native deferred");
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].user, event::UserStack::kDeferred);
  EXPECT_EQ(r.counters.at("deferred callchains"), 1u);
  const std::vector<std::string> functions = Functions(r);
  ASSERT_GE(functions.size(), 3u);
  EXPECT_EQ(functions[1], "hot_a") << "after the kernel frame, the user frames of its cookie";
  EXPECT_EQ(functions[2], "one_round");
}

// One sample in hot_a of `program`, mapped by kPid.
std::vector<std::vector<uint8_t>> OneSample(const std::string& program, const std::string& as) {
  std::vector<std::vector<uint8_t>> records = ProgramRecords(as);
  const uint64_t pc = kBase + AddressOf(program, "hot_a") + 4;
  records.push_back(Sample(PERF_RECORD_MISC_USER, pc, {PERF_CONTEXT_USER, pc}));
  return records;
}

TEST(PerfImportTest, AMissingBinaryIsOneWarningAndUnknownFrames) {
  const std::string program = testing::SampleProgram("cpu_bound", "fp");
  const std::string copy = WriteFile("gone", {});
  std::filesystem::copy_file(program, copy, std::filesystem::copy_options::overwrite_existing);
  // Recorded from the copy, which is gone by the import.
  std::vector<std::vector<uint8_t>> records = OneSample(program, copy);
  std::filesystem::remove(copy);
  const std::string path = WriteFile("missing.data", PerfData(Attr(false), records, {}));
  absl::StatusOr<PerfImport> imported = ImportPerfData(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(imported.ok()) << imported.status();
  const size_t warnings = std::count_if(
      imported->warnings.begin(), imported->warnings.end(),
      [&](const std::string& w) { return w.find(copy + " is missing") != std::string::npos; });
  EXPECT_EQ(warnings, 1u) << ::testing::PrintToString(imported->warnings);
  EXPECT_THAT(Functions(imported->recording)[0], HasSubstr("[unknown]"));
}

TEST(PerfImportTest, AChangedBinaryIsFoundByBuildIdInPerfsCache) {
  const std::string program = testing::SampleProgram("cpu_bound", "fp");
  const std::string other = testing::SampleProgram("cpu_bound", "nofp");
  absl::StatusOr<std::unique_ptr<unwind::Binary>> recorded = unwind::Binary::Open(program);
  ASSERT_TRUE(recorded.ok());
  const std::string build_id = (*recorded)->build_id();
  ASSERT_EQ(build_id.size(), 20u);
  // The recording says `path` was the fp build; `path` now holds the nofp build.
  const std::string path = WriteFile("changed", {});
  std::filesystem::copy_file(other, path, std::filesystem::copy_options::overwrite_existing);
  const std::string data = WriteFile(
      "changed.data", PerfData(Attr(false), OneSample(program, path), {{path, build_id}}));

  // An empty cache first (perf record fills $HOME/.debug with what it records).
  const std::string cache = WriteFile("cache", {});
  std::filesystem::remove(cache);
  std::filesystem::create_directories(cache);
  absl::StatusOr<PerfImport> changed = ImportPerfData(data, {.source = {.build_id_cache = cache}});
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_THAT(::testing::PrintToString(changed->warnings),
              HasSubstr(path + " changed since the recording"));
  EXPECT_THAT(Functions(changed->recording)[0], HasSubstr("[unknown]"))
      << "the other build's symbols would lie";

  // perf buildid-cache kept the recorded one: DIR/.build-id/XX/REST/elf.
  const std::string hex = [&] {
    std::string h;
    for (unsigned char c : build_id)
      h += "0123456789abcdef"[c >> 4], h += "0123456789abcdef"[c & 15];
    return h;
  }();
  const std::filesystem::path kept =
      std::filesystem::path(cache) / ".build-id" / hex.substr(0, 2) / hex.substr(2) / "elf";
  std::filesystem::create_directories(kept.parent_path());
  std::filesystem::copy_file(program, kept);
  absl::StatusOr<PerfImport> found = ImportPerfData(data, {.source = {.build_id_cache = cache}});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_THAT(::testing::PrintToString(found->warnings),
              ::testing::Not(HasSubstr("changed since the recording")));
  EXPECT_EQ(Functions(found->recording)[0], "hot_a");
  std::filesystem::remove_all(cache);
  std::filesystem::remove(path);
  std::filesystem::remove(data);
}

// A kernel sample of a kernel that is not running: named from perf's build-id cache's copy of its
// kallsyms, else not at all (this kernel's symbols would name other functions), with a warning.
TEST(PerfImportTest, AnotherKernelIsNamedFromPerfsCacheOrNotAtAll) {
  const std::string build_id(20, '\x5a');
  std::vector<std::vector<uint8_t>> records;
  records.push_back(
      Sample(PERF_RECORD_MISC_KERNEL, kKernelPc + 0x10, {PERF_CONTEXT_KERNEL, kKernelPc + 0x10}));
  const std::string data =
      WriteFile("kernel.data", PerfData(Attr(false), records, {{"[kernel.kallsyms]", build_id}}));
  const std::string cache = WriteFile("kernel-cache", {});
  std::filesystem::remove(cache);
  std::filesystem::create_directories(cache);

  absl::StatusOr<PerfImport> unnamed = ImportPerfData(data, {.source = {.build_id_cache = cache}});
  ASSERT_TRUE(unnamed.ok()) << unnamed.status();
  EXPECT_THAT(::testing::PrintToString(unnamed->warnings), HasSubstr("is not the running one"));
  EXPECT_THAT(Functions(unnamed->recording)[0], HasSubstr("[unknown]"));

  const std::filesystem::path kallsyms = std::filesystem::path(cache) / "[kernel.kallsyms]" /
                                         "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a" / "kallsyms";
  std::filesystem::create_directories(kallsyms.parent_path());
  std::ofstream(kallsyms) << "ffffffff81000000 T _text\nffffffff81000000 T recorded_kernel_fn\n"
                             "ffffffff81000100 T next_fn\n";
  absl::StatusOr<PerfImport> named = ImportPerfData(data, {.source = {.build_id_cache = cache}});
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_THAT(::testing::PrintToString(named->warnings), ::testing::Not(HasSubstr("kernel")));
  EXPECT_EQ(Functions(named->recording)[0], "recorded_kernel_fn");
  std::filesystem::remove_all(cache);
  std::filesystem::remove(data);
}

// Cut anywhere, a file imports what it holds up to the cut, or fails with a message: never a
// crash or a hang.
TEST(PerfImportTest, CutAtEveryByteImportsWhatIsThereOrSaysWhy) {
  const std::string program = testing::SampleProgram("cpu_bound", "fp");
  const std::vector<uint8_t> whole = PerfData(Attr(false), OneSample(program, program), {});
  for (size_t n = 0; n < whole.size(); n += 3) {
    const std::string path =
        WriteFile("cut.data", std::vector<uint8_t>(whole.begin(), whole.begin() + n));
    absl::StatusOr<PerfImport> imported = ImportPerfData(path);
    if (!imported.ok()) {
      EXPECT_THAT(imported.status().message(), HasSubstr(path)) << n;
    } else {
      EXPECT_LE(imported->recording.events.size(), 1u) << n;
    }
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace dprof
