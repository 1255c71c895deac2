// dlopen: runs the hot loop of a library it loads at run time, for symbolizers to find code that
// was not mapped when the process started.
//
//   dlopen LIBRARY [SECONDS] [--deleted | --then LIBRARY2]
//
// Loads LIBRARY with dlopen() and calls its plugin_work() until SECONDS (default 1) have passed.
// With --deleted it loads a copy of LIBRARY from a temporary directory and deletes the copy once
// loaded: its code keeps running from a file that no longer exists (as after a package upgrade).
// With --then it unloads LIBRARY (dlclose) and does the same with LIBRARY2, which the kernel maps
// where LIBRARY was: one address, two functions, told apart by time.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "samples/monotonic_seconds.h"

namespace {

// Calls the library's plugin_work() until `seconds` have passed.
bool Work(void* handle, double seconds) {
  auto work = reinterpret_cast<void (*)(uint64_t)>(dlsym(handle, "plugin_work"));
  if (work == nullptr) {
    std::fprintf(stderr, "dlsym plugin_work: %s\n", dlerror());
    return false;
  }
  const double end = MonotonicSeconds() + seconds;
  while (MonotonicSeconds() < end) work(20);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: dlopen LIBRARY [SECONDS] [--deleted]\n");
    return 2;
  }
  std::string library = argv[1];
  const double seconds = argc > 2 ? std::atof(argv[2]) : 1.0;
  const bool deleted = argc > 3 && std::strcmp(argv[3], "--deleted") == 0;
  const char* then = argc > 4 && std::strcmp(argv[3], "--then") == 0 ? argv[4] : nullptr;
  std::filesystem::path copy;
  if (deleted) {
    char dir[] = "/tmp/dprof-dlopen-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    copy = std::filesystem::path(dir) / std::filesystem::path(library).filename();
    std::filesystem::copy_file(library, copy);
    library = copy.string();
  }
  void* handle = dlopen(library.c_str(), RTLD_NOW);
  if (handle == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  // Deleted while in use, as a package upgrade replaces a library: some time after it was loaded.
  if (deleted) {
    usleep(200 * 1000);
    std::filesystem::remove_all(copy.parent_path());
  }
  if (!Work(handle, seconds)) return 1;
  if (then == nullptr) return 0;
  dlclose(handle);
  handle = dlopen(then, RTLD_NOW);
  if (handle == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  return Work(handle, seconds) ? 0 : 1;
}
