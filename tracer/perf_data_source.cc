#include "dprof/tracer/perf_data_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "dprof/cookie/context_tracker.h"
#include "dprof/tracer/event_queue.h"
#include "dprof/tracer/perf_abi.h"
#include "tracer/internal/address_spaces.h"
#include "tracer/internal/attrs.h"
#include "tracer/internal/event_ids.h"
#include "tracer/internal/event_spec.h"
#include "tracer/internal/perf_data_file.h"
#include "tracer/internal/record_dispatcher.h"
#include "tracer/internal/sample_stacks.h"
#include "tracer/internal/source_counters.h"
#include "tracer/internal/stack_services.h"
#include "tracer/internal/tracing_data.h"

namespace dprof::tracer {

namespace {

using internal::PerfDataAttr;
using internal::StackMode;

// Dwarf snapshots requested between waits for the unwind engine: half its default queue.
constexpr size_t kSnapshotsPerFlush = 512;

// A file mapped read-only for the source's life.
class MappedFile {
 public:
  static absl::StatusOr<MappedFile> Open(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      const std::string what = absl::StrCat(path, ": ", strerror(err));
      return err == ENOENT ? absl::NotFoundError(what) : absl::PermissionDeniedError(what);
    }
    struct stat st = {};
    MappedFile file;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
    }
    if (st.st_size > 0) {
      void* map = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (map == MAP_FAILED) {
        const int err = errno;
        close(fd);
        return absl::ResourceExhaustedError(absl::StrCat(path, ": cannot map: ", strerror(err)));
      }
      file.bytes_ = {static_cast<const uint8_t*>(map), static_cast<size_t>(st.st_size)};
    }
    close(fd);
    return file;
  }
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept : bytes_(std::exchange(other.bytes_, {})) {}
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile() {
    if (!bytes_.empty()) munmap(const_cast<uint8_t*>(bytes_.data()), bytes_.size());
  }
  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  std::span<const uint8_t> bytes_;
};

// The program perf recorded, from perf's own command line ("perf record -g -- ./prog 3" →
// "./prog 3"): what follows "--", else what follows the options. Empty for -a, -p and -t.
std::string CommandOf(const std::vector<std::string>& cmdline) {
  auto it = std::find(cmdline.begin(), cmdline.end(), "record");
  if (it == cmdline.end()) return "";
  // perf record's options that take a value as the next argument.
  static const absl::flat_hash_set<std::string_view> kLongWithValue = {
      "--event",      "--filter",       "--pid",           "--tid",        "--realtime",
      "--mmap-pages", "--count",        "--output",        "--cpu",        "--freq",
      "--cgroup",     "--uid",          "--branch-filter", "--delay",      "--call-graph",
      "--clockid",    "--exclude-perf", "--affinity",      "--mmap-flush", "--max-size",
      "--control",    "--user-regs"};
  for (++it; it != cmdline.end(); ++it) {
    const std::string& arg = *it;
    if (arg == "--") {
      ++it;
      break;
    }
    if (arg.empty() || arg[0] != '-') break;
    if (absl::StartsWith(arg, "--")) {
      if (arg.find('=') == std::string::npos && kLongWithValue.contains(arg)) ++it;
    } else if (arg.size() == 2 &&
               std::string_view("eptrmcoCFGujDk").find(arg[1]) != std::string_view::npos) {
      ++it;
    }
    if (it == cmdline.end()) return "";
  }
  return absl::StrJoin(it, cmdline.end(), " ");
}

// The build-id cache's copy of the binary with `build_id` (raw bytes).
std::string BuildIdCachePath(const std::string& cache, const std::string& build_id) {
  const std::string hex = absl::BytesToHexString(build_id);
  if (hex.size() < 3) return "";
  return absl::StrCat(cache, "/.build-id/", hex.substr(0, 2), "/", hex.substr(2), "/elf");
}

