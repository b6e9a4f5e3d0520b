#include "reflector/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "probes/registry.h"

namespace vpncheck::reflector {
namespace {

TEST(ReflectorConfig, DefaultsMatchTheDesign) {
  auto out = parse_args({});
  ASSERT_TRUE(out.config) << out.message;
  const Config& c = *out.config;
  // Both families by default; the IPv6 socket is IPV6_V6ONLY (see Server::start).
  EXPECT_EQ(c.listen, (std::vector<std::string>{"0.0.0.0", "::"}));
  EXPECT_TRUE(c.listen_is_default);
  EXPECT_EQ(c.control_port, 8780);
  EXPECT_EQ(c.web_control_ports, (std::vector<std::uint16_t>{80, 443}));
  // Every port a module's variant probes, each once.
  EXPECT_EQ(c.udp_ports, (std::vector<std::uint16_t>{53, 443, 500, 1194, 1701, 4500, 51820}));
  EXPECT_EQ(c.tcp_ports, (std::vector<std::uint16_t>{443, 1194, 1723, 4500}));
  EXPECT_EQ(c.udp_ports, probes::variant_ports(probes::Transport::udp));
  EXPECT_EQ(c.tcp_ports, probes::variant_ports(probes::Transport::tcp));
  EXPECT_EQ(c.session_ttl_s, 300);
  EXPECT_EQ(c.log_level, LogLevel::info);
}

TEST(ReflectorConfig, ParsesEveryFlag) {
  auto out = parse_args({"--listen", "127.0.0.1", "--listen", "::1", "--control-port", "18780",
                         "--web-control-ports", "8080, 8443", "--udp-ports", "15182,1194,15182",
                         "--tcp-ports=11194", "--session-ttl", "60", "--log-level", "debug"});
  ASSERT_TRUE(out.config) << out.message;
  const Config& c = *out.config;
  EXPECT_EQ(c.listen, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_FALSE(c.listen_is_default);
  EXPECT_EQ(c.control_port, 18780);
  EXPECT_EQ(c.web_control_ports, (std::vector<std::uint16_t>{8080, 8443}));
  EXPECT_EQ(c.udp_ports, (std::vector<std::uint16_t>{15182, 1194}));  // duplicates removed
  EXPECT_EQ(c.tcp_ports, (std::vector<std::uint16_t>{11194}));
  EXPECT_EQ(c.session_ttl_s, 60);
  EXPECT_EQ(c.log_level, LogLevel::debug);
}

TEST(ReflectorConfig, EmptyWebControlPortsDisables) {
  auto out = parse_args({"--web-control-ports", ""});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_TRUE(out.config->web_control_ports.empty());
  out = parse_args({"--web-control-ports="});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_TRUE(out.config->web_control_ports.empty());
}

TEST(ReflectorConfig, PortZeroMeansEphemeral) {
  auto out = parse_args({"--control-port", "0", "--udp-ports", "0", "--tcp-ports", "0"});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->control_port, 0);
  EXPECT_EQ(out.config->udp_ports, std::vector<std::uint16_t>{0});
}

TEST(ReflectorConfig, BadFlagsAreUsageErrors) {
  const std::vector<std::vector<std::string>> bad{
      {"--no-such-flag"},
      {"--control-port", "70000"},
      {"--control-port", "http"},
      {"--udp-ports", "53,abc"},
      {"--tcp-ports", "1194,,443"},
      {"--tcp-ports", "65536"},
      {"--listen", "not-an-address"},
      {"--session-ttl", "0"},
      {"--log-level", "chatty"},
      {"stray-positional"},
  };
  for (const auto& args : bad) {
    auto out = parse_args(args);
    EXPECT_FALSE(out.config) << args[0];
    EXPECT_EQ(out.exit_code, 2) << args[0];
    EXPECT_NE(out.message.find("Usage"), std::string::npos) << args[0] << ": " << out.message;
  }
}

TEST(ReflectorConfig, NatTestServicePortsAndAlternateAddress) {
  auto out = parse_args({});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->nat_ports, (std::vector<std::uint16_t>{8781, 8782}));
  EXPECT_FALSE(out.config->alternate_address.has_value());
  out = parse_args({"--nat-ports", "3479,3480", "--alt-address", "203.0.113.6"});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->nat_ports, (std::vector<std::uint16_t>{3479, 3480}));
  EXPECT_EQ(out.config->alternate_address, "203.0.113.6");
  out = parse_args({"--nat-ports="});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_TRUE(out.config->nat_ports.empty());
  const std::vector<std::vector<std::string>> bad{
      {"--nat-ports", "1,2,3"},
      {"--nat-ports", "x"},
      {"--alt-address", "2001:db8::6"},
      {"--alt-address", "nope"},
      {"--nat-ports=", "--alt-address", "203.0.113.6"},
  };
  for (const auto& args : bad) {
    auto bad_out = parse_args(args);
    EXPECT_FALSE(bad_out.config) << args[0] << " " << args[1];
    EXPECT_EQ(bad_out.exit_code, 2);
  }
}

