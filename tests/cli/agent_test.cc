// dprof agent against a receiver on 127.0.0.1 that speaks Pyroscope's ingest API and decodes
// every body with pprof's schema (the project's profile.proto): windows that tile the run, each
// delivered once, the service and labels in the series name, the hot functions of the profiled
// program; a backend that answers 503 with Retry-After and 429 (retried), or 400 (dropped and
// counted); profiles written to a directory.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "profile/internal/profile.pb.h"
#include "tests/cli/cli_testing.h"
#include "tests/tracer/tracer_testing.h"

namespace dprof::testing {
namespace {

using ::testing::HasSubstr;

// One request as the receiver read it.
struct Request {
  std::string target;  // path and query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  int answered = 0;  // the status sent back
};

// An HTTP/1.1 server on 127.0.0.1 that answers each request with the next scripted status (200
// once the script is done), one connection at a time.
class Receiver {
 public:
  struct Answer {
    int status = 200;
    std::string headers = {};  // extra header lines, each ending in \r\n
  };

  explicit Receiver(std::deque<Answer> script = {}) : script_(std::move(script)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    EXPECT_EQ(listen(fd_, 16), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Receiver() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_) {
      const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      Handle(c);
      close(c);
    }
  }

  void Handle(int c) {
    std::string data;
    char buf[65536];
    size_t header_end = std::string::npos;
    size_t length = 0;
    for (;;) {
      const ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) return;
      data.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
      }
      Request r;
      std::vector<std::string> lines = absl::StrSplit(data.substr(0, header_end), "\r\n");
      std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
      r.target = first.size() > 1 ? first[1] : "";
      for (size_t i = 1; i < lines.size(); ++i) {
        const size_t colon = lines[i].find(':');
        if (colon == std::string::npos) continue;
        std::string name = lines[i].substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        r.headers[name] = std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      }
      (void)absl::SimpleAtoi(r.headers["content-length"], &length);
      if (data.size() < header_end + 4 + length) continue;
      r.body = data.substr(header_end + 4, length);
      const size_t q = r.target.find('?');
      if (q != std::string::npos) {
        for (absl::string_view kv : absl::StrSplit(r.target.substr(q + 1), '&')) {
          std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
          r.query[p.first] = Unescape(p.second);
        }
      }
      Answer answer;
      {
        std::lock_guard lock(mu_);
        if (!script_.empty()) {
          answer = script_.front();
          script_.pop_front();
        }
        r.answered = answer.status;
        requests_.push_back(r);
      }
      const std::string response = "HTTP/1.1 " + std::to_string(answer.status) + " X\r\n" +
                                   answer.headers +
                                   "Content-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!write(c, response.data(), response.size());
      return;
    }
  }

  static std::string Unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::deque<Answer> script_;
  std::vector<Request> requests_;
};

// A gzipped pprof body decoded with profile.proto; the names of its functions.
std::set<std::string> FunctionsOf(const std::string& gzipped) {
  std::string raw(1 << 20, '\0');
  z_stream z{};
  inflateInit2(&z, 16 + MAX_WBITS);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gzipped.data()));
  z.avail_in = static_cast<uInt>(gzipped.size());
  z.next_out = reinterpret_cast<Bytef*>(raw.data());
  z.avail_out = static_cast<uInt>(raw.size());
  const int rc = inflate(&z, Z_FINISH);
  raw.resize(z.total_out);
  inflateEnd(&z);
  EXPECT_EQ(rc, Z_STREAM_END);
  perftools::profiles::Profile profile;
  EXPECT_TRUE(profile.ParseFromString(raw));
  std::set<std::string> names;
  for (const auto& f : profile.function()) names.insert(profile.string_table(f.name()));
  EXPECT_GT(profile.sample_size(), 0);
  return names;
}