// The running kernel's build-id (raw bytes), from its ELF notes; empty when unknown.
std::string RunningKernelBuildId(const std::string& notes_path) {
  std::ifstream in(notes_path, std::ios::binary);
  const std::string notes((std::istreambuf_iterator<char>(in)), {});
  constexpr uint32_t kNtGnuBuildId = 3;
  // Each note: namesz, descsz, type, the name and the descriptor, each padded to 4 bytes.
  for (size_t at = 0; at + 12 <= notes.size();) {
    uint32_t namesz = 0, descsz = 0, type = 0;
    std::memcpy(&namesz, notes.data() + at, 4);
    std::memcpy(&descsz, notes.data() + at + 4, 4);
    std::memcpy(&type, notes.data() + at + 8, 4);
    const size_t name_at = at + 12, desc_at = name_at + ((namesz + 3) & ~3u);
    if (desc_at + descsz > notes.size()) break;
    if (type == kNtGnuBuildId && namesz == 4 && notes.compare(name_at, 3, "GNU") == 0) {
      return notes.substr(desc_at, descsz);
    }
    at = desc_at + ((descsz + 3) & ~3u);
  }
  return "";
}

}  // namespace

bool IsPerfData(std::span<const uint8_t> head) {
  if (head.size() < 8) return false;
  const std::string_view magic(reinterpret_cast<const char*>(head.data()), 8);
  return magic == "PERFILE2" || magic == "2ELIFREP" || magic == "PERFFILE";
}

class PerfDataSource::Impl : public internal::RecordDispatcher::Host {
 public:
  Impl(MappedFile file, internal::PerfDataFile data, PerfDataSourceOptions options)
      : file_(std::move(file)), data_(std::move(data)), options_(std::move(options)) {}

  absl::Status Init(const std::string& path);
  absl::Status Run(event::TraceSink* sink);

  const std::vector<std::string>& names() const { return names_; }
  std::map<uint32_t, event::Tracepoint> tracepoints() const {
    std::map<uint32_t, event::Tracepoint> out;
    for (size_t i = 0; i < specs_.size(); ++i) {
      if (specs_[i].tracepoint && !specs_[i].tracepoint->fields.empty()) {
        out[static_cast<uint32_t>(i)] = *specs_[i].tracepoint;
      }
    }
    return out;
  }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  CallGraph call_graph() const { return call_graph_; }
  event::TracerStats Stats() const { return stacks_.Stats(counters_); }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::string& kallsyms() const { return kallsyms_; }
  stackdepot::Depot* depot() const { return stacks_.depot(); }
  unwind::BinaryCache* binaries() { return &binaries_; }

 private:
  // RecordDispatcher::Host: nothing is live.
  uint64_t NowNs() override { return now_ns_; }

  absl::Status InitEvents();
  void InitMetadata(const std::string& path);
  // Build-ids by path from the BUILD_ID feature; copies of changed binaries from the cache.
  void InitBuildIds(const std::string& cache);
  // Where the recorded kernel's symbols are (kallsyms()).
  void InitKernel(const std::string& cache);
  // Warns once per file that is missing (the mapping of `m` names it).
  void CheckFile(const event::Mmap2Record& m);
  void Warn(std::string warning) { warnings_.push_back(std::move(warning)); }
  // Dispatches one record the queue let out.
  void Process(std::span<const uint8_t> record, EventQueue::Buffer* buffer);

  MappedFile file_;  // before stacks_: the unwind engine reads samples' stacks in it
  internal::PerfDataFile data_;
  PerfDataSourceOptions options_;
  bool ran_ = false;

  std::vector<internal::EventSpec> specs_;
  std::vector<std::string> names_;
  std::map<std::string, std::string> metadata_;
  StackMode mode_ = StackMode::kNone;
  CallGraph call_graph_ = CallGraph::kNone;
  internal::EventIds ids_;
  absl::flat_hash_map<std::string, std::string> build_ids_;  // by path
  absl::flat_hash_set<std::string> checked_;                 // paths CheckFile() looked at

