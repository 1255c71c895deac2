// The recording file: round trips, recovery from files cut short or damaged anywhere, and the
// errors for files that are not recordings.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "dprof/profile/output_file.h"
#include "dprof/profile/recorder.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/recording_writer.h"
#include "dprof/profile/report.h"
#include "dprof/profile/view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/profile/recording_testing.h"

namespace dprof::profile {
namespace {

using ::testing::HasSubstr;

class RecordingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dprof-recording-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  static std::vector<uint8_t> Bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::filesystem::path dir_;
};

void ExpectSame(const Recording& a, const Recording& b) {
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.event_names, b.event_names);
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    ASSERT_EQ(a.events[i].time_ns, b.events[i].time_ns) << "event " << i;
    // Field offsets may differ; the fields may not.
    Event x = a.events[i], y = b.events[i];
    const auto raw_x = a.RawOf(x), raw_y = b.RawOf(y);
    ASSERT_TRUE(std::equal(raw_x.begin(), raw_x.end(), raw_y.begin(), raw_y.end())) << i;
    x.raw_offset = y.raw_offset = 0;
    ASSERT_EQ(x, y) << "event " << i;
  }
  EXPECT_EQ(a.stacks, b.stacks);
  EXPECT_EQ(a.user_stacks, b.user_stacks);
  EXPECT_EQ(a.mappings, b.mappings);
  EXPECT_EQ(a.threads, b.threads);
  EXPECT_EQ(a.tasks, b.tasks);
  EXPECT_EQ(a.symbols, b.symbols);
  EXPECT_EQ(a.symbol_of, b.symbol_of);
  EXPECT_EQ(a.mapped_symbol_of, b.mapped_symbol_of);
  EXPECT_EQ(a.counters, b.counters);
  EXPECT_EQ(a.thread_counters, b.thread_counters);
}

TEST_F(RecordingTest, RoundTripKeepsEverything) {
  const Recording original = testing::MakeRecording(500);
  ASSERT_TRUE(WriteRecording(Path("r.dprof"), original).ok());
  ReadReport report;
  absl::StatusOr<Recording> read = ReadRecording(Path("r.dprof"), &report);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(report.complete) << report.Summary();
  EXPECT_EQ(report.bytes, report.file_size);
  EXPECT_THAT(report.Summary(), HasSubstr("complete"));
  ExpectSame(original, *read);
  // Compressed: well under the raw events.
  EXPECT_LT(report.file_size, original.events.size() * 8);
}

