#include "reflector/config.h"

#include <gtest/gtest.h>

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