  unwind::BinaryCache binaries_;
  internal::StackServices stacks_;  // after binaries_: the engine's jobs use them until it stops
  internal::AddressSpaces spaces_{&binaries_, nullptr};
  cookie::CookieAllocator cookies_;
  cookie::ContextTracker tracker_{&cookies_};
  internal::SourceCounters counters_;
  std::optional<internal::SampleStacks> sample_stacks_;
  std::optional<internal::RecordDispatcher> dispatcher_;
  EventQueue queue_;
  uint64_t now_ns_ = 0;
  size_t snapshots_since_flush_ = 0;
  std::vector<std::string> warnings_;
  std::string kallsyms_;
};

absl::Status PerfDataSource::Impl::InitEvents() {
  const std::vector<PerfDataAttr>& attrs = data_.attrs();
  if (attrs.empty()) return absl::InvalidArgumentError("the perf.data file describes no events");
  std::vector<Tracepoint> formats;
  if (!data_.tracing_data().empty()) {
    absl::StatusOr<std::vector<Tracepoint>> parsed =
        internal::ParseTracingData(data_.tracing_data());
    if (parsed.ok()) {
      formats = *std::move(parsed);
    } else {
      Warn(absl::StrCat(parsed.status().message(),
                        ": tracepoint fields are read with this "
                        "machine's formats"));
    }
  }
  const bool identified = (attrs[0].attr.sample_type & PERF_SAMPLE_IDENTIFIER) != 0;
  for (size_t i = 0; i < attrs.size(); ++i) {
    const perf_event_attr& attr = attrs[i].attr;
    internal::EventSpec spec{.name = attrs[i].name, .type = attr.type, .config = attr.config};
    if (attr.type == PERF_TYPE_TRACEPOINT) {
      auto it = std::find_if(formats.begin(), formats.end(),
                             [&](const Tracepoint& tp) { return tp.id == attr.config; });
      if (it != formats.end()) {
        spec.tracepoint = *it;
      } else if (!spec.name.empty()) {
        absl::StatusOr<internal::EventSpec> local =
            internal::ResolveEvent(spec.name, options_.tracefs_root);
        if (local.ok() && local->tracepoint) spec.tracepoint = local->tracepoint;
      }
      if (!spec.tracepoint) {
        // Still a tracepoint (counted by hits), with no fields to read.
        Tracepoint unknown;
        unknown.name = spec.name;
        unknown.id = attr.config;
        spec.tracepoint = std::move(unknown);
      }
      if (spec.name.empty()) spec.name = spec.tracepoint->FullName();
    }
    if (spec.name.empty()) spec.name = internal::DefaultEventName(attr.type, attr.config);
    names_.push_back(spec.name);
    specs_.push_back(std::move(spec));

    const EventLayout layout{.sample_type = attr.sample_type,
                             .regs_user_mask = attr.sample_regs_user};
    const uint32_t event = static_cast<uint32_t>(i);
    if (identified) {
      if ((attr.sample_type & PERF_SAMPLE_IDENTIFIER) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "perf.data event ", names_.back(),
            " carries no sample identifier while the others do: its records cannot be told apart"));
      }
      // perf's synthesized records (id 0) are the first event's, as perf reads them.
      if (i == 0) ids_.SetDefault(layout, 0);
      for (uint64_t id : attrs[i].ids) {
        if (!ids_.Add(id, event, layout)) {
          return absl::InvalidArgumentError(
              absl::StrCat("perf.data event ", names_.back(), " has a sample_type (0x",
                           absl::Hex(attr.sample_type), ") dprof cannot lay out"));
        }
      }
    } else {
      // Without an identifier perf gives every event the same layout (and PERF_SAMPLE_ID when
      // there are several).
      if (attr.sample_type != attrs[0].attr.sample_type) {
        return absl::InvalidArgumentError(
            "perf.data events of different sample layouts without a sample identifier: their "
            "records cannot be told apart");
      }
      if (i == 0 && !ids_.SetDefault(layout, 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("perf.data event ", names_.back(), " has a sample_type (0x",
                         absl::Hex(attr.sample_type), ") dprof cannot lay out"));
      }
      for (uint64_t id : attrs[i].ids) ids_.Name(id, event);
    }
  }
  // The call graph of the events that sample stacks (perf asks the same of all).
  for (const PerfDataAttr& a : attrs) {
    const uint64_t t = a.attr.sample_type;
    if (abi::AttrFlag(a.attr, abi::kAttrBitDeferCallchain)) {
      mode_ = StackMode::kNative;
      call_graph_ = CallGraph::kAuto;
    } else if ((t & PERF_SAMPLE_STACK_USER) && (t & PERF_SAMPLE_REGS_USER)) {
      mode_ = StackMode::kDwarf;
      call_graph_ = CallGraph::kDwarf;
    } else if (t & PERF_SAMPLE_CALLCHAIN) {
      mode_ = StackMode::kFramePointer;
      call_graph_ = CallGraph::kFramePointer;
    } else {
      continue;
    }
    break;
  }
  return absl::OkStatus();
}

