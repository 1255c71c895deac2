// dprof agent against a receiver on 127.0.0.1 that speaks Pyroscope's ingest API and OTLP
// profiles over HTTP, and decodes every body with its schema (the project's profile.proto and
// otlp_profiles.proto): windows that tile the run, each delivered once, the service and labels,
// the hot functions of the profiled program. Faults: a backend that answers 503 with Retry-After
// and 429 (retried), 400 (dropped and counted), answers slower than the timeout, is absent at
// start or goes away mid-run (windows spooled, then sent by the next run), a full spool.
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
#include "absl/strings/strip.h"
#include "continuous/internal/otlp_profiles.pb.h"
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
    int delay_ms = 0;          // before answering
  };

  // On `port` (0: any free one).
  explicit Receiver(std::deque<Answer> script = {}, int port = 0) : script_(std::move(script)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
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

  int port() const { return port_; }
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
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(answer.delay_ms));
      {
        std::lock_guard lock(mu_);
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

std::string Gunzip(const std::string& gzipped) {
  std::string raw(16 << 20, '\0');
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
  return raw;
}

// A gzipped pprof body decoded with profile.proto; the names of its functions.
std::set<std::string> FunctionsOf(const std::string& gzipped) {
  perftools::profiles::Profile profile;
  EXPECT_TRUE(profile.ParseFromString(Gunzip(gzipped)));
  std::set<std::string> names;
  for (const auto& f : profile.function()) names.insert(profile.string_table(f.name()));
  EXPECT_GT(profile.sample_size(), 0);
  return names;
}

// What an OTLP body holds, decoded with the OTLP profiles schema and checked against its rules
// (every table's zero entry, every index in range).
struct OtlpContents {
  std::map<std::string, std::string> resource;  // the first resource's attributes
  std::set<std::string> leaves;                 // the functions samples end in
  uint64_t time_unix_nano = 0, duration_nano = 0;
  size_t samples = 0;
  std::vector<uint64_t> timestamps;
};
OtlpContents DecodeOtlp(const std::string& gzipped) {
  dprof::otlp::ExportProfilesServiceRequest request;
  EXPECT_TRUE(request.ParseFromString(Gunzip(gzipped)));
  const dprof::otlp::ProfilesDictionary& d = request.dictionary();
  EXPECT_GT(d.string_table_size(), 0);
  EXPECT_EQ(d.string_table(0), "");
  EXPECT_GT(d.stack_table_size(), 0);
  EXPECT_EQ(d.stack_table(0).location_indices_size(), 0);
  EXPECT_GT(d.location_table_size(), 0);
  EXPECT_GT(d.function_table_size(), 0);
  EXPECT_GT(d.mapping_table_size(), 0);
  OtlpContents out;
  EXPECT_EQ(request.resource_profiles_size(), 1);
  for (const auto& rp : request.resource_profiles()) {
    for (const auto& kv : rp.resource().attributes()) {
      out.resource.emplace(kv.key(), kv.value().string_value());
    }
    for (const auto& sp : rp.scope_profiles()) {
      EXPECT_EQ(sp.scope().name(), "dprof");
      for (const auto& p : sp.profiles()) {
        EXPECT_EQ(d.string_table(p.sample_type().type_strindex()), "cpu");
        EXPECT_EQ(d.string_table(p.sample_type().unit_strindex()), "nanoseconds");
        out.time_unix_nano = p.time_unix_nano();
        out.duration_nano = p.duration_nano();
        for (const auto& sample : p.samples()) {
          ++out.samples;
          EXPECT_EQ(sample.values_size(), sample.timestamps_unix_nano_size());
          out.timestamps.insert(out.timestamps.end(), sample.timestamps_unix_nano().begin(),
                                sample.timestamps_unix_nano().end());
          EXPECT_GT(sample.stack_index(), 0);
          EXPECT_LT(sample.stack_index(), d.stack_table_size());
          const auto& stack = d.stack_table(sample.stack_index());
          if (stack.location_indices_size() == 0) continue;
          const int leaf = stack.location_indices(0);
          EXPECT_GT(leaf, 0);
          EXPECT_LT(leaf, d.location_table_size());
          const auto& location = d.location_table(leaf);
          if (location.lines_size() == 0) continue;
          const int function = location.lines(0).function_index();
          EXPECT_LT(function, d.function_table_size());
          out.leaves.insert(d.string_table(d.function_table(function).name_strindex()));
        }
      }
    }
  }
  return out;
}

// Runs the agent for `seconds`, then SIGTERM.
CliResult RunAgent(const std::vector<std::string>& args, double seconds) {
  CliProcess agent(args);
  EXPECT_TRUE(agent.WaitForStderr("profiling", 10)) << "the agent did not start";
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
  kill(agent.pid(), SIGTERM);
  return agent.Finish();
}

// The agent's closing counters, "N windows, P profiles; Pyroscope: S sent (B bytes), R retries,
// ...; OTLP: ...; files: ...": of `part` ("" the first, else the one it names), numbers by the
// word after them.
std::map<std::string, uint64_t> Counters(const std::string& err, const std::string& part = "") {
  std::map<std::string, uint64_t> out;
  const size_t at = err.rfind("windows, ");
  if (at == std::string::npos) return out;
  const size_t begin = err.rfind('\n', at) + 1;
  const std::string line = err.substr(begin, err.find('\n', at) - begin);
  for (absl::string_view segment : absl::StrSplit(line, ';')) {
    segment = absl::StripAsciiWhitespace(segment);
    if (!part.empty() && !absl::StartsWith(segment, part + ":")) continue;
    std::vector<std::string> words =
        absl::StrSplit(segment, absl::ByAnyChar(" ,:()"), absl::SkipEmpty());
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      uint64_t v = 0;
      if (absl::SimpleAtoi(words[i], &v) && !out.contains(words[i + 1])) out[words[i + 1]] = v;
    }
    return out;
  }
  return out;
}

