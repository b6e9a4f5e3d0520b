// A hostile reflector over loopback: whatever bytes it answers, the real
// vpncheck binary ends with exit 3 and "the reflector's answer is not valid"
// (or shows the text escaped), never a signal, never a control character in
// its output, and its peak RSS (the child's ru_maxrss) stays under 64 MiB.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "loopback_fixtures.h"
#include "probes/observation.h"
#include "probes/token.h"
#include "probes/untrusted.h"

extern char** environ;

namespace vpncheck::client {
namespace {

constexpr long kClientMemoryBudgetKiB = 64 * 1024;

std::string http_answer(const std::string& body, const std::string& status = "200 OK") {
  return "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

const std::string kTagHex(probes::kSessionTagSize * 2, 'a');

std::string session_body(const std::string& client_address = "127.0.0.1", const std::string& version = "fake",
                         const std::string& udp_ports = "") {
  return R"({"session_id":"hostile1","tag":")" + kTagHex + R"(","client":{"address":")" + client_address +
         R"(","port":40000},"capabilities":{"udp_ports":[)" + udp_ports +
         R"(],"tcp_ports":[]},"expires_in_s":60,"reflector_version":")" + version + R"("})";
}

// A control API that opens a session with `session` and answers the
// observations request with `observations` (both whole HTTP answers).
class FakeReflector : public fixtures::FakeHttpServer {
 public:
  FakeReflector(std::string session, std::string observations,
                std::shared_ptr<std::atomic<int>> requests = std::make_shared<std::atomic<int>>(0))
      : FakeHttpServer([requests, session = std::move(session), observations = std::move(observations)](
                           std::string_view request) -> std::string {
          if (request.starts_with("POST /v1/sessions")) return session;
          if (!request.starts_with("GET ")) return "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
          ++*requests;
          return observations;
        }),
        observation_requests_(std::move(requests)) {}
  int observation_requests() const { return *observation_requests_; }

