// dprof script's text, on recordings that never change (tests/data/recordings/): perf script's
// layout, functions with their offsets, tracepoints with their fields; recordings made before
// offsets were kept print functions without them.
#include "dprof/profile/script.h"

#include <filesystem>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "dprof/profile/recording_reader.h"
#include "dprof/profile/view.h"
#include "gtest/gtest.h"

namespace dprof::profile {
namespace {

// The first `n` paragraphs (events) of the golden recording `name`'s script.
std::string Script(const std::string& name, int n) {
  ReadReport report;
  absl::StatusOr<Recording> r = ReadRecording(
      (std::filesystem::path(DPROF_GOLDEN_DIR) / (name + ".dprof")).string(), &report);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  std::ostringstream out;
  WriteScript(*r, View::Build(*r, {.by_thread = true, .keep_events = true}), out);
  std::string text = out.str();
  size_t end = 0;
  for (int i = 0; i < n && end != std::string::npos; ++i) {
    end = text.find("\n\n", end == 0 ? 0 : end + 2);
  }
  return end == std::string::npos ? text : text.substr(0, end + 2);
}

TEST(ScriptTest, TracepointFieldsAndOffsetsAsPerfPrintsThem) {
  EXPECT_EQ(
      Script("v2-0.3.0-blocking", 2),
      "blocking_fp 13938 [001] 32527.359124:          1 syscalls:sys_enter_clock_nanosleep: "
      "__syscall_nr=230 which_clock=0 flags=0 rqtp=0x7ffcf53c1b00 rmtp=0x7ffcf53c1b00\n"
      "\t           cf503 clock_nanosleep+0x23 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
      "\t            29eb (anonymous namespace)::Sleep+0x2b "
      "(/work/main/build/samples/blocking_fp)\n"
      "\t            23ac main+0x14c (/work/main/build/samples/blocking_fp)\n"
      "\t           2724a __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
      "\n"
      "blocking_fp 13938 [001] 32527.359139:   20114668                            off-cpu: \n"
      "\tffffffff82248208 __schedule+0x628 ([kernel.kallsyms])\n"
      "\tffffffff82248b73 schedule+0x23 ([kernel.kallsyms])\n"
      "\tffffffff8224fbde do_nanosleep+0x5e ([kernel.kallsyms])\n"
      "\tffffffff8142f715 hrtimer_nanosleep+0xb5 ([kernel.kallsyms])\n"
      "\tffffffff814384d0 common_nsleep+0x30 ([kernel.kallsyms])\n"
      "\tffffffff8143bc7e __x64_sys_clock_nanosleep+0xde ([kernel.kallsyms])\n"
      "\tffffffff8223c951 do_syscall_64+0x71 ([kernel.kallsyms])\n"
      "\tffffffff81000130 entry_SYSCALL_64_after_hwframe+0x76 ([kernel.kallsyms])\n"
      "\t           cf503 clock_nanosleep+0x23 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
      "\t            29eb (anonymous namespace)::Sleep+0x2b "
      "(/work/main/build/samples/blocking_fp)\n"
      "\t            23ac main+0x14c (/work/main/build/samples/blocking_fp)\n"
      "\t           2724a __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
      "\n");
}

TEST(ScriptTest, RecordingsWithoutOffsetsPrintFunctionsAlone) {
  EXPECT_EQ(Script("v1-0.2.0-cpu_bound", 1),
            "cpu_bound_nofp  5559 [001] 27830.844045:   20408163 cpu-clock: \n"
            "\t            265a hot_a (/work/main/build/samples/cpu_bound_nofp)\n"
            "\t            26e8 one_round (/work/main/build/samples/cpu_bound_nofp)\n"
            "\t            2738 run (/work/main/build/samples/cpu_bound_nofp)\n"
            "\t            2231 main (/work/main/build/samples/cpu_bound_nofp)\n"
            "\t           2724a __libc_start_call_main (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
            "\t           27305 __libc_start_main (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
            "\t            23f1 _start (/work/main/build/samples/cpu_bound_nofp)\n"
            "\n");
}

}  // namespace
}  // namespace dprof::profile
