// Reading perf.data files: real ones `perf record` writes here (file and pipe mode, compressed,
// several events), each read record for record as `perf report --stats` counts them; and
// hand-built broken ones, cut at every byte, which give an error or what could be read, never a
// crash.
#include "tracer/internal/perf_data_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tracer/record_builder.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::tracer::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// The record counts of `perf report --stats` ("Aggregated stats"), by record type.
std::map<uint32_t, uint64_t> PerfStats(const std::string& path, uint64_t* total) {
  static const std::map<std::string, uint32_t> kTypes = {
      {"MMAP", 1},        {"LOST", 2},
      {"COMM", 3},        {"EXIT", 4},
      {"THROTTLE", 5},    {"UNTHROTTLE", 6},
      {"FORK", 7},        {"SAMPLE", 9},
      {"MMAP2", 10},      {"LOST_SAMPLES", 13},
      {"SWITCH", 14},     {"SWITCH_CPU_WIDE", 15},
      {"ATTR", 64},       {"FINISHED_ROUND", 68},
      {"ID_INDEX", 69},   {"THREAD_MAP", 73},
      {"CPU_MAP", 74},    {"EVENT_UPDATE", 78},
      {"TIME_CONV", 79},  {"FEATURE", 80},
      {"COMPRESSED", 81}, {"FINISHED_INIT", 82}};
  std::istringstream in(Shell("perf report --stats -i " + path + " 2>/dev/null"));
  std::map<uint32_t, uint64_t> counts;
  bool aggregated = false;
  for (std::string l; std::getline(in, l);) {
    if (l.find("Aggregated stats") != std::string::npos) {
      aggregated = true;
      continue;
    }
    if (aggregated && l.find(" stats:") != std::string::npos) break;  // per event from here
    // "          SAMPLE events:        209  (92.5%)"
    std::istringstream words(l);
    std::string name, label;
    uint64_t n = 0;
    if (!aggregated || !(words >> name >> label >> n) || label != "events:") continue;
    if (name == "TOTAL") {
      *total = n;
    } else if (auto it = kTypes.find(name); it != kTypes.end()) {
      counts[it->second] = n;
    } else {
      ADD_FAILURE() << "perf counts records this test does not know: " << l;
    }
  }
  return counts;
}

class PerfDataFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dprof-perf-data-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `perf record ARGS -o FILE -- samples/cpu_bound_fp 0.3`; FILE "-" writes the pipe layout.
  std::string Record(const std::string& name, const std::string& args, bool pipe = false) {
    const std::string path = (dir_ / name).string();
    const std::string program = testing::SampleProgram("cpu_bound", "fp");
    const std::string command = "perf record -q " + args + (pipe ? " -o - " : " -o " + path) +
                                " -- " + program + " 0.3 " + (pipe ? "> " + path : "") + " 2>" +
                                path + ".err";
    EXPECT_EQ(system(command.c_str()), 0) << command << ": " << Shell("cat " + path + ".err");
    // A real file of each kind for the perf.data reader's fuzz corpus (scripts/test.sh).
    const std::filesystem::path corpus = std::filesystem::path(DPROF_ARTIFACTS_DIR) / "perf-data";
    std::filesystem::create_directories(corpus);
    std::filesystem::copy_file(path, corpus / name,
                               std::filesystem::copy_options::overwrite_existing);
    return path;
  }

  // Reads `path` whole; every count equals perf report's.
  void ExpectReadAsPerfCounts(const std::string& path, bool pipe,
                              std::map<uint32_t, uint64_t>* counts = nullptr) {
    const std::vector<uint8_t> bytes = ReadAll(path);
    absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(bytes);
    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_EQ(file->pipe(), pipe);
    uint64_t samples = 0;
    const absl::Status read = file->ForEachRecord([&](const PerfDataRecord& r) {
      samples += r.type == PERF_RECORD_SAMPLE;
      // The kernel's records are 8-byte aligned (perf's own need not be).
      if (r.type < kHeaderAttr) {
        EXPECT_EQ(r.bytes.size() % 8, 0u) << r.type;
      }
    });
    ASSERT_TRUE(read.ok()) << read;
    EXPECT_FALSE(file->cut());
    uint64_t total = 0;
    const std::map<uint32_t, uint64_t> perf = PerfStats(path, &total);
    EXPECT_EQ(file->stats().records, perf);
    EXPECT_GT(perf.at(PERF_RECORD_SAMPLE), 50u);
    EXPECT_EQ(samples, perf.at(PERF_RECORD_SAMPLE));
    uint64_t ours = 0;
    for (const auto& [type, n] : file->stats().records) ours += n;
    EXPECT_EQ(ours, total);
    if (counts != nullptr) *counts = file->stats().records;

    utsname u = {};
    uname(&u);
    const PerfDataFeatures& f = file->features();
    EXPECT_EQ(f.hostname, u.nodename);
    EXPECT_EQ(f.os_release, u.release);
    EXPECT_EQ(f.arch, u.machine);
    EXPECT_THAT(f.perf_version, StartsWith("6."));
    EXPECT_GT(f.cpus_online, 0u);
    ASSERT_GE(f.cmdline.size(), 3u);
    EXPECT_THAT(f.cmdline[0], HasSubstr("perf"));
    EXPECT_EQ(f.cmdline[1], "record");
    ASSERT_FALSE(file->attrs().empty());
    EXPECT_THAT(file->attrs()[0].name, StartsWith("cpu-clock"));
    EXPECT_EQ(file->attrs()[0].attr.type, uint32_t{PERF_TYPE_SOFTWARE});
  }

  std::filesystem::path dir_;
};

TEST_F(PerfDataFileTest, FileModeAsPerfReadsIt) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string path = Record("fp.data", "-F 999 -g");
  ExpectReadAsPerfCounts(path, /*pipe=*/false);
  const std::vector<uint8_t> bytes = ReadAll(path);
  absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(bytes);
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(file->attrs().size(), 1u);
  const perf_event_attr& a = file->attrs()[0].attr;
  EXPECT_TRUE(a.sample_type & PERF_SAMPLE_CALLCHAIN);
  EXPECT_TRUE(a.freq);
  EXPECT_EQ(a.sample_freq, 999u);
  EXPECT_FALSE(file->attrs()[0].ids.empty());
  bool program = false;
  for (const PerfBuildId& b : file->features().build_ids) {
    program |= b.filename == std::filesystem::canonical(testing::SampleProgram("cpu_bound", "fp"));
    EXPECT_EQ(b.build_id.size(), 20u) << b.filename;
  }
  EXPECT_TRUE(program) << "the program's build-id is in the BUILD_ID feature";
}

TEST_F(PerfDataFileTest, PipeModeAsPerfReadsIt) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  ExpectReadAsPerfCounts(Record("pipe.data", "-F 999 -g", /*pipe=*/true), /*pipe=*/true);
}

// perf inject -b puts build-ids into a pipe's stream (HEADER_BUILD_ID records, where perf
// writes them after the data): they are known when the file opens, before any record is read.
TEST_F(PerfDataFileTest, BuildIdsInAPipeAreKnownAtOpen) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string pipe = Record("pipe.data", "-F 999 -g", /*pipe=*/true);
  const std::string injected = (dir_ / "injected.data").string();
  const std::string command = "perf inject -b -i - -o - < " + pipe + " > " + injected + " 2>&1";
  ASSERT_EQ(system(command.c_str()), 0) << command;
  const std::vector<uint8_t> bytes = ReadAll(injected);
  absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(file->pipe());
  const std::string program = testing::SampleProgram("cpu_bound", "fp");
  const std::string expected = Shell("readelf -n " + program + " | awk '/Build ID/ {print $3}'");
  ASSERT_FALSE(expected.empty());
  bool found = false;
  for (const PerfBuildId& b : file->features().build_ids) {
    if (b.filename != program) continue;
    found = true;
    std::string hex;
    for (unsigned char c : b.build_id) hex += absl::StrFormat("%02x", c);
    EXPECT_EQ(hex + "\n", expected);
  }
  EXPECT_TRUE(found) << "no build-id of " << program;
  EXPECT_TRUE(file->ForEachRecord([](const PerfDataRecord&) {}).ok());
}

