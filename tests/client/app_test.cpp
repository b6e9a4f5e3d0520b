// The top level, where it needs no reflector: --list-probes, and a reflector
// that cannot be reached (loopback only, nothing leaves the machine), which
// must end in exit 3 and "Could not test", never in "blocked".
#include "src/app.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "client_fixtures.h"
#include "loopback_fixtures.h"
#include "probes/registry.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;

TEST(ListProbes, ListsEveryRegisteredProtocolAndVariant) {
  std::ostringstream out;
  list_probes(out);
  const std::string text = out.str();
  for (const auto* module : probes::all_protocols()) {
    EXPECT_TRUE(contains(text, module->id)) << text;
    EXPECT_TRUE(contains(text, module->description)) << text;
    for (const auto& v : module->variants) {
      const std::string shown = v.piece.empty() ? describe(v) + (v.standard ? " (standard)" : "")
                                                : std::string(v.piece) + " " + describe(v) + (v.standard ? "" : " (fallback)");
      EXPECT_TRUE(contains(text, shown)) << shown << "\n" << text;
    }
  }
}

TEST(ListProbes, NamesPptpsPieces) {
  std::ostringstream out;
  list_probes(out);
  EXPECT_TRUE(contains(out.str(), "control TCP 1723, gre GRE (IP protocol 47)")) << out.str();
}

TEST(ListProbes, ShowsIkeOverTcpAsIpsecsFallback) {
  std::ostringstream out;
  list_probes(out);
  EXPECT_TRUE(contains(out.str(), "ike-large UDP 500, ike-tcp TCP 4500 (fallback)")) << out.str();
  EXPECT_TRUE(contains(out.str(), "IKEv2 over TCP 4500 (RFC 8229)")) << out.str();
}

TEST(ListProbes, ShowsSstpInsideTlsOnTcp443) {
  std::ostringstream out;
  list_probes(out);
  std::string line;
  std::istringstream lines(out.str());
  while (std::getline(lines, line) && line.rfind("sstp ", 0) != 0) {
  }
  EXPECT_TRUE(contains(line, "TLS over TCP 443 (standard)")) << out.str();
  EXPECT_TRUE(contains(line, "TLS, then SSTP_DUPLEX_POST")) << out.str();
}

TEST(RunVpncheck, ListProbesNeedsNoNetworkAndExitsZero) {
  Options o;
  o.list_probes = true;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_vpncheck(o, out, err), 0);
  EXPECT_TRUE(contains(out.str(), "wireguard")) << out.str();
  EXPECT_TRUE(err.str().empty()) << err.str();
}

using fixtures::closed_loopback_port;

TEST(RunVpncheck, UnreachableReflectorIsCouldNotTestNotBlocked) {
  const auto json_path = std::filesystem::temp_directory_path() /
                         ("vpncheck_client_unreachable_" + std::to_string(::getpid()) + ".json");
  Options o;
  o.reflector_host = "127.0.0.1";
  o.control_port = closed_loopback_port();
  o.timeout_s = 1.0;
  o.required = {"wireguard"};
  o.no_color = true;
  o.json_path = json_path.string();
  std::ostringstream out;
  std::ostringstream err;
  const int code = run_vpncheck(o, out, err);

  std::ifstream in(json_path);
  auto doc = nlohmann::json::parse(in, nullptr, false);
  in.close();
  std::filesystem::remove(json_path);
  ASSERT_FALSE(doc.is_discarded()) << "no JSON report written";
  // The control API is also tried on TCP 443 and 80; a real reflector there would make this a real run.
  for (const auto& attempt : doc.at("reflector").at("control_attempts"))
    if (attempt.at("result") == "ok") GTEST_SKIP() << "a vpncheck reflector listens on 127.0.0.1:" << attempt.at("port");

  EXPECT_EQ(code, 3);
  EXPECT_EQ(doc.at("exit_code"), 3);
  EXPECT_TRUE(doc.at("error").is_string());
  EXPECT_EQ(doc.at("protocols"), nlohmann::json::array());
  EXPECT_TRUE(contains(out.str(), "Could not test")) << out.str();
  EXPECT_FALSE(contains(out.str(), "blocked")) << out.str();
  EXPECT_TRUE(contains(err.str(), std::to_string(*o.control_port))) << err.str();  // names the port tried
  // Nothing can intercept a host's traffic to itself: whatever serves its port 80 is no portal.
  EXPECT_TRUE(doc.at("captive_portal").is_null()) << doc.at("captive_portal");
}

