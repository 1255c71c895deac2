#include "cli/recording_input.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/errors.h"
#include "cli/status_line.h"
#include "dprof/perf_import.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/symbolizer.h"
#include "dprof/tracer/perf_data_source.h"

namespace dprof::cli {

void AddInputFlag(CLI::App* command, std::string* path) {
  *path = kDefaultRecording;
  command->add_option("-i,--input", *path, "The recording to read")
      ->type_name("FILE")
      ->capture_default_str();
}

bool IsPerfDataFile(const std::string& path) {
  uint8_t head[8] = {};
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = read(fd, head, sizeof(head));
  close(fd);
  return n == sizeof(head) && tracer::IsPerfData(head);
}

absl::StatusOr<profile::Recording> LoadRecording(const std::string& path) {
  if (IsPerfDataFile(path)) {
    NamingLine naming_line(isatty(STDERR_FILENO) == 1);
    absl::StatusOr<PerfImport> imported =
        ImportPerfData(path, {.symbols = {.progress = Draws(&naming_line)}});
    if (!imported.ok()) return imported.status();
    for (const std::string& warning : imported->warnings) Warn(warning);
    return std::move(imported->recording);
  }
  profile::ReadReport report;
  absl::StatusOr<profile::Recording> recording = profile::ReadRecording(path, &report);
  if (!recording.ok()) return recording.status();
  if (report.trailing_bytes() > 0) {
    Warn(absl::StrCat(path, ": ", report.trailing_bytes(),
                      " bytes after the recording's end were ignored (appended to it, or the file "
                      "was extended)"));
  }
  if (!report.complete) {
    if (recording->events.empty()) {
      return absl::DataLossError(
          absl::StrCat(path, " holds no events: ", report.Summary(), "; record again"));
    }
    Warn(absl::StrCat(path, " is incomplete: ", report.Summary(), "; showing the ",
                      recording->events.size(), " events recovered"));
  }
  if (recording->symbols.empty() && !recording->events.empty()) {
    Warn(absl::StrCat(path,
                      " holds no symbols (the recording ended before writing them); naming "
                      "addresses from this machine's files now"));
    NamingLine naming_line(isatty(STDERR_FILENO) == 1);
    profile::Symbolizer symbolizer({.progress = Draws(&naming_line)});
    profile::SymbolizeRecording(*recording, symbolizer);
    for (const std::string& note : symbolizer.notes()) Warn(note);
  }
  return recording;
}

}  // namespace dprof::cli