void PerfDataSource::Impl::InitMetadata(const std::string& path) {
  const internal::PerfDataFeatures& f = data_.features();
  metadata_["source"] = absl::StrCat("perf.data ", path);
  if (!f.cmdline.empty()) metadata_["perf_command"] = absl::StrJoin(f.cmdline, " ");
  const std::string command = CommandOf(f.cmdline);
  metadata_["command"] = command.empty() ? metadata_["perf_command"] : command;
  if (metadata_["command"].empty()) metadata_["command"] = path;
  if (!f.hostname.empty()) metadata_["hostname"] = f.hostname;
  if (!f.os_release.empty()) metadata_["kernel"] = absl::StrCat("Linux ", f.os_release);
  if (!f.arch.empty()) metadata_["machine"] = f.arch;
  if (!f.perf_version.empty()) metadata_["perf_version"] = f.perf_version;
  switch (call_graph_) {
    case CallGraph::kAuto:
      metadata_["call_graph"] = "native deferred";
      break;
    default:
      metadata_["call_graph"] = std::string(CallGraphName(call_graph_));
  }
  const perf_event_attr& attr = data_.attrs().front().attr;
  if (attr.freq) {
    metadata_["frequency"] = absl::StrCat(attr.sample_freq);
  } else {
    metadata_["period"] = absl::StrCat(attr.sample_period);
  }
  if (mode_ == StackMode::kDwarf) metadata_["stack_size"] = absl::StrCat(attr.sample_stack_user);
}

void PerfDataSource::Impl::InitKernel(const std::string& cache) {
  std::string recorded;  // the recorded kernel's build-id
  for (const internal::PerfBuildId& b : data_.features().build_ids) {
    if (b.filename == "[kernel.kallsyms]") recorded = b.build_id;
  }
  const std::string running = RunningKernelBuildId(options_.kernel_notes);
  utsname u = {};
  uname(&u);
  const std::string& release = data_.features().os_release;
  if (recorded.empty() ? (release.empty() || release == u.release) : recorded == running) {
    kallsyms_ = "/proc/kallsyms";
    return;
  }
  const std::string hex = absl::BytesToHexString(recorded);
  const std::string copy = absl::StrCat(cache, "/[kernel.kallsyms]/", hex, "/kallsyms");
  if (!recorded.empty() && access(copy.c_str(), R_OK) == 0) {
    kallsyms_ = copy;
    return;
  }
  Warn(absl::StrCat("the recording's kernel (",
                    recorded.empty() ? "Linux " + release : "build-id " + hex,
                    ") is not the running one and ", cache,
                    " has no kallsyms of it: kernel frames show as [unknown]"));
}