// Long sequences are cut into several chunks, each decoded on its own.
TEST_F(RecordingTest, ManyEventsSpanSeveralChunks) {
  const Recording original = testing::MakeRecording(400'000);
  ASSERT_TRUE(WriteRecording(Path("big.dprof"), original).ok());
  ReadReport report;
  absl::StatusOr<Recording> read = ReadRecording(Path("big.dprof"), &report);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(report.complete);
  EXPECT_GE(report.chunks, 10u);  // nine kinds of chunk, events in two or more
  ExpectSame(original, *read);
}

// A recording written as it runs, cut short at every byte: everything in the complete chunks
// comes back, the report says how much and why it stopped, and nothing crashes.
TEST_F(RecordingTest, FileCutAnywhereKeepsEveryCompleteChunk) {
  const Recording r = testing::MakeRecording(60);
  absl::StatusOr<std::unique_ptr<RecordingWriter>> w = RecordingWriter::Create(Path("cut.dprof"));
  ASSERT_TRUE(w.ok()) << w.status();
  // Boundary after each write, and the events complete at that point.
  std::vector<std::pair<uint64_t, size_t>> boundaries = {{(*w)->bytes_written(), 0}};
  ASSERT_TRUE((*w)->WriteMetadata(r.metadata, r.event_names).ok());
  boundaries.push_back({(*w)->bytes_written(), 0});
  std::vector<std::pair<StackId, std::span<const uint64_t>>> stacks;
  for (const auto& [id, pcs] : r.stacks) stacks.emplace_back(id, pcs);
  ASSERT_TRUE((*w)->WriteStacks(stacks).ok());
  boundaries.push_back({(*w)->bytes_written(), 0});
  for (size_t i = 0; i < r.events.size(); i += 20) {
    ASSERT_TRUE((*w)->WriteEvents(std::span(r.events).subspan(i, 20), r.raw).ok());
    boundaries.push_back({(*w)->bytes_written(), i + 20});
  }
  ASSERT_TRUE((*w)->Finish().ok());
  boundaries.push_back({(*w)->bytes_written(), r.events.size()});
  const std::vector<uint8_t> bytes = Bytes(Path("cut.dprof"));
  ASSERT_EQ(bytes.size(), boundaries.back().first);

  for (size_t length = 16; length <= bytes.size(); ++length) {
    ReadReport report;
    absl::StatusOr<Recording> read = ParseRecording(std::span(bytes).first(length), "cut", &report);
    ASSERT_TRUE(read.ok()) << length << ": " << read.status();
    // The last boundary at or before `length` is what must come back.
    size_t chunks = 0, events = 0;
    uint64_t good = 0;
    for (size_t b = 0; b < boundaries.size(); ++b) {
      if (boundaries[b].first > length) break;
      chunks = b;
      events = boundaries[b].second;
      good = boundaries[b].first;
    }
    ASSERT_EQ(report.chunks, chunks) << length;
    ASSERT_EQ(read->events.size(), events) << length;
    ASSERT_EQ(report.bytes, good) << length;
    ASSERT_EQ(report.complete, length == bytes.size()) << length;
    if (!report.complete) {
      ASSERT_THAT(report.problem, ::testing::AnyOf(HasSubstr("cut short"), HasSubstr("ends after")))
          << length;
      ASSERT_THAT(report.Summary(), HasSubstr("recovered"));
    }
  }
}

// Any one damaged byte is noticed: the reader stops before the damaged chunk (or rejects the file
// when the damage is in its header) and never returns a wrong recording as complete.
TEST_F(RecordingTest, EveryDamagedByteIsNoticed) {
  ASSERT_TRUE(WriteRecording(Path("d.dprof"), testing::MakeRecording(30)).ok());
  const std::vector<uint8_t> bytes = Bytes(Path("d.dprof"));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> damaged = bytes;
    damaged[i] ^= 0x5a;
    ReadReport report;
    absl::StatusOr<Recording> read = ParseRecording(damaged, "damaged", &report);
    if (!read.ok()) {
      ASSERT_LT(i, 16u) << "only the file header's damage rejects the file";
      continue;
    }
    ASSERT_FALSE(report.complete) << "byte " << i;
    ASSERT_FALSE(report.problem.empty());
  }
}