// A sample program that keeps the CPU busy until killed.
class Busy {
 public:
  Busy() {
    pid_ = fork();
    if (pid_ == 0) {
      const std::string program = SampleProgram("cpu_bound", "nofp");
      execl(program.c_str(), program.c_str(), "60", nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // past exec and startup
  }
  ~Busy() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

// Runs the agent for `seconds`, then SIGTERM.
CliResult RunAgent(const std::vector<std::string>& args, double seconds) {
  CliProcess agent(args);
  EXPECT_TRUE(agent.WaitForStderr("profiling", 10)) << "the agent did not start";
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
  kill(agent.pid(), SIGTERM);
  return agent.Finish();
}

// The agent's closing counters: "N windows, P profiles: S sent ..." as numbers by name.
std::map<std::string, uint64_t> Counters(const std::string& err) {
  std::map<std::string, uint64_t> out;
  const size_t at = err.rfind("windows, ");
  if (at == std::string::npos) return out;
  const size_t begin = err.rfind('\n', at) + 1;
  const std::string line = err.substr(begin, err.find('\n', at) - begin);
  std::vector<std::string> words =
      absl::StrSplit(line, absl::ByAnyChar(" ,:;()"), absl::SkipEmpty());
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    uint64_t v = 0;
    if (absl::SimpleAtoi(words[i], &v) && !out.contains(words[i + 1])) out[words[i + 1]] = v;
  }
  return out;
}

TEST(AgentTest, PushesEveryWindowToPyroscopeOnceThroughRetries) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  // The first attempt is refused for now (503, come back in a second), the second throttled.
  Receiver receiver({{.status = 503, .headers = "Retry-After: 1\r\n"}, {.status = 429}});
  Busy busy;
  const CliResult r =
      RunAgent({"agent", "-p", std::to_string(busy.pid()), "--window", "1", "--pyroscope",
                receiver.url(), "--label", "env=test", "--tenant", "team-a"},
               4.5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, uint64_t> c = Counters(r.err);
  EXPECT_GE(c.at("windows"), 5u) << r.err;
  EXPECT_EQ(c.at("retries"), 2u) << r.err;
  EXPECT_EQ(c.at("sent"), c.at("profiles")) << r.err;
  EXPECT_EQ(c.at("refused"), 0u) << r.err;
  EXPECT_EQ(c.at("queue"), 0u) << r.err;
  EXPECT_EQ(c.at("unsent"), 0u) << r.err;

  std::vector<std::pair<uint64_t, uint64_t>> delivered;  // (from, until) of each 2xx
  std::vector<Request> requests = receiver.requests();
  for (Request& q : requests) {
    EXPECT_TRUE(absl::StartsWith(q.target, "/ingest?")) << q.target;
    EXPECT_THAT(q.query["name"],
                ::testing::MatchesRegex("cpu_bound_nofp\\{env=test,host_name=[^,}]+\\}"));
    EXPECT_EQ(q.query["format"], "pprof");
    EXPECT_EQ(q.query["spyName"], "dprof");
    EXPECT_EQ(q.query["sampleRate"], "99");
    EXPECT_EQ(q.headers["x-scope-orgid"], "team-a");
    EXPECT_EQ(q.headers["content-type"], "application/octet-stream");
    const std::set<std::string> functions = FunctionsOf(q.body);
    EXPECT_TRUE(functions.contains("hot_a") || functions.contains("hot_b")) << q.target;
    if (q.answered != 200) continue;
    uint64_t from = 0, until = 0;
    ASSERT_TRUE(absl::SimpleAtoi(q.query["from"], &from));
    ASSERT_TRUE(absl::SimpleAtoi(q.query["until"], &until));
    delivered.emplace_back(from, until);
  }
  ASSERT_EQ(delivered.size(), c.at("sent"));
  std::sort(delivered.begin(), delivered.end());
  for (size_t i = 1; i < delivered.size(); ++i) {
    EXPECT_EQ(delivered[i].first, delivered[i - 1].second)
        << "windows tile the run, each once: window " << i;
  }
  const uint64_t now = static_cast<uint64_t>(time(nullptr));
  EXPECT_LE(delivered.back().second, now + 1);
  EXPECT_GE(delivered.front().first + 30, now);
}

TEST(AgentTest, ProfilesTheBackendRefusesAreDroppedAndCounted) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  std::deque<Receiver::Answer> refusals(100, {.status = 400});
  Receiver receiver(refusals);
  Busy busy;
  const CliResult r = RunAgent(
      {"agent", "-p", std::to_string(busy.pid()), "--window", "1", "--pyroscope", receiver.url()},
      2.5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, uint64_t> c = Counters(r.err);
  EXPECT_EQ(c.at("sent"), 0u);
  EXPECT_EQ(c.at("retries"), 0u);
  EXPECT_EQ(c.at("refused"), receiver.requests().size());
  EXPECT_EQ(c.at("refused"), c.at("profiles"));
  // Told once, not once per window.
  size_t told = 0;
  for (size_t at = r.err.find("refused a profile"); at != std::string::npos;
       at = r.err.find("refused a profile", at + 1)) {
    ++told;
  }
  EXPECT_EQ(told, 1u) << r.err;
}

TEST(AgentTest, WritesOneFilePerWindowIntoADirectory) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  const std::string dir = ScratchDir("agent-output") + "/profiles";
  Busy busy;
  const CliResult r = RunAgent({"agent", "-p", std::to_string(busy.pid()), "--window", "1",
                                "--output-dir", dir, "--output-max-files", "2"},
                               3.5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, uint64_t> c = Counters(r.err);
  EXPECT_GE(c.at("written"), 4u);
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    files.push_back(e.path().filename().string());
    std::string body;
    FILE* f = fopen(e.path().c_str(), "rb");
    ASSERT_NE(f, nullptr);
    char buf[65536];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), f)) > 0;) body.append(buf, n);
    fclose(f);
    EXPECT_FALSE(FunctionsOf(body).empty());
    EXPECT_EQ(std::filesystem::status(e.path()).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  ASSERT_EQ(files.size(), 2u) << "the oldest removed past --output-max-files";
  for (const std::string& name : files) {
    EXPECT_THAT(name, ::testing::MatchesRegex("cpu_bound_nofp-[0-9]{8}T[0-9]{6}Z\\.pb\\.gz"));
  }
}

TEST(AgentTest, BadArgumentsSayWhatIsWrong) {
  CliResult r = RunDprof({"agent"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--pyroscope URL or --output-dir DIR"));
  r = RunDprof({"agent", "--pyroscope", "ftp://host"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("not http:// or https://"));
  r = RunDprof({"agent", "--output-dir", "/tmp", "--label", "bad-key=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--label takes KEY=VALUE"));
}

}  // namespace
}  // namespace dprof::testing
