// The real-program tier: programs from Debian's packages (scripts/deps.sh installs them), none
// written for dprof, each recorded by dprof and by perf in the same test and compared
// (comparison.h): a pre-fork server (nginx: master and two workers serving gzip, by command and
// attached with --children), a build (make -j2 with gcc), a shell loop that forks and execs,
// compression (xz -9), a database (sqlite3), an interpreter (python3, directly and through a
// wrapper script that execs it), and a thread pool of 8, 50 and 200 busy threads.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"
#include "tests/realworld/comparison.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::testing {
namespace {

class RealWorldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DPROF_REQUIRE_PERF_OR_SKIP();
    dir_ = ScratchDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  void Write(const std::string& name, const std::string& text, bool executable = false) {
    std::ofstream(dir_ + "/" + name) << text;
    if (executable) chmod((dir_ + "/" + name).c_str(), 0755);
  }

  std::string dir_;
};

// Text that compresses like prose with numbers in it: `bytes` of it, the same every time.
std::string Text(size_t bytes) {
  static const char* kWords[] = {"profile", "stack",  "kernel", "unwind", "sample",  "the",
                                 "of",      "cookie", "depot",  "frame",  "process", "thread"};
  std::string out;
  uint64_t x = 42;
  while (out.size() < bytes) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    out += kWords[(x >> 33) % 12];
    out += (x >> 40) % 9 == 0 ? absl::StrFormat(" %u\n", (x >> 20) % 100000) : " ";
  }
  out.resize(bytes);
  return out;
}

TEST_F(RealWorldTest, Xz) {
  Write("input", Text(6 << 20));
  RecordAndCompare(
      {.name = "xz -9 (6 MB)",
       .run =
           [&](const Recorder& r) {
             return RunProgram(r.Launching({"xz", "-9", "-T1", "-k", "-f", dir_ + "/input"}));
           }},
      dir_);
}

TEST_F(RealWorldTest, Sqlite) {
  const std::string query =
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 16000000) "
      "SELECT sum(x) FROM c;";
  RecordAndCompare({.name = "sqlite3 recursive CTE",
                    .run =
                        [&](const Recorder& r) {
                          return RunProgram(r.Launching({"sqlite3", ":memory:", query}));
                        }},
                   dir_);
}

constexpr char kFibonacci[] =
    "import sys\n"
    "sys.setrecursionlimit(10000)\n"
    "def fib(n):\n"
    "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
    "print(fib(37))\n";

TEST_F(RealWorldTest, Python) {
  Write("fib.py", kFibonacci);
  RecordAndCompare({.name = "python3 recursion",
                    .run =
                        [&](const Recorder& r) {
                          return RunProgram(r.Launching({"/usr/bin/python3", dir_ + "/fib.py"}));
                        }},
                   dir_);
}

// A wrapper script that execs the real interpreter (pyenv's shims, virtualenv launchers): the
// shell's samples, then Python's, in one process.
TEST_F(RealWorldTest, PythonThroughAWrapper) {
  Write("fib.py", kFibonacci);
  Write("python3", "#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n", /*executable=*/true);
  RecordAndCompare({.name = "python3 through an exec wrapper",
                    .run =
                        [&](const Recorder& r) {
                          return RunProgram(r.Launching({dir_ + "/python3", dir_ + "/fib.py"}));
                        }},
                   dir_);
}

// Forks and execs in a loop: bash's children before their exec, then short-lived programs.
TEST_F(RealWorldTest, ShellLoop) {
  RecordAndCompare(
      {.name = "bash fork/exec loop",
       .run =
           [&](const Recorder& r) {
             return RunProgram(r.Launching({"bash", "-c",
                                            "for i in $(seq 300); do basename /a/b >/dev/null; "
                                            "sha1sum /bin/bash >/dev/null; done"}));
           },
       .host_timed = {"handle_amd"}},
      dir_);
}

// A small C project built from scratch with two jobs: make, the compiler driver, cc1, as, ld.
TEST_F(RealWorldTest, MakeWithGcc) {
  std::filesystem::create_directories(dir_ + "/project");
  std::string objects;
  for (int i = 0; i < 8; ++i) {
    std::string source = "#include <stdio.h>\n#include <string.h>\n";
    for (int f = 0; f < 40; ++f) {
      source += absl::StrFormat(
          "int unit%d_f%d(const char* s, int n) {\n"
          "  int acc = 0;\n"
          "  for (int i = 0; i < n; ++i) acc += (int)strlen(s + (i %% 7)) * %d;\n"
          "  if (acc %% 3 == 0) printf(\"%%d\\n\", acc);\n"
          "  return acc;\n}\n",
          i, f, f + 1);
    }
    Write(absl::StrFormat("project/unit%d.c", i), source);
    objects += absl::StrFormat(" unit%d.o", i);
  }
  Write("project/main.c", "int main(void) { return 0; }\n");
  Write("project/Makefile",
        absl::StrCat("CFLAGS = -O2\nprogram: main.o", objects, "\n\t$(CC) -o $@ $^\n"));
  RecordAndCompare(
      {.name = "make -j2 (8 C files, gcc -O2)",
       .run =
           [&](const Recorder& r) {
             return RunProgram(r.Launching({"make", "-s", "-B", "-j2", "-C", dir_ + "/project"}));
           }},
      dir_);
}