TEST_F(RecordingTest, ForeignFilesAreRejectedWithWhatTheyAre) {
  ReadReport report;
  auto read_text = [&](const std::string& name, const std::string& content) {
    std::ofstream(Path(name), std::ios::binary) << content;
    return ReadRecording(Path(name), &report);
  };
  absl::StatusOr<Recording> perf = read_text("perf.data", std::string("PERFILE2") + '\0' + "xx");
  EXPECT_EQ(perf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(perf.status().message(), HasSubstr("is not a dprof recording: it is a perf.data"));
  EXPECT_THAT(read_text("empty", "").status().message(), HasSubstr("it is empty"));
  EXPECT_THAT(read_text("text", "hello, world\n").status().message(),
              HasSubstr("does not start with the DPROFREC signature"));
  std::string newer(16, '\0');
  std::memcpy(newer.data(), "DPROFREC\x09\0\0\0\x10\0\0\0", 16);
  absl::StatusOr<Recording> future = read_text("newer", newer);
  EXPECT_EQ(future.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(future.status().message(), HasSubstr("upgrade dprof"));
  absl::StatusOr<Recording> missing = ReadRecording(Path("missing"), &report);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("dprof record"));
  EXPECT_EQ(ReadRecording(dir_.string(), &report).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RecordingTest, DecompressedSizeIsBounded) {
  ASSERT_TRUE(WriteRecording(Path("b.dprof"), testing::MakeRecording(5000)).ok());
  ReadReport report;
  absl::StatusOr<Recording> read = ReadRecording(Path("b.dprof"), &report, {.max_raw_bytes = 4096});
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(report.complete);
  EXPECT_THAT(report.problem, HasSubstr("limit of 4096"));
}

TEST_F(RecordingTest, WritingThroughASymlinkIsRefused) {
  std::filesystem::create_symlink(Path("target"), Path("link"));
  absl::StatusOr<std::unique_ptr<RecordingWriter>> w = RecordingWriter::Create(Path("link"));
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), HasSubstr("symbolic link"));
  EXPECT_FALSE(std::filesystem::exists(Path("target")));
  EXPECT_EQ(RecordingWriter::Create(Path("no/such/dir/x")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RecordingTest, AFullDiskIsNamed) {
  absl::StatusOr<std::unique_ptr<RecordingWriter>> w =
      RecordingWriter::CreateOnFd(open("/dev/full", O_WRONLY | O_CLOEXEC), "/dev/full", {});
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), HasSubstr("the disk is full"));
  // A device is never replaced by a recording.
  w = RecordingWriter::Create("/dev/full");
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), HasSubstr("not a regular file"));
  struct stat st = {};
  ASSERT_EQ(stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

// Recordings and views are private (0600) unless asked otherwise, and a file someone else left
// at the path does not decide the result's owner or mode: it is replaced by a new file.
TEST_F(RecordingTest, FilesArePrivateAndNew) {
  ASSERT_TRUE(WriteRecording(Path("r.dprof"), testing::MakeRecording(10)).ok());
  struct stat st = {};
  ASSERT_EQ(stat(Path("r.dprof").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Planted: world-writable, someone else's.
  std::ofstream(Path("view.html")) << "planted";
  ASSERT_EQ(chmod(Path("view.html").c_str(), 0666), 0);
  ASSERT_EQ(chown(Path("view.html").c_str(), 4242, 4242), 0) << "the test runs as root";
  ASSERT_TRUE(ReplaceFile(Path("view.html"), "mine").ok());
  ASSERT_EQ(stat(Path("view.html").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, geteuid());
  std::ifstream in(Path("view.html"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "mine");
  ASSERT_TRUE(ReplaceFile(Path("shared.html"), "x", 0644).ok());
  ASSERT_EQ(stat(Path("shared.html").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  // Nothing left beside them.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 3u);
}

// Bytes after the end chunk (appended, or the file extended) are ignored and said.
TEST_F(RecordingTest, BytesAfterTheEndAreSaid) {
  ASSERT_TRUE(WriteRecording(Path("r.dprof"), testing::MakeRecording(10)).ok());
  std::ofstream(Path("r.dprof"), std::ios::app | std::ios::binary) << "garbage";
  ReadReport report;
  ASSERT_TRUE(ReadRecording(Path("r.dprof"), &report).ok());
  EXPECT_TRUE(report.complete);
  EXPECT_EQ(report.trailing_bytes(), 7u);
  EXPECT_THAT(report.Summary(), HasSubstr("7 bytes after the end were ignored"));
  // A FIFO is not a recording, and is not waited on.
  ASSERT_EQ(mkfifo(Path("fifo").c_str(), 0600), 0);
  EXPECT_FALSE(ReadRecording(Path("fifo"), &report).ok());
}

// The file-size limit stands in for a full disk: the chunk that does not fit is cut off again, the
// writer refuses more, and the file reads back up to its last complete chunk.
// A quiet target sends no events; the tracer's ticks still bring what is pending (here a mapping
// and a thread name) to the file, once the flush interval passed and not before.
TEST_F(RecordingTest, RecorderTicksFlushAQuietRecording) {
  auto depot = stackdepot::Depot::Create({}).value();
  auto recorder = Recorder::Create(Path("quiet.data"), depot.get(), {{"command", "quiet"}},
                                   {"cpu-clock"}, {.flush_interval_ns = 1000})
                      .value();
  event::Mmap2Record mmap;
  mmap.pid = 7;
  mmap.address = 0x1000;
  mmap.length = 0x2000;
  mmap.filename = "/bin/quiet";
  recorder->OnMmap(mmap);
  event::CommRecord comm;
  comm.pid = comm.tid = 7;
  comm.comm = "quiet";
  recorder->OnComm(comm);

  ReadReport report;
  recorder->OnTick(999);  // before the interval: nothing written yet
  absl::StatusOr<Recording> r = ReadRecording(Path("quiet.data"), &report);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->mappings.empty());

  recorder->OnTick(1000);
  r = ReadRecording(Path("quiet.data"), &report);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->mappings.size(), 1u);
  EXPECT_EQ(r->mappings[0].path, "/bin/quiet");
  ASSERT_EQ(r->threads.size(), 1u);
  EXPECT_EQ(r->threads[0].comm, "quiet");
  EXPECT_FALSE(report.complete) << "still recording";
}

// Stacks the depot refused reach the recorder as frames: the recording keeps them, and its counters
// and the report's stats say the depot refused them.
TEST_F(RecordingTest, StacksTheDepotRefusedAreRecordedAndCounted) {
  auto depot = stackdepot::Depot::Create({}).value();
  auto recorder =
      Recorder::Create(Path("refused.dprof"), depot.get(), {{"command", "refused"}}, {"cpu-clock"})
          .value();
  const std::vector<uint64_t> kernel = {0xffffffff81000100, 0xffffffff81000200};
  const std::vector<uint64_t> user = {0x401000, 0x402000};
  const std::vector<uint64_t> stored = {0xffffffff81000300};
  const stackdepot::Handle stored_handle =
      stackdepot::SetExtraBits(depot->Save(stored, stackdepot::kCanAlloc), event::kKernelStackTag);
  recorder->OnEvent({.pid = 7,
                     .tid = 7,
                     .time_ns = 10,
                     .weight = 1000,
                     .user = event::UserStack::kInline,
                     .kernel_pcs = kernel,
                     .user_pcs = user});
  recorder->OnEvent(
      {.pid = 7, .tid = 7, .time_ns = 20, .weight = 1000, .kernel_stack = stored_handle});
  event::TracerStats stats;
  stats.values[static_cast<int>(event::TracerStat::kSamples)] = 2;
  stats.depot.values[static_cast<int>(stackdepot::Stat::kFailures)] = 2;
  stats.depot.values[static_cast<int>(stackdepot::Stat::kFailCapacity)] = 2;
  stats.depot.values[static_cast<int>(stackdepot::Stat::kBytesInUse)] = 4096;
  ASSERT_TRUE(recorder->Finish(CountersOf(stats), nullptr).ok());

  ReadReport report;
  absl::StatusOr<Recording> r = ReadRecording(Path("refused.dprof"), &report);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->events.size(), 2u);
  ASSERT_NE(r->Stack(r->events[0].kernel_stack), nullptr);
  EXPECT_EQ(*r->Stack(r->events[0].kernel_stack), kernel);
  ASSERT_NE(r->Stack(r->events[0].user_stack), nullptr);
  EXPECT_EQ(*r->Stack(r->events[0].user_stack), user);
  ASSERT_NE(r->Stack(r->events[1].kernel_stack), nullptr);
  EXPECT_EQ(*r->Stack(r->events[1].kernel_stack), stored);
  EXPECT_EQ(r->counters.at("depot.fail_capacity"), 2u);
  std::ostringstream out;
  WriteReport(*r, View::Build(*r), {}, out);
  EXPECT_THAT(out.str(), ::testing::HasSubstr(
                             "stack depot: 2 stacks refused (2 for capacity; 4096 bytes in use)"));
}

TEST_F(RecordingTest, AFailedWriteLeavesTheFileReadable) {
  const Recording r = testing::MakeRecording(20'000);
  const std::string path = Path("limited.dprof");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    signal(SIGXFSZ, SIG_IGN);
    rlimit limit = {.rlim_cur = 20'000, .rlim_max = 20'000};
    setrlimit(RLIMIT_FSIZE, &limit);
    auto w = RecordingWriter::Create(path);
    if (!w.ok() || !(*w)->WriteMetadata(r.metadata, r.event_names).ok()) _exit(2);
    std::vector<std::pair<StackId, std::span<const uint64_t>>> stacks;
    for (const auto& [id, pcs] : r.stacks) stacks.emplace_back(id, pcs);
    if (!(*w)->WriteStacks(stacks).ok()) _exit(3);
    absl::Status s;
    size_t i = 0;
    for (; i < r.events.size() && s.ok(); i += 1000) {
      s = (*w)->WriteEvents(std::span(r.events).subspan(i, 1000), r.raw);
    }
    if (s.ok()) _exit(4);
    if (s.message().find("stays readable") == std::string::npos) _exit(5);
    // Refused after a failure.
    if ((*w)->WriteEvents(std::span(r.events).first(1), r.raw).ok()) _exit(6);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ReadReport report;
  absl::StatusOr<Recording> read = ReadRecording(path, &report);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_FALSE(report.complete);
  EXPECT_EQ(report.bytes, report.file_size) << "no partial chunk at the end";
  EXPECT_GT(read->events.size(), 0u);
  EXPECT_EQ(read->events.size() % 1000, 0u);
  EXPECT_THAT(report.problem, HasSubstr("without the end marker"));
}

}  // namespace
}  // namespace dprof::profile