TEST_F(PerfDataFileTest, CompressedChunksAsPerfReadsThem) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string path = Record("z.data", "-z -F 999 --call-graph dwarf,4096");
  std::map<uint32_t, uint64_t> counts;
  ExpectReadAsPerfCounts(path, /*pipe=*/false, &counts);
  EXPECT_GT(counts[kCompressed], 0u);
  const std::vector<uint8_t> bytes = ReadAll(path);
  absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(bytes);
  ASSERT_TRUE(file.ok());
  uint64_t stack_bytes = 0;
  ASSERT_TRUE(file->ForEachRecord([&](const PerfDataRecord& r) {
                    if (r.type == PERF_RECORD_SAMPLE) stack_bytes += r.bytes.size();
                  })
                  .ok());
  EXPECT_GT(file->stats().decompressed_bytes, 4 * file->stats().compressed_bytes)
      << "dwarf samples' stack copies compress well";
  EXPECT_GT(stack_bytes, 4096u * 50) << "the samples came out of the chunks whole";
}

TEST_F(PerfDataFileTest, EveryEventIsNamed) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string path = Record("multi.data", "-e sched:sched_switch -e cpu-clock -g");
  const std::vector<uint8_t> bytes = ReadAll(path);
  absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->attrs().size(), 2u);
  EXPECT_EQ(file->attrs()[0].name, "sched:sched_switch");
  EXPECT_EQ(file->attrs()[0].attr.type, uint32_t{PERF_TYPE_TRACEPOINT});
  EXPECT_EQ(file->attrs()[1].name, "cpu-clock");
  for (const PerfDataAttr& a : file->attrs()) {
    EXPECT_TRUE(a.attr.sample_type & PERF_SAMPLE_IDENTIFIER) << a.name << ": several events";
  }
}

// A small file by hand: one cpu-clock attribute with id 7, two records, the HOSTNAME feature.
std::vector<uint8_t> SmallFile() {
  auto u64 = [](std::vector<uint8_t>& v, uint64_t x) {
    v.insert(v.end(), reinterpret_cast<uint8_t*>(&x), reinterpret_cast<uint8_t*>(&x) + 8);
  };
  perf_event_attr attr = {};
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TIME;
  const uint64_t attr_size = sizeof(attr) + 16;
  const uint64_t attrs_at = 104, ids_at = attrs_at + attr_size, data_at = ids_at + 8;
  const std::vector<uint8_t> sample =
      testing::RecordBuilder(PERF_RECORD_SAMPLE).U64(7).U64(1000).Finish();
  const std::vector<uint8_t> round = testing::RecordBuilder(kFinishedRound).Finish();
  const uint64_t data_size = sample.size() + round.size();
  std::vector<uint8_t> f;
  u64(f, 0x32454c4946524550);
  u64(f, 104);
  u64(f, attr_size);
  u64(f, attrs_at);
  u64(f, attr_size);
  u64(f, data_at);
  u64(f, data_size);
  u64(f, 0);
  u64(f, 0);
  u64(f, uint64_t{1} << kFeatureHostname);
  u64(f, 0);
  u64(f, 0);
  u64(f, 0);
  f.insert(f.end(), reinterpret_cast<uint8_t*>(&attr),
           reinterpret_cast<uint8_t*>(&attr) + sizeof(attr));
  u64(f, ids_at);
  u64(f, 8);
  u64(f, 7);
  f.insert(f.end(), sample.begin(), sample.end());
  f.insert(f.end(), round.begin(), round.end());
  const uint64_t feature_at = f.size() + 16;
  u64(f, feature_at);
  u64(f, 12);
  const uint32_t len = 8;
  f.insert(f.end(), reinterpret_cast<const uint8_t*>(&len),
           reinterpret_cast<const uint8_t*>(&len) + 4);
  const char host[8] = "box";
  f.insert(f.end(), host, host + 8);
  return f;
}