TEST(ReflectorConfig, HelpAndVersionExitZero) {
  auto help = parse_args({"--help"});
  EXPECT_FALSE(help.config);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.message.find("--udp-ports"), std::string::npos);
  auto version = parse_args({"--version"});
  EXPECT_FALSE(version.config);
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.message.find(std::string(reflector_version())), std::string::npos);
}

TEST(ReflectorConfig, PortListParser) {
  EXPECT_EQ(parse_port_list(""), std::vector<std::uint16_t>{});
  EXPECT_EQ(parse_port_list(" 1 , 2 "), (std::vector<std::uint16_t>{1, 2}));
  EXPECT_FALSE(parse_port_list("-1"));
  EXPECT_FALSE(parse_port_list("1,"));
  EXPECT_FALSE(parse_port_list("0x50"));
}

TEST(ReflectorConfig, RateLimitAndAuthKey) {
  auto defaults = parse_args({});
  ASSERT_TRUE(defaults.config);
  EXPECT_EQ(defaults.config->rate_limit, 200);
  EXPECT_FALSE(defaults.config->auth_key);

  auto out = parse_args({"--rate-limit", "50", "--auth-key", "s3cret"});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->rate_limit, 50);
  EXPECT_EQ(out.config->auth_key, "s3cret");

  out = parse_args({"--rate-limit", "0"});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->rate_limit, 0);

  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--rate-limit", "-1"}, {"--rate-limit", "fast"}, {"--auth-key", ""}, {"--auth-key="}}) {
    auto r = parse_args(bad);
    EXPECT_FALSE(r.config) << bad[0] << " " << (bad.size() > 1 ? bad[1] : "");
    EXPECT_EQ(r.exit_code, 2);
  }
  EXPECT_NE(parse_args({"--help"}).message.find("--rate-limit"), std::string::npos);
  EXPECT_NE(parse_args({"--help"}).message.find("--auth-key"), std::string::npos);
}

// A scratch directory for key files, removed with its contents.
class KeyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vpncheck-keyfile-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(KeyFiles, AuthKeyFileGivesTheKeyWithoutItsLineEnd) {
  auto out = parse_args({"--auth-key-file", write("key", "  s3cret-from-file \r\n")});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->auth_key, "s3cret-from-file");
  EXPECT_TRUE(out.config->warnings.empty());
  EXPECT_NE(parse_args({"--help"}).message.find("--auth-key-file"), std::string::npos);
}

TEST_F(KeyFiles, AuthKeyFileReadableByOthersIsWarnedAbout) {
  auto out = parse_args({"--auth-key-file", write("key", "k\n", 0644)});
  ASSERT_TRUE(out.config) << out.message;
  ASSERT_EQ(out.config->warnings.size(), 1u);
  EXPECT_NE(out.config->warnings[0].find("chmod 600"), std::string::npos);
}

TEST_F(KeyFiles, UnusableAuthKeyFilesAreUsageErrorsThatSayWhy) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {dir_ + "/missing", "No such file"},
      {write("empty", "\n"), "empty"},
      {write("two-lines", "a\nb\n"), "more than one line"},
      {write("huge", std::string(5000, 'k')), "one line"},
      {dir_, "not a regular file"},
  };
  for (const auto& [path, why] : cases) {
    auto out = parse_args({"--auth-key-file", path});
    EXPECT_FALSE(out.config) << path;
    EXPECT_EQ(out.exit_code, 2) << path;
    EXPECT_NE(out.message.find(why), std::string::npos) << path << ": " << out.message;
  }
  auto both = parse_args({"--auth-key", "a", "--auth-key-file", write("key", "b")});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.message.find("one way"), std::string::npos);
}