 private:
  std::shared_ptr<std::atomic<int>> observation_requests_;
};

struct ChildRun {
  bool exited = false;  // false: killed by a signal
  int code = -1;        // exit status, or the signal
  long max_rss_kib = 0;
  std::string out;
  std::string err;
  std::string markdown;
  std::string junit;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The real client binary against the fake, every report form written.
ChildRun run_client(std::uint16_t port, std::vector<std::string> extra = {}) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("vpncheck-hostile-" + std::to_string(::getpid()) + "-" + std::to_string(port));
  std::filesystem::create_directories(dir);
  std::vector<std::string> args{VPNCHECK_CLIENT_PATH, "--reflector", "127.0.0.1:" + std::to_string(port),
                                "--timeout",          "1",           "--no-color",
                                "--markdown",         (dir / "md").string(),
                                "--junit",            (dir / "junit").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, (dir / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, (dir / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  ChildRun run;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(spawned, 0) << "cannot start " << argv[0];
  if (spawned != 0) return run;
  int status = 0;
  rusage usage{};
  EXPECT_EQ(::wait4(pid, &status, 0, &usage), pid);
  run.exited = WIFEXITED(status);
  run.code = run.exited ? WEXITSTATUS(status) : WTERMSIG(status);
  run.max_rss_kib = usage.ru_maxrss;
  run.out = slurp(dir / "out");
  run.err = slurp(dir / "err");
  run.markdown = slurp(dir / "md");
  run.junit = slurp(dir / "junit");
  std::filesystem::remove_all(dir);
  return run;
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

bool has_control_bytes(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto b = static_cast<unsigned char>(c);
    return (b < 0x20 && b != '\n' && b != '\t') || b == 0x7f;
  });
}

void expect_invalid_answer(const ChildRun& r, const std::string& why) {
  ASSERT_TRUE(r.exited) << "killed by signal " << r.code << "\n" << r.err;
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(has(r.err, "the reflector's answer is not valid: " + why)) << r.err;
  EXPECT_FALSE(has_control_bytes(r.err)) << r.err;
  EXPECT_FALSE(has(r.out, "blocked")) << r.out;
  EXPECT_LT(r.max_rss_kib, kClientMemoryBudgetKiB);
}

const std::string kEmptyObservations = R"({"observations":[],"dropped":0,"limits":[]})";

TEST(HostileReflector, HonestFakeIsAcceptedAsTheBaseline) {
  FakeReflector fake(http_answer(session_body(), "201 Created"), http_answer(kEmptyObservations));
  auto r = run_client(fake.port(), {"--json", "-"});
  ASSERT_TRUE(r.exited) << r.code;
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_GE(fake.observation_requests(), 1);
  EXPECT_LT(r.max_rss_kib, kClientMemoryBudgetKiB);
}

// Invalid UTF-8 inside a JSON string: it used to reach --json's dump() inside
// the parser's message and abort the client (SIGABRT, exit 134).
TEST(HostileReflector, InvalidUtf8IsExit3NotAnAbort) {
  FakeReflector fake(http_answer(session_body(), "201 Created"),
                     http_answer("{\"observations\":[],\"dropped\":0,\"limits\":[{\"limit\":\"x\xff\xfe\x1b[2J\"}]}"));
  auto r = run_client(fake.port(), {"--json", "-"});
  expect_invalid_answer(r, "");
  EXPECT_TRUE(has(r.err, "\\xff")) << r.err;  // the offending byte, escaped
  EXPECT_TRUE(has(r.out, "\"exit_code\": 3")) << r.out;
}

TEST(HostileReflector, InvalidUtf8InTheSessionAnswerIsExit3) {
  FakeReflector fake(http_answer(session_body("127.0.0.1", "v\xc3\x28\x1b]0;pwned\x07"), "201 Created"),
                     http_answer(kEmptyObservations));
  auto r = run_client(fake.port(), {"--json", "-"});
  ASSERT_TRUE(r.exited) << "killed by signal " << r.code;
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(has(r.err, "not a vpncheck reflector (bad session answer:")) << r.err;
  EXPECT_FALSE(has_control_bytes(r.err)) << r.err;
  EXPECT_FALSE(has_control_bytes(r.out)) << r.out;
}

// 4 MiB of '[' used to cost 322 MB of RSS: the depth bound stops the parse.
TEST(HostileReflector, DeepNestingIsRefusedWithinTheMemoryBudget) {
  const std::string deep = "{\"observations\":" + std::string(probes::kMaxAnswerBytes - 64, '[');
  FakeReflector fake(http_answer(session_body(), "201 Created"), http_answer(deep));
  auto r = run_client(fake.port());
  expect_invalid_answer(r, "nested deeper than " + std::to_string(probes::kMaxAnswerDepth) + " levels");
  std::cout << "deep nesting: client peak RSS " << r.max_rss_kib << " KiB\n";
}

TEST(HostileReflector, DeepNestingInTheSessionAnswerIsRefused) {
  FakeReflector fake(http_answer(std::string(probes::kMaxAnswerBytes - 64, '['), "201 Created"),
                     http_answer(kEmptyObservations));
  auto r = run_client(fake.port());
  ASSERT_TRUE(r.exited) << "killed by signal " << r.code;
  EXPECT_EQ(r.code, 3);
  EXPECT_TRUE(has(r.err, "nested deeper than")) << r.err;
  EXPECT_LT(r.max_rss_kib, kClientMemoryBudgetKiB);
}

// Flat but numerous: a 4 MiB array of empty objects is 1.4 million values.
TEST(HostileReflector, TooManyValuesAreRefusedWithinTheMemoryBudget) {
  std::string many = "{\"observations\":[";
  while (many.size() < probes::kMaxAnswerBytes - 16) many += "{},";
  many += "{}]}";
  FakeReflector fake(http_answer(session_body(), "201 Created"), http_answer(many));
  auto r = run_client(fake.port());
  expect_invalid_answer(r, "more than " + std::to_string(probes::kMaxAnswerValues) + " JSON values");
  std::cout << "many values: client peak RSS " << r.max_rss_kib << " KiB\n";
}

TEST(HostileReflector, AnAnswerOverTheSizeBoundIsRefusedUnread) {
  const std::string big = "{\"observations\":[],\"pad\":\"" + std::string(probes::kMaxAnswerBytes, 'x') + "\"}";
  FakeReflector fake(http_answer(session_body(), "201 Created"), http_answer(big));
  auto r = run_client(fake.port());
  expect_invalid_answer(r, "larger than " + std::to_string(probes::kMaxAnswerBytes) + " bytes");
}

// The largest answer the bounds let through, all of it kept: long decoded
// fields on thousands of observations still fit the budget.
TEST(HostileReflector, TheLargestAcceptedAnswerFitsTheMemoryBudget) {
  std::string body = "{\"dropped\":0,\"limits\":[],\"observations\":[";
  std::size_t n = 0;
  const std::string value(900, 'v');
  while (body.size() < probes::kMaxAnswerBytes - 4096) {
    body += (n ? "," : "") + std::string(R"({"sequence":)") + std::to_string(n) +
            R"(,"probe_index":0,"protocol":"wireguard","kind":"genuine","transport":"udp","local_port":1,)"
            R"("source":{"address":"192.0.2.1","port":2},"ip":{"ttl":64,"tos":0},"payload":{"length":1,"sha256":"00"},)"
            R"("fields":{"a":")" + value + R"(","b":")" + value + R"("},"reply":{"sent":false}})";
    ++n;
  }
  body += "]}";
  FakeReflector fake(http_answer(session_body(), "201 Created"), http_answer(body));
  auto r = run_client(fake.port(), {"--json", "-"});
  ASSERT_TRUE(r.exited) << "killed by signal " << r.code;
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_GT(n, 1500u);
  EXPECT_LT(r.max_rss_kib, kClientMemoryBudgetKiB);
  std::cout << n << " observations (" << body.size() << " bytes): client peak RSS " << r.max_rss_kib << " KiB\n";
}

TEST(HostileReflector, AClientAddressThatIsNotAnAddressIsRefused) {
  FakeReflector fake(http_answer(session_body("1.2.3.4\\u001b]0;pwned\\u0007\\u001b[2J"), "201 Created"),
                     http_answer(kEmptyObservations));
  auto r = run_client(fake.port());
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 3);
  EXPECT_TRUE(has(r.err, "an address is not an IP address: \"1.2.3.4\\x1b]0;pwned\\x07\\x1b[2J\"")) << r.err;
  EXPECT_FALSE(has_control_bytes(r.err + r.out + r.markdown + r.junit));
}

// Terminal escapes in every string the reports show (decoded fields, the
// reflector's limits, its version) come out as \xNN in text, Markdown and JUnit.
TEST(HostileReflector, ControlCharactersInObservationsAreShownEscaped) {
  const std::string esc = R"(\u001b]0;pwned\u0007\u001b[2J\u009b31m)";
  const std::string observations =
      R"({"dropped":0,"limits":[{"limit":"rate_limit","count":3,"ports":[1],"detail":")" + esc +
      R"("}],"observations":[{"sequence":1,"probe_index":0,"protocol":"wireguard","kind":"genuine","transport":"udp",)"
      R"("local_port":51820,"source":{"address":"192.0.2.1","port":2},"ip":{"ttl":64,"tos":0},)"
      R"("payload":{"length":1,"sha256":"00"},"fields":{"vendor":")" + esc + R"(","k)" + esc +
      R"(":"v"},"reply":{"sent":false,"reason":")" + esc + R"("}}]})";
  // Probe 0 is WireGuard's genuine probe to UDP 51820: sent (nothing answers
  // it there), so its arrival and decoded fields are shown.
  FakeReflector fake(http_answer(session_body("127.0.0.1", esc, "51820"), "201 Created"), http_answer(observations));
  auto r = run_client(fake.port(), {"--verbose", "--protocols", "wireguard"});
  ASSERT_TRUE(r.exited) << r.code;
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "vendor=\\x1b]0;pwned\\x07\\x1b[2J\\xc2\\x9b31m")) << r.out;
  EXPECT_FALSE(has_control_bytes(r.out)) << r.out;
  EXPECT_FALSE(has_control_bytes(r.err)) << r.err;
  EXPECT_FALSE(has_control_bytes(r.markdown)) << r.markdown;
  EXPECT_FALSE(has_control_bytes(r.junit)) << r.junit;
  EXPECT_FALSE(has(r.out + r.markdown + r.junit, "\xc2\x9b"));  // C1 CSI
}

