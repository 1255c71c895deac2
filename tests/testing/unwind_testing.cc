#include "tests/testing/unwind_testing.h"

#include <elfutils/libdwfl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace dprof::testing {

unwind::Snapshot LoadedCapture::snapshot() const {
  unwind::Snapshot s;
  s.pid = capture.pid;
  s.tid = capture.tid;
  for (int r = 0; r < unwind::kNumRegs; ++r) s.regs.Set(r, capture.regs[r]);
  s.stack_address = capture.stack_address;
  s.stack = capture.stack;
  s.space = space.get();
  return s;
}

absl::StatusOr<LoadedCapture> CaptureStack(const std::string& target, int depth,
                                           uint64_t max_stack_bytes,
                                           unwind::BinaryCache* binaries) {
  char dir_template[] = "/tmp/dprof-capture-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return absl::InternalError("mkdtemp failed");
  const std::string out = absl::StrCat(dir_template, "/capture.bin");
  const std::string depth_arg = absl::StrCat(depth), stack_arg = absl::StrCat(max_stack_bytes);
  char* argv[] = {const_cast<char*>(target.c_str()), const_cast<char*>(out.c_str()),
                  const_cast<char*>(depth_arg.c_str()), const_cast<char*>(stack_arg.c_str()),
                  nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, target.c_str(), nullptr, nullptr, argv, environ) != 0) {
    return absl::InternalError(absl::StrCat("cannot run ", target));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::optional<samples::CapturedStack> capture = samples::CapturedStack::Read(out.c_str());
  unlink(out.c_str());
  rmdir(dir_template);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !capture) {
    return absl::InternalError(absl::StrCat(target, " did not capture its stack"));
  }
  LoadedCapture loaded;
  loaded.capture = std::move(*capture);
  loaded.space = std::make_unique<unwind::AddressSpace>(binaries);
  if (absl::Status s = loaded.space->AddMaps(loaded.capture.maps); !s.ok()) return s;
  return loaded;
}

Symbolizer::Symbolizer(const unwind::AddressSpace& space) {
  static const Dwfl_Callbacks callbacks = {
      .find_elf = dwfl_build_id_find_elf,
      .find_debuginfo = dwfl_standard_find_debuginfo,
      .section_address = dwfl_offline_section_address,
      .debuginfo_path = nullptr,
  };
  dwfl_ = dwfl_begin(&callbacks);
  dwfl_report_begin(dwfl_);
  std::set<const unwind::Binary*> reported;
  for (const unwind::Mapping& m : space.mappings()) {
    if (m.binary == nullptr || !reported.insert(m.binary.get()).second) continue;
    // add_p_vaddr: every segment lands at bias + p_vaddr, where the process had it.
    dwfl_report_elf(dwfl_, m.path.c_str(), m.path.c_str(), -1, m.bias, /*add_p_vaddr=*/true);
  }
  dwfl_report_end(dwfl_, nullptr, nullptr);
}

Symbolizer::~Symbolizer() { dwfl_end(dwfl_); }

std::string Symbolizer::FunctionAt(uint64_t pc, bool return_address) const {
  const Dwarf_Addr address = return_address ? pc - 1 : pc;
  Dwfl_Module* module = dwfl_addrmodule(dwfl_, address);
  const char* name = module != nullptr ? dwfl_module_addrname(module, address) : nullptr;
  return name != nullptr ? name : absl::StrCat("?0x", absl::Hex(pc));
}

std::vector<std::string> Symbolizer::Functions(const std::vector<uint64_t>& pcs) const {
  std::vector<std::string> names;
  for (size_t i = 0; i < pcs.size(); ++i) names.push_back(FunctionAt(pcs[i], i > 0));
  return names;
}

std::string UnwindTarget(const std::string& variant) {
  return absl::StrCat(DPROF_UNWIND_TARGET_DIR, "/unwind_target_", variant);
}

}  // namespace dprof::testing