TEST(AgentTest, PushesEveryWindowToPyroscopeOnceThroughRetries) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  // The first attempt is refused for now (503, come back in a second), the second throttled.
  Receiver receiver({{.status = 503, .headers = "Retry-After: 1\r\n"}, {.status = 429}});
  BusySample busy(60);
  const CliResult r = RunAgent(
      {"agent", "-p", std::to_string(busy.pid()), "--window", "1", "--pyroscope", receiver.url(),
       "--label", "env=test", "--tenant", "team-a", "--spool", ScratchDir("agent-spool")},
      4.5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, uint64_t> c = Counters(r.err, "Pyroscope");
  EXPECT_GE(Counters(r.err).at("windows"), 5u) << r.err;
  EXPECT_EQ(c.at("retries"), 2u) << r.err;
  EXPECT_EQ(c.at("sent"), Counters(r.err).at("profiles")) << r.err;
  EXPECT_EQ(c.at("spooled"), 0u) << r.err;
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
  BusySample busy(60);
  const CliResult r =
      RunAgent({"agent", "-p", std::to_string(busy.pid()), "--window", "1", "--pyroscope",
                receiver.url(), "--spool", ScratchDir("agent-spool")},
               2.5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, uint64_t> c = Counters(r.err, "Pyroscope");
  EXPECT_EQ(c.at("sent"), 0u);
  EXPECT_EQ(c.at("retries"), 0u);
  EXPECT_EQ(c.at("refused"), receiver.requests().size());
  EXPECT_EQ(c.at("refused"), Counters(r.err).at("profiles"));
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
  BusySample busy(60);
  const CliResult r = RunAgent({"agent", "-p", std::to_string(busy.pid()), "--window", "1",
                                "--output-dir", dir, "--output-max-files", "2"},
                               3.5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, uint64_t> c = Counters(r.err, "files");
  EXPECT_GE(c.at("written"), 4u) << r.err;
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

TEST(AgentTest, SendsOtlpProfilesThatDecodeWithTheSchema) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  Receiver receiver;
  BusySample busy(60);
  const CliResult r =
      RunAgent({"agent", "-p", std::to_string(busy.pid()), "--window", "1", "--otlp",
                receiver.url() + "/", "--label", "env=test", "--spool", ScratchDir("agent-spool")},
               3.5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, uint64_t> c = Counters(r.err, "OTLP");
  EXPECT_GE(c.at("sent"), 4u) << r.err;
  EXPECT_EQ(c.at("retries"), 0u) << r.err;
  const std::vector<Request> requests = receiver.requests();
  ASSERT_EQ(requests.size(), c.at("sent"));
  std::vector<std::pair<uint64_t, uint64_t>> windows;
  for (const Request& q : requests) {
    EXPECT_EQ(q.target, "/v1development/profiles");
    EXPECT_EQ(q.headers.at("content-type"), "application/x-protobuf");
    EXPECT_EQ(q.headers.at("content-encoding"), "gzip");
    OtlpContents o = DecodeOtlp(q.body);
    EXPECT_EQ(o.resource["service.name"], "cpu_bound_nofp");
    EXPECT_FALSE(o.resource["host.name"].empty());
    EXPECT_EQ(o.resource["env"], "test");
    EXPECT_TRUE(o.leaves.contains("hot_a") || o.leaves.contains("hot_b"));
    EXPECT_GT(o.samples, 0u);
    for (uint64_t t : o.timestamps) {
      EXPECT_GE(t, o.time_unix_nano);
      EXPECT_LT(t, o.time_unix_nano + o.duration_nano) << "a sample's time within its window";
    }
    windows.emplace_back(o.time_unix_nano, o.time_unix_nano + o.duration_nano);
  }
  std::sort(windows.begin(), windows.end());
  for (size_t i = 1; i < windows.size(); ++i) {
    EXPECT_EQ(windows[i].first, windows[i - 1].second) << "window " << i;
  }
}

// Nothing listens at first: the windows wait (memory, then the spool at exit); the next run sends
// the spooled ones first, and the backend going away mid-run loses nothing either. Every window
// reaches the receiver once.
TEST(AgentTest, WindowsWaitInTheSpoolWhileTheBackendIsAwayAndAreSentOnce) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  int port = 0;
  {
    Receiver probe;  // a free port, closed again
    port = probe.port();
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::string spool = ScratchDir("agent-spool");
  BusySample busy(60);
  const std::vector<std::string> args = {"agent",
                                         "-p",
                                         std::to_string(busy.pid()),
                                         "--window",
                                         "1",
                                         "--pyroscope",
                                         url,
                                         "--spool",
                                         spool,
                                         "--flush-timeout",
                                         "1",
                                         "--timeout",
                                         "1"};
  const CliResult down = RunAgent(args, 2.5);
  ASSERT_EQ(down.exit_code, 0) << down.err;
  const std::map<std::string, uint64_t> first = Counters(down.err, "Pyroscope");
  EXPECT_EQ(first.at("sent"), 0u) << down.err;
  EXPECT_GE(first.at("retries"), 1u) << down.err;
  EXPECT_EQ(first.at("spooled"), Counters(down.err).at("profiles")) << down.err;
  size_t told = 0;
  for (size_t at = down.err.find("did not answer"); at != std::string::npos;
       at = down.err.find("did not answer", at + 1)) {
    ++told;
  }
  EXPECT_EQ(told, 1u) << "said once: " << down.err;

  Receiver receiver({}, port);
  const CliResult up = RunAgent(args, 2.5);
  ASSERT_EQ(up.exit_code, 0) << up.err;
  const std::map<std::string, uint64_t> second = Counters(up.err, "Pyroscope");
  EXPECT_EQ(second.at("from"), first.at("spooled")) << up.err;
  EXPECT_EQ(second.at("unsent"), 0u) << up.err;
  EXPECT_EQ(second.at("spooled"), 0u) << up.err;
  std::set<std::pair<std::string, std::string>> seen;
  for (const Request& q : receiver.requests()) {
    EXPECT_TRUE(seen.emplace(q.query.at("from"), q.query.at("until")).second)
        << "window " << q.query.at("from") << " sent twice";
  }
  EXPECT_EQ(seen.size(), first.at("spooled") + Counters(up.err).at("profiles"));
}

// The backend goes away mid-run and comes back: what it missed is retried until it takes it.
TEST(AgentTest, ABackendRestartedMidRunGetsEveryWindowOnce) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  int port = 0;
  {
    Receiver probe;
    port = probe.port();
  }
  auto receiver = std::make_unique<Receiver>(std::deque<Receiver::Answer>{}, port);
  BusySample busy(60);
  CliProcess agent({"agent", "-p", std::to_string(busy.pid()), "--window", "1", "--pyroscope",
                    receiver->url(), "--spool", ScratchDir("agent-spool"), "--timeout", "0.5"});
  ASSERT_TRUE(agent.WaitForStderr("profiling", 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  std::vector<Request> requests = receiver->requests();
  receiver.reset();  // killed
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  receiver = std::make_unique<Receiver>(std::deque<Receiver::Answer>{}, port);  // restarted
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  kill(agent.pid(), SIGTERM);
  const CliResult r = agent.Finish();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const Request& q : receiver->requests()) requests.push_back(q);
  const std::map<std::string, uint64_t> c = Counters(r.err, "Pyroscope");
  EXPECT_GE(c.at("retries"), 1u) << r.err;
  EXPECT_EQ(c.at("sent"), Counters(r.err).at("profiles")) << r.err;
  EXPECT_EQ(c.at("unsent"), 0u) << r.err;
  std::set<std::pair<std::string, std::string>> seen;
  for (const Request& q : requests) {
    EXPECT_TRUE(seen.emplace(q.query.at("from"), q.query.at("until")).second)
        << "window " << q.query.at("from") << " delivered twice";
  }
  EXPECT_EQ(seen.size(), c.at("sent"));
}

TEST(AgentTest, AnswersSlowerThanTheTimeoutAreTriedAgain) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  Receiver receiver({{.status = 200, .delay_ms = 1500}});
  BusySample busy(60);
  const CliResult r =
      RunAgent({"agent", "-p", std::to_string(busy.pid()), "--window", "1", "--pyroscope",
                receiver.url(), "--timeout", "0.5", "--spool", ScratchDir("agent-spool")},
               3.5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, uint64_t> c = Counters(r.err, "Pyroscope");
  EXPECT_GE(c.at("retries"), 1u) << r.err;
  EXPECT_EQ(c.at("sent"), Counters(r.err).at("profiles")) << r.err;
  EXPECT_THAT(r.err, HasSubstr("timed out"));
}

TEST(AgentTest, AFullSpoolDropsItsOldestAndCountsThem) {
  DPROF_REQUIRE_PERF_OR_SKIP();
  int port = 0;
  {
    Receiver probe;
    port = probe.port();
  }
  const std::string spool = ScratchDir("agent-spool");
  BusySample busy(60);
  // Room for about one profile: each window's spills the one before.
  const CliResult r =
      RunAgent({"agent", "-p", std::to_string(busy.pid()), "--window", "1", "--pyroscope",
                "http://127.0.0.1:" + std::to_string(port), "--spool", spool, "--spool-max", "1000",
                "--queue-max", "1", "--flush-timeout", "0.5", "--timeout", "0.5"},
               3.5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, uint64_t> c = Counters(r.err, "Pyroscope");
  EXPECT_GE(c.at("dropped"), 1u) << r.err;
  EXPECT_EQ(c.at("sent"), 0u) << r.err;
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(spool + "/pyroscope")) {
    files += e.path().extension() == ".req";
  }
  EXPECT_GE(files, 1u);
  // Every profile is accounted for: each went to the spool (or, failing that, was counted), and
  // what the spool got is still there or was dropped past its bound.
  EXPECT_EQ(Counters(r.err).at("profiles"), c.at("spooled") + c.at("unsent") + c.at("queue"))
      << r.err;
  EXPECT_EQ(files, c.at("spooled") - c.at("dropped")) << r.err;
}

TEST(AgentTest, BadArgumentsSayWhatIsWrong) {
  CliResult r = RunDprof({"agent"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--otlp URL or --output-dir DIR"));
  r = RunDprof({"agent", "--pyroscope", "ftp://host"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("not http:// or https://"));
  r = RunDprof({"agent", "--pyroscope", "http://127.0.0.1:1", "--spool", "/proc/version/x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot use the spool directory /proc/version/x"));
  r = RunDprof({"agent", "--output-dir", "/tmp", "--label", "bad-key=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--label takes KEY=VALUE"));
}

}  // namespace
}  // namespace dprof::testing