// A port nothing listens on now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(a);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size);
  close(fd);
  return ntohs(a.sin_port);
}

bool WaitForPort(int port, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool up = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(fd);
    if (up) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// nginx as Debian ships it, master and two workers in the foreground, serving a text file
// gzip-compressed to ab on 127.0.0.1.
class NginxTest : public RealWorldTest {
 protected:
  void SetUp() override {
    RealWorldTest::SetUp();
    if (IsSkipped()) return;
    port_ = FreePort();
    std::filesystem::create_directories(dir_ + "/html");
    std::filesystem::create_directories(dir_ + "/tmp");
    Write("html/big.txt", Text(300 << 10));
    const std::string d = dir_;
    Write(
        "nginx.conf",
        absl::StrCat("daemon off;\nmaster_process on;\nworker_processes 2;\npid ", d,
                     "/nginx.pid;\nerror_log ", d, "/error.log;\n",
                     "events { worker_connections 256; }\nhttp {\n  access_log off;\n"
                     "  gzip on; gzip_http_version 1.0; gzip_types text/plain;\n"
                     "  gzip_min_length 100; gzip_comp_level 6;\n  client_body_temp_path ",
                     d, "/tmp;\n  proxy_temp_path ", d, "/tmp;\n  fastcgi_temp_path ", d,
                     "/tmp;\n  uwsgi_temp_path ", d, "/tmp;\n  scgi_temp_path ", d,
                     "/tmp;\n  server { listen 127.0.0.1:", port_, "; root ", d, "/html; }\n}\n"));
    chmod(dir_.c_str(), 0755);  // the workers run as nobody
  }

  std::vector<std::string> Nginx() const {
    return {"nginx", "-c", dir_ + "/nginx.conf", "-e", dir_ + "/error.log"};
  }
  // Load for `seconds`: ab, four connections, asking for gzip.
  void Load(double seconds) const {
    std::string out, err;
    const int code = RunProgram(
        {"ab", "-q", "-t", absl::StrFormat("%g", seconds), "-n", "10000000", "-c", "4", "-H",
         "Accept-Encoding: gzip", absl::StrCat("http://127.0.0.1:", port_, "/big.txt")},
        &out, &err);
    EXPECT_EQ(code, 0) << out << err;
  }
  pid_t Master() const {
    std::ifstream in(dir_ + "/nginx.pid");
    pid_t pid = 0;
    in >> pid;
    return pid;
  }

  int port_ = 0;
};

TEST_F(NginxTest, ByCommand) {
  RecordAndCompare({.name = "nginx, 2 workers, gzip under ab (by command)",
                    .run =
                        [&](const Recorder& r) {
                          std::thread load([&] {
                            if (!WaitForPort(port_, 20)) return;
                            Load(2.5);
                            kill(Master(), SIGQUIT);  // a graceful stop ends the recording
                          });
                          const int code = RunProgram(r.Launching(Nginx()));
                          load.join();
                          return code;
                        }},
                   dir_);
}

TEST_F(NginxTest, AttachedToTheMasterWithChildren) {
  const std::vector<std::string> nginx = Nginx();
  CliProcess server(std::vector<std::string>(nginx.begin() + 1, nginx.end()),
                    {.program = nginx[0]});
  ASSERT_TRUE(WaitForPort(port_, 20));
  RecordAndCompare({.name = "nginx, 2 workers, gzip under ab (-p master --children)",
                    .run =
                        [&](const Recorder& r) {
                          std::thread load([&] { Load(3); });
                          const int code = RunProgram(r.Attaching(Master(), 2));
                          load.join();
                          return code;
                        }},
                   dir_);
  kill(Master(), SIGQUIT);
  server.Finish();
}

// A thread pool of many more busy threads than CPUs: dprof's own threads must still keep up.
class ManyThreadsTest : public RealWorldTest, public ::testing::WithParamInterface<int> {};

TEST_P(ManyThreadsTest, LoseNoMoreThanPerf) {
  const std::string threads = std::to_string(GetParam());
  RecordAndCompare({.name = absl::StrCat("pool of ", threads, " busy threads"),
                    .run =
                        [&](const Recorder& r) {
                          return RunProgram(r.Launching({SampleFile("pool"), threads, "3"}));
                        }},
                   dir_);
}

INSTANTIATE_TEST_SUITE_P(Threads, ManyThreadsTest, ::testing::Values(8, 50, 200));

}  // namespace
}  // namespace dprof::testing
