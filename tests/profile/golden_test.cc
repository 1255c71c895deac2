// Recordings written by earlier versions of dprof read forever. Each file under
// tests/data/recordings/ is named <format version>-<dprof version>-<what>.dprof, was made by that
// version and is never rewritten; next to it:
//  - <name>.txt: everything reading it gives, field by field (ReadReport, metadata, events,
//    stacks, user stacks, mappings, threads, tasks, symbols, counters), in a fixed order;
//  - <name>.folded: its folded stacks weighted as recorded (`dprof export --format folded` of
//    that version, `--weights ns` since 0.3.0, which gives the same for a file that holds its
//    symbols).
// A format change bumps the version in the file header, and every file here must still read to
// exactly what its .txt says. On a mismatch the test leaves what it read in
// tests/artifacts/golden/, to compare.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "dprof/profile/folded.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/view.h"
#include "gtest/gtest.h"

namespace dprof::profile {
namespace {

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Hex(std::span<const uint64_t> pcs) {
  std::vector<std::string> out;
  for (uint64_t pc : pcs) out.push_back(absl::StrFormat("%x", pc));
  return absl::StrJoin(out, " ");
}

template <typename Map>
std::vector<typename Map::key_type> SortedKeys(const Map& m) {
  std::vector<typename Map::key_type> keys;
  for (const auto& [k, v] : m) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

void DumpLookups(const char* name, const SymbolLookups& lookups, std::ostream& out) {
  out << "# " << name << " " << lookups.size() << "\n";
  for (const auto& key : SortedKeys(lookups)) {
    out << absl::StrFormat("%u %x -> %u\n", key.first, key.second, lookups.at(key));
  }
}

// Every field of what reading gave, in an order that does not depend on hashing.
std::string Dump(const ReadReport& report, const Recording& r) {
  std::ostringstream out;
  out << absl::StrFormat(
      "# read: complete %d, chunks %u, skipped %u, bytes %u of %u, problem '%s'\n", report.complete,
      report.chunks, report.skipped_chunks, report.bytes, report.file_size, report.problem);
  out << "# metadata\n";
  for (const auto& [k, v] : r.metadata) out << k << " = " << absl::CEscape(v) << "\n";
  out << "# event names: " << absl::StrJoin(r.event_names, ", ") << "\n";
  if (!r.tracepoints.empty()) out << "# tracepoint formats " << r.tracepoints.size() << "\n";
  for (const auto& [event, tp] : r.tracepoints) {
    out << absl::StrFormat("event %u %s id %u\n", event, tp.FullName(), tp.id);
    for (const event::TracepointField& f : tp.fields) {
      out << absl::StrFormat("  %s: %s offset %u size %u signed %d data_loc %d\n", f.name,
                             f.declaration, f.offset, f.size, f.is_signed, f.data_loc);
    }
  }
  out << "# events " << r.events.size() << "\n";
  for (const Event& e : r.events) {
    out << absl::StrFormat(
        "kind %d event %u pid %u tid %u cpu %u time %u weight %u user_mode %d kernel %u user %d "
        "cookie %x user_stack %u raw %s\n",
        static_cast<int>(e.kind), e.event, e.pid, e.tid, e.cpu, e.time_ns, e.weight, e.user_mode,
        e.kernel_stack, static_cast<int>(e.user), e.cookie, e.user_stack,
        absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(r.RawOf(e).data()),
                                                 r.RawOf(e).size())));
  }
  out << "# stacks " << r.stacks.size() << "\n";
  for (StackId id : SortedKeys(r.stacks)) out << id << ": " << Hex(r.stacks.at(id)) << "\n";
  out << "# user stacks " << r.user_stacks.size() << "\n";
  for (cookie::Cookie c : SortedKeys(r.user_stacks)) {
    const UserStackEntry& u = r.user_stacks.at(c);
    out << absl::StrFormat("%x: stack %u reason %d native %d\n", c, u.stack,
                           static_cast<int>(u.reason), u.native);
  }
  out << "# mappings " << r.mappings.size() << "\n";
  for (const Mapping& m : r.mappings) {
    out << absl::StrFormat("pid %u time %u %x-%x pgoff %x prot %u %s build-id %s\n", m.pid,
                           m.time_ns, m.start, m.end, m.pgoff, m.prot, m.path,
                           absl::BytesToHexString(m.build_id));
  }
  out << "# threads " << r.threads.size() << "\n";
  for (const ThreadName& t : r.threads) {
    out << absl::StrFormat("pid %u tid %u time %u exec %d %s\n", t.pid, t.tid, t.time_ns, t.exec,
                           t.comm);
  }
  out << "# tasks " << r.tasks.size() << "\n";
  for (const TaskChange& t : r.tasks) {
    out << absl::StrFormat("%s pid %u ppid %u tid %u ptid %u time %u\n", t.exit ? "exit" : "fork",
                           t.pid, t.ppid, t.tid, t.ptid, t.time_ns);
  }
  out << "# symbols " << r.symbols.size() << "\n";
  for (size_t i = 0; i < r.symbols.size(); ++i) {
    const Symbol& s = r.symbols[i];
    out << absl::StrFormat("%u: %s+%x%s", i, s.module, s.offset, s.deleted ? " (deleted)" : "");
    if (s.function_offset.has_value()) out << absl::StrFormat(" function+%x", *s.function_offset);
    for (const SymbolFrame& f : s.frames) {
      out << absl::StrFormat(" | %s %s:%u%s", f.function, f.file, f.line,
                             f.inlined ? " inlined" : "");
    }
    out << "\n";
  }
  DumpLookups("mapped symbol lookups", r.mapped_symbol_of, out);
  DumpLookups("pid symbol lookups", r.symbol_of, out);
  out << "# counters\n";
  for (const auto& [k, v] : r.counters) out << k << " = " << v << "\n";
  out << "# thread counters\n";
  for (const auto& [tid, counters] : r.thread_counters) {
    for (const auto& [k, v] : counters) out << tid << " " << k << " = " << v << "\n";
  }
  return out.str();
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, ReadsExactlyAsItDidThen) {
  const std::filesystem::path dir = DPROF_GOLDEN_DIR;
  ReadReport report;
  absl::StatusOr<Recording> r = ReadRecording((dir / (GetParam() + ".dprof")).string(), &report);
  ASSERT_TRUE(r.ok()) << r.status();

  std::ostringstream folded;
  WriteFolded(View::Build(*r, {.events = DefaultEvents(*r), .thread_root = true}),
              {.kernel_suffix = true, .value = FoldedValue::kWeight}, folded);
  const std::pair<std::string, std::string> checks[] = {{".txt", Dump(report, *r)},
                                                        {".folded", folded.str()}};
  for (const auto& [suffix, now] : checks) {
    const std::string file = GetParam() + suffix;
    ASSERT_TRUE(std::filesystem::exists(dir / file)) << file << " is missing";
    const std::string then = ReadText(dir / file);
    if (now == then) continue;
    const std::filesystem::path artifacts = std::filesystem::path(DPROF_ARTIFACTS_DIR) / "golden";
    std::filesystem::create_directories(artifacts);
    std::ofstream(artifacts / file) << now;
    ADD_FAILURE() << GetParam() << " no longer reads as " << file
                  << " says; what it reads as now is in " << (artifacts / file).string();
  }
}

// v1-0.1.0: before user symbols were keyed by mapping (every symbol under its pid):
// cpu_bound_nofp with two threads, and forker's pre-fork workers.
// v1-0.2.0: user symbols keyed by mapping, depot counters: cpu_bound_nofp with dwarf stacks;
// blocking with frame pointers, off-CPU intervals and a tracepoint's fields; forker's fork, exec
// and vfork; and the cpu_bound recording cut inside its last chunk, as a crash leaves it.
// v2-0.3.0: symbols with their offsets into their functions, tracepoint formats: cpu_bound_nofp
// with dwarf stacks; blocking as above.
INSTANTIATE_TEST_SUITE_P(Files, GoldenTest,
                         ::testing::Values("v1-0.1.0-cpu_bound", "v1-0.1.0-forker",
                                           "v1-0.2.0-cpu_bound", "v1-0.2.0-blocking",
                                           "v1-0.2.0-forker", "v1-0.2.0-cpu_bound-cut",
                                           "v2-0.3.0-cpu_bound", "v2-0.3.0-blocking"));

}  // namespace
}  // namespace dprof::profile