// A paged observations answer (next_after) is followed to its last page.
std::string wireguard_observation(int sequence, int probe_index, const std::string& field) {
  return R"({"sequence":)" + std::to_string(sequence) + R"(,"probe_index":)" + std::to_string(probe_index) +
         R"(,"protocol":"wireguard","kind":"genuine","transport":"udp",)"
         R"("local_port":51820,"source":{"address":"192.0.2.1","port":2},"ip":{"ttl":64,"tos":0},)"
         R"("payload":{"length":1,"sha256":"00"},"fields":{"page":")" + field + R"("},"reply":{"sent":false}})";
}

class PagedReflector : public fixtures::FakeHttpServer {
 public:
  // `pages[n]` answers "?after=<key>"; anything else is an empty last page.
  explicit PagedReflector(std::map<std::string, std::string> pages)
      : FakeHttpServer([this, pages = std::move(pages)](std::string_view request) -> std::string {
          if (request.starts_with("POST /v1/sessions"))
            return http_answer(session_body("127.0.0.1", "fake", "51820"), "201 Created");
          if (!request.starts_with("GET ")) return "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
          ++requests_;
          const std::string line(request.substr(0, request.find('\r')));
          for (const auto& [after, body] : pages)
            if (has(line, "?after=" + after + " ")) return http_answer(body);
          return http_answer(kEmptyObservations);
        }) {}
  int requests() const { return requests_; }

 private:
  std::atomic<int> requests_{0};
};

// Probe 0's arrival is on the second page only: it is reported only if that page was read.
TEST(HostileReflector, PagedObservationsAreFollowedToTheLastPage) {
  PagedReflector fake({{"0", R"({"observations":[)" + wireguard_observation(1, 999, "one") +
                                 R"(],"dropped":0,"limits":[],"next_after":1})"},
                       {"1", R"({"observations":[)" + wireguard_observation(2, 0, "two") +
                                 R"(],"dropped":0,"limits":[]})"}});
  auto r = run_client(fake.port(), {"--verbose", "--protocols", "wireguard"});
  ASSERT_TRUE(r.exited) << r.code;
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_GE(fake.requests(), 2);
  EXPECT_TRUE(has(r.out, "page=two")) << r.out;
}

// Pages that never end (next_after not moving on) are refused, not followed for ever.
TEST(HostileReflector, PagesThatDoNotMoveOnAreRefused) {
  const std::string loop = R"({"observations":[],"dropped":0,"limits":[],"next_after":5})";
  PagedReflector fake({{"0", loop}, {"5", loop}});
  auto r = run_client(fake.port(), {"--json", "-"});
  expect_invalid_answer(r, "its pages do not move on");
  EXPECT_GE(fake.requests(), 2);
}

}  // namespace
}  // namespace vpncheck::client