TEST(PerfDataFileBadInputTest, ASmallFileReads) {
  const std::vector<uint8_t> bytes = SmallFile();
  absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->attrs().size(), 1u);
  EXPECT_EQ(file->attrs()[0].ids, std::vector<uint64_t>{7});
  EXPECT_EQ(file->features().hostname, "box");
  std::vector<uint32_t> types;
  ASSERT_TRUE(file->ForEachRecord([&](const PerfDataRecord& r) { types.push_back(r.type); }).ok());
  EXPECT_EQ(types, (std::vector<uint32_t>{PERF_RECORD_SAMPLE, kFinishedRound}));
  EXPECT_FALSE(file->cut());
  EXPECT_EQ(file->ForEachRecord([](const PerfDataRecord&) {}).code(),
            absl::StatusCode::kFailedPrecondition)
      << "once";
}

TEST(PerfDataFileBadInputTest, CutAtEveryByteAnErrorOrWhatWasThere) {
  const std::vector<uint8_t> whole = SmallFile();
  for (size_t n = 0; n < whole.size(); ++n) {
    const std::vector<uint8_t> cut(whole.begin(), whole.begin() + static_cast<ptrdiff_t>(n));
    absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(cut);
    if (!file.ok()) {
      EXPECT_FALSE(file.status().message().empty()) << n;
      continue;
    }
    size_t records = 0;
    const absl::Status s = file->ForEachRecord([&](const PerfDataRecord&) { ++records; });
    EXPECT_LE(records, 2u) << n;
    if (s.ok() && records < 2) {
      EXPECT_TRUE(file->cut()) << n << ": a cut file says so";
    }
  }
}

TEST(PerfDataFileBadInputTest, WrongFilesAreNamed) {
  std::vector<uint8_t> bytes = SmallFile();
  std::memcpy(bytes.data(), "PERFFILE", 8);
  EXPECT_THAT(PerfDataFile::Open(bytes).status().message(), HasSubstr("PERFFILE"));
  std::reverse(bytes.begin(), bytes.begin() + 8);
  const uint64_t swapped = 0x50455246494c4532;
  std::memcpy(bytes.data(), &swapped, 8);
  EXPECT_THAT(PerfDataFile::Open(bytes).status().message(), HasSubstr("big-endian"));
  const std::string text = "# dprof recording, or anything else at all";
  EXPECT_THAT(PerfDataFile::Open({reinterpret_cast<const uint8_t*>(text.data()), text.size()})
                  .status()
                  .message(),
              HasSubstr("not a perf.data file"));
  EXPECT_FALSE(PerfDataFile::Open({}).ok());
}