// systemd's LoadCredential=auth-key:PATH puts the file in $CREDENTIALS_DIRECTORY.
TEST_F(KeyFiles, SystemdCredentialIsTheKeyWhenNoOptionGivesOne) {
  write("auth-key", "from-credential\n");
  auto out = parse_args({}, dir_);
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->auth_key, "from-credential");
  EXPECT_EQ(out.config->auth_key_source, "systemd credential auth-key");

  out = parse_args({"--auth-key", "explicit"}, dir_);
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->auth_key, "explicit");

  // A credentials directory without that credential: no key, no error.
  std::filesystem::remove(dir_ + "/auth-key");
  out = parse_args({}, dir_);
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_FALSE(out.config->auth_key);
}

// The operator's TLS identity: two files, both or neither, readable now (the
// reflector reads them before it drops its privileges), or systemd credentials.
TEST_F(KeyFiles, TlsCertificateAndKeyComeTogether) {
  const std::string cert = write("cert.pem", "certificate");
  const std::string key = write("key.pem", "key");
  auto out = parse_args({"--tls-certificate", cert, "--tls-key", key});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->tls_certificate_file, cert);
  EXPECT_EQ(out.config->tls_key_file, key);

  for (const auto& args : {std::vector<std::string>{"--tls-certificate", cert},
                           std::vector<std::string>{"--tls-key", key}}) {
    out = parse_args(args);
    EXPECT_EQ(out.exit_code, 2) << args[0];
    EXPECT_NE(out.message.find("give both or neither"), std::string::npos) << out.message;
  }
  out = parse_args({"--tls-certificate", dir_ + "/missing.pem", "--tls-key", key});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.message.find("missing.pem: cannot be read"), std::string::npos) << out.message;

  out = parse_args({});
  ASSERT_TRUE(out.config);
  EXPECT_FALSE(out.config->tls_certificate_file);
}

TEST_F(KeyFiles, TlsCredentialsFromSystemd) {
  write("tls-certificate", "certificate");
  auto out = parse_args({}, dir_);
  EXPECT_EQ(out.exit_code, 2) << "one credential without the other";
  write("tls-key", "key");
  out = parse_args({}, dir_);
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->tls_certificate_file, dir_ + "/tls-certificate");
  EXPECT_EQ(out.config->tls_key_file, dir_ + "/tls-key");
}

// --control-tls-only needs a certificate to offer TLS with, given either way.
TEST_F(KeyFiles, ControlTlsOnlyNeedsACertificate) {
  auto out = parse_args({"--control-tls-only"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.message.find("--control-tls-only"), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("--tls-certificate"), std::string::npos) << out.message;

  const std::string cert = write("cert.pem", "certificate");
  const std::string key = write("key.pem", "key");
  out = parse_args({"--tls-certificate", cert, "--tls-key", key, "--control-tls-only"});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_TRUE(out.config->control_tls_only);
  out = parse_args({"--tls-certificate", cert, "--tls-key", key});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_FALSE(out.config->control_tls_only);

  write("tls-certificate", "certificate");
  write("tls-key", "key");
  out = parse_args({"--control-tls-only"}, dir_);
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_TRUE(out.config->control_tls_only);
}

TEST(ReflectorConfig, MaxConnections) {
  EXPECT_EQ(parse_args({}).config->max_connections, 1024u);
  auto out = parse_args({"--max-connections", "3"});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->max_connections, 3u);
  for (const auto* bad : {"0", "-1", "many"}) EXPECT_EQ(parse_args({"--max-connections", bad}).exit_code, 2) << bad;
  EXPECT_NE(parse_args({"--help"}).message.find("--max-connections"), std::string::npos);
}

TEST(ReflectorConfig, MaxConnectionsPerClient) {
  EXPECT_EQ(parse_args({}).config->max_connections_per_client, 64u);
  auto out = parse_args({"--max-connections-per-client", "5"});
  ASSERT_TRUE(out.config) << out.message;
  EXPECT_EQ(out.config->max_connections_per_client, 5u);
  for (const auto* bad : {"0", "-1", "many"})
    EXPECT_EQ(parse_args({"--max-connections-per-client", bad}).exit_code, 2) << bad;
}

}  // namespace
}  // namespace vpncheck::reflector