void PerfDataSource::Impl::InitBuildIds(const std::string& cache) {
  for (const internal::PerfBuildId& b : data_.features().build_ids) {
    if (b.filename.empty() || b.filename[0] != '/' || b.build_id.empty()) continue;
    build_ids_[b.filename] = b.build_id;
    checked_.insert(b.filename);
    std::shared_ptr<const unwind::Binary> binary = binaries_.Open(b.filename);
    if (binary != nullptr && (binary->build_id().empty() || binary->build_id() == b.build_id)) {
      continue;
    }
    // perf's cache keeps the copy that was recorded (perf archive, perf buildid-cache).
    if (std::shared_ptr<const unwind::Binary> copy =
            binaries_.Open(BuildIdCachePath(cache, b.build_id));
        copy != nullptr && copy->build_id() == b.build_id) {
      continue;
    }
    const std::string recorded = absl::BytesToHexString(b.build_id);
    Warn(binary == nullptr
             ? absl::StrCat(b.filename, " (build-id ", recorded,
                            ") is missing on this machine: its frames show as [unknown]")
             : absl::StrCat(b.filename, " changed since the recording (build-id ",
                            absl::BytesToHexString(binary->build_id()), ", recorded ", recorded,
                            ", not in ", cache,
                            "): its frames show as [unknown]; perf archive on the recording "
                            "machine keeps the binaries"));
  }
}

void PerfDataSource::Impl::CheckFile(const event::Mmap2Record& m) {
  // Anonymous shared memory (/memfd:NAME, /dev/zero) and files deleted while mapped were never
  // files to keep.
  if (m.filename.empty() || m.filename[0] != '/' || (m.prot & PROT_EXEC) == 0 ||
      m.filename.starts_with("/memfd:") || m.filename.starts_with("/dev/") ||
      m.filename.ends_with(" (deleted)")) {
    return;
  }
  const std::string path(m.filename);
  if (!checked_.insert(path).second) return;
  if (binaries_.Open(path) == nullptr && access(path.c_str(), F_OK) != 0) {
    Warn(absl::StrCat(path, " is missing on this machine: its frames show as [unknown]"));
  }
}

absl::Status PerfDataSource::Impl::Init(const std::string& path) {
  if (absl::Status s = stacks_.InitDepot(options_.depot); !s.ok()) return s;
  if (absl::Status s = InitEvents(); !s.ok()) return s;
  InitMetadata(path);
  std::string cache = options_.build_id_cache;
  if (cache.empty()) {
    const char* home = getenv("HOME");
    cache = absl::StrCat(home != nullptr ? home : "", "/.debug");
  }
  InitBuildIds(cache);
  InitKernel(cache);
  return absl::OkStatus();
}

void PerfDataSource::Impl::Process(std::span<const uint8_t> record, EventQueue::Buffer* buffer) {
  perf_event_header h;
  std::memcpy(&h, record.data(), sizeof(h));
  if (h.type == PERF_RECORD_MMAP2 || h.type == PERF_RECORD_MMAP) {
    Record r;
    if (ids_.parser().Parse(record, &r) == ParseStatus::kOk) {
      if (auto* m = std::get_if<event::Mmap2Record>(&r)) CheckFile(*m);
    }
  }
  if (h.type == PERF_RECORD_SAMPLE && mode_ == StackMode::kDwarf) ++snapshots_since_flush_;
  dispatcher_->Process(record, buffer);
}