TEST(PerfDataFileBadInputTest, SectionsAndRecordsOutsideTheFileAreRefused) {
  std::vector<uint8_t> bytes = SmallFile();
  const uint64_t far = uint64_t{1} << 62;
  std::vector<uint8_t> data_far = bytes;
  std::memcpy(data_far.data() + 48, &far, 8);  // data.size
  EXPECT_EQ(PerfDataFile::Open(data_far).status().code(), absl::StatusCode::kOutOfRange);
  std::vector<uint8_t> attrs_far = bytes;
  std::memcpy(attrs_far.data() + 24, &far, 8);  // attrs.offset
  EXPECT_EQ(PerfDataFile::Open(attrs_far).status().code(), absl::StatusCode::kOutOfRange);

  // The sample record claims 4 bytes: smaller than its header.
  const uint64_t data_at = 104 + sizeof(perf_event_attr) + 16 + 8;
  std::vector<uint8_t> tiny = bytes;
  const uint16_t four = 4;
  std::memcpy(tiny.data() + data_at + 6, &four, 2);
  absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(tiny);
  ASSERT_TRUE(file.ok());
  const absl::Status s = file->ForEachRecord([](const PerfDataRecord&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr(std::to_string(data_at)));
}

TEST(PerfDataFileBadInputTest, AChunkThatDoesNotDecompressIsNamed) {
  std::vector<uint8_t> chunk = testing::RecordBuilder(kCompressed).U64(0x1234567890abcdef).Finish();
  std::vector<uint8_t> bytes = {'P', 'E', 'R', 'F', 'I', 'L', 'E', '2', 16, 0, 0, 0, 0, 0, 0, 0};
  bytes.insert(bytes.end(), chunk.begin(), chunk.end());
  absl::StatusOr<PerfDataFile> file = PerfDataFile::Open(bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->pipe());
  const absl::Status s = file->ForEachRecord([](const PerfDataRecord&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("does not decompress"));
}

// perf compresses the data as one zstd stream, flushed at every ring-buffer read (a block ends
// there, of any size), and cut into chunks: a chunk may end inside a record, and hold far more
// than four times its size.
TEST(PerfDataFileBadInputTest, ChunksContinueOneStreamAndRecordsStraddleThem) {
  std::vector<uint8_t> plain;
  constexpr int kRecords = 50000;  // 400 KB of one record repeated: compresses a thousandfold
  for (int i = 0; i < kRecords; ++i) {
    const std::vector<uint8_t> r = testing::RecordBuilder(kFinishedRound).Finish();
    plain.insert(plain.end(), r.begin(), r.end());
  }
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::vector<uint8_t> file = {'P', 'E', 'R', 'F', 'I', 'L', 'E', '2', 16, 0, 0, 0, 0, 0, 0, 0};
  // Two chunks of two flushed blocks each, 100 KB and the rest; the first chunk ends 4 bytes
  // into a record.
  const size_t half = plain.size() / 2 + 4;
  const size_t block = 100'000;
  for (auto [from, to, last] :
       {std::tuple(size_t{0}, half, false), std::tuple(half, plain.size(), true)}) {
    std::vector<uint8_t> out(ZSTD_compressBound(to - from) + 256);
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    for (auto [a, b, mode] : {std::tuple(from, from + block, ZSTD_e_flush),
                              std::tuple(from + block, to, last ? ZSTD_e_end : ZSTD_e_flush)}) {
      ZSTD_inBuffer in{plain.data() + a, b - a, 0};
      ASSERT_EQ(ZSTD_compressStream2(cctx, &o, &in, mode), 0u);
    }
    const std::vector<uint8_t> chunk = testing::RecordBuilder(kCompressed)
                                           .Bytes(std::span<const uint8_t>(out.data(), o.pos))
                                           .Finish();
    file.insert(file.end(), chunk.begin(), chunk.end());
  }
  ZSTD_freeCCtx(cctx);
  absl::StatusOr<PerfDataFile> f = PerfDataFile::Open(file);
  ASSERT_TRUE(f.ok()) << f.status();
  int records = 0;
  const absl::Status s = f->ForEachRecord([&](const PerfDataRecord& r) {
    EXPECT_EQ(r.type, kFinishedRound);
    ++records;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(records, kRecords);
  EXPECT_FALSE(f->cut());
  EXPECT_EQ(f->stats().decompressed_bytes, plain.size());
  EXPECT_GT(f->stats().decompressed_bytes, 100 * f->stats().compressed_bytes);
}

}  // namespace
}  // namespace dprof::tracer::internal