TEST(RunVpncheck, JsonToStdoutIsTheOnlyThingOnStdout) {
  Options o;
  o.reflector_host = "127.0.0.1";
  o.control_port = closed_loopback_port();
  o.timeout_s = 0.5;
  o.json_path = "-";
  std::ostringstream out;
  std::ostringstream err;
  run_vpncheck(o, out, err);
  auto doc = nlohmann::json::parse(out.str(), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << "stdout is not one JSON document:\n" << out.str();
  EXPECT_EQ(doc.at("schema"), "vpncheck.report/1");
}

TEST(RunVpncheck, MarkdownToStdoutIsTheOnlyThingOnStdout) {
  Options o;
  o.reflector_host = "127.0.0.1";
  o.control_port = closed_loopback_port();
  o.timeout_s = 0.5;
  o.markdown_path = "-";
  std::ostringstream out;
  std::ostringstream err;
  run_vpncheck(o, out, err);
  EXPECT_EQ(out.str().rfind("## vpncheck", 0), 0U) << out.str();
  EXPECT_FALSE(contains(out.str(), "PROTOCOL")) << out.str();  // no text report mixed in
}

TEST(RunVpncheck, WritesEveryRequestedFormRedacted) {
  const auto dir = std::filesystem::temp_directory_path() / ("vpncheck_client_forms_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Options o;
  o.reflector_host = "127.0.0.1";
  o.control_port = closed_loopback_port();
  o.timeout_s = 0.5;
  o.json_path = (dir / "r.json").string();
  o.junit_path = (dir / "r.xml").string();
  o.markdown_path = (dir / "r.md").string();
  o.redact = true;
  std::ostringstream out;
  std::ostringstream err;
  const int code = run_vpncheck(o, out, err);
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  const std::string json_text = slurp(dir / "r.json");
  const std::string xml = slurp(dir / "r.xml");
  const std::string md = slurp(dir / "r.md");
  std::filesystem::remove_all(dir);
  auto doc = nlohmann::json::parse(json_text, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << json_text;
  for (const auto& attempt : doc.at("reflector").at("control_attempts"))
    if (attempt.at("result") == "ok") GTEST_SKIP() << "a vpncheck reflector listens on 127.0.0.1:" << attempt.at("port");
  EXPECT_EQ(code, 3);
  EXPECT_EQ(doc.at("redacted"), true);
  EXPECT_TRUE(contains(xml, "<testcase classname=\"vpncheck.reflector\" name=\"reflector\"")) << xml;
  EXPECT_TRUE(contains(md, "**Could not test:**")) << md;
  EXPECT_TRUE(contains(out.str(), "Could not test")) << out.str();  // text report still on stdout
}

TEST(RunVpncheck, UnwritableReportIsNamedOnStderr) {
  Options o;
  o.reflector_host = "127.0.0.1";
  o.control_port = closed_loopback_port();
  o.timeout_s = 0.5;
  o.junit_path = "/nonexistent-vpncheck-dir/vpncheck.xml";
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_vpncheck(o, out, err), 3);
  EXPECT_TRUE(contains(err.str(), "cannot write the JUnit report to /nonexistent-vpncheck-dir/vpncheck.xml"))
      << err.str();
}

}  // namespace
}  // namespace vpncheck::client