absl::Status PerfDataSource::Impl::Run(event::TraceSink* sink) {
  if (ran_) return absl::FailedPreconditionError("the perf.data file was replayed already");
  ran_ = true;
  if (mode_ == StackMode::kDwarf) {
    if (absl::Status s = stacks_.InitEngine(nullptr, options_.unwind_workers, {}, sink); !s.ok()) {
      return s;
    }
  }
  sample_stacks_.emplace(mode_, &stacks_, &tracker_, &counters_, /*records_last=*/true);
  dispatcher_.emplace(
      internal::RecordDispatcher::Events{.specs = &specs_, .requested = specs_.size()},
      internal::RecordDispatcher::Filters{},
      internal::RecordDispatcher::Parts{.ids = &ids_,
                                        .spaces = &spaces_,
                                        .tracker = &tracker_,
                                        .stacks = &stacks_,
                                        .sample_stacks = &*sample_stacks_,
                                        .counters = &counters_,
                                        .build_ids = &build_ids_},
      this, sink);

  // The unwind engine's queue holds a bounded number of snapshots: a file waits for it rather
  // than drop any (a live source cannot). Its workers get them in batches of kSnapshotsPerFlush,
  // and unwind one while the next is read: reading waits only when two are outstanding.
  unwind::DeferredUnwinder* engine = stacks_.engine();
  std::optional<unwind::DeferredUnwinder::Batch> batch;
  if (engine != nullptr) batch.emplace(engine);
  auto process = [&](uint64_t time, std::span<const uint8_t> record, EventQueue::Buffer* buffer) {
    now_ns_ = std::max(now_ns_, time);
    Process(record, buffer);
    if (engine != nullptr && snapshots_since_flush_ >= kSnapshotsPerFlush) {
      batch.reset();  // hands the batch out
      engine->WaitUntilAtMost(kSnapshotsPerFlush);
      batch.emplace(engine);
      snapshots_since_flush_ = 0;
    }
  };
  uint64_t round_max = 0, flush_to = 0;
  absl::Status status = data_.ForEachRecord([&](const internal::PerfDataRecord& r) {
    if (r.type >= internal::kHeaderAttr) {
      if (r.type == internal::kFinishedRound) {
        // Everything up to the newest time of the round before has arrived (perf's rule).
        queue_.PopUntil(flush_to, process);
        flush_to = round_max;
      }
      // perf's own records: header records are taken, the others say nothing here.
      if (r.type > internal::kCompressed2) counters_.Count(event::TracerStat::kUnknownRecords);
      return;
    }
    event::SampleId sid;
    const bool timed = ids_.parser().ParseSampleId(r.bytes, &sid);
    if (timed) round_max = std::max(round_max, sid.time);
    // Records in the mapping stay where they are (the engine reads stacks there); those of a
    // decompressed chunk, or misaligned, are copied.
    if (r.in_file && reinterpret_cast<uintptr_t>(r.bytes.data()) % 8 == 0) {
      queue_.PushLasting(timed ? sid.time : 0, r.bytes);
    } else {
      queue_.Push(timed ? sid.time : 0, r.bytes);
    }
  });
  queue_.PopAll(process);
  batch.reset();
  dispatcher_->Finish(now_ns_);
  if (engine != nullptr) engine->Flush();
  if (!status.ok()) {
    Warn(absl::StrCat(status.message(), ": the records before it were imported"));
  } else if (data_.cut()) {
    Warn(
        "the perf.data file ends inside a record (perf record was killed?): the records before "
        "it were imported");
  }
  return absl::OkStatus();
}

PerfDataSource::PerfDataSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PerfDataSource::~PerfDataSource() = default;

absl::StatusOr<std::unique_ptr<PerfDataSource>> PerfDataSource::Open(
    const std::string& path, PerfDataSourceOptions options) {
  absl::StatusOr<MappedFile> file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<internal::PerfDataFile> data = internal::PerfDataFile::Open(file->bytes());
  if (!data.ok()) {
    return absl::Status(data.status().code(), absl::StrCat(path, ": ", data.status().message()));
  }
  auto impl = std::make_unique<Impl>(*std::move(file), *std::move(data), std::move(options));
  if (absl::Status s = impl->Init(path); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return std::unique_ptr<PerfDataSource>(new PerfDataSource(std::move(impl)));
}

const std::vector<std::string>& PerfDataSource::event_names() const { return impl_->names(); }
std::map<uint32_t, event::Tracepoint> PerfDataSource::tracepoints() const {
  return impl_->tracepoints();
}
const std::map<std::string, std::string>& PerfDataSource::metadata() const {
  return impl_->metadata();
}
CallGraph PerfDataSource::call_graph() const { return impl_->call_graph(); }
absl::Status PerfDataSource::Run(event::TraceSink* sink) { return impl_->Run(sink); }
event::TracerStats PerfDataSource::Stats() const { return impl_->Stats(); }
const std::vector<std::string>& PerfDataSource::warnings() const { return impl_->warnings(); }
const std::string& PerfDataSource::kallsyms() const { return impl_->kallsyms(); }
stackdepot::Depot* PerfDataSource::depot() const { return impl_->depot(); }
unwind::BinaryCache* PerfDataSource::binaries() { return impl_->binaries(); }

}  // namespace dprof::tracer
