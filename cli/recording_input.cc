#include "cli/recording_input.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/errors.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/symbolizer.h"

namespace dprof::cli {

void AddInputFlag(CLI::App* command, std::string* path) {
  *path = kDefaultRecording;
  command->add_option("-i,--input", *path, "The recording to read")
      ->type_name("FILE")
      ->capture_default_str();
}

absl::StatusOr<profile::Recording> LoadRecording(const std::string& path) {
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
    profile::Symbolizer symbolizer({});
    profile::SymbolizeRecording(*recording, symbolizer);
    for (const std::string& note : symbolizer.notes()) Warn(note);
  }
  return recording;
}

}  // namespace dprof::cli
