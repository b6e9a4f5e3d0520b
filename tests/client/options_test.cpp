#include "src/cli/options.h"

#include <gtest/gtest.h>

#include "client_fixtures.h"
#include "src/version.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;

ParseOutcome parse(std::vector<std::string> args) { return parse_args(args); }

// A usage error: no options, exit 2, a message that names `what` and points to --help.
void expect_usage_error(const ParseOutcome& outcome, std::string_view what) {
  EXPECT_FALSE(outcome.options.has_value());
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_TRUE(contains(outcome.message, what)) << outcome.message;
  EXPECT_TRUE(contains(outcome.message, "--help")) << outcome.message;
}

TEST(ParseArgs, DefaultsWithOnlyAReflector) {
  auto outcome = parse({"--reflector", "reflector.example.net"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.message;
  EXPECT_EQ(outcome.exit_code, 0);
  const Options& o = *outcome.options;
  EXPECT_EQ(o.reflector_host, "reflector.example.net");
  EXPECT_FALSE(o.control_port.has_value());
  EXPECT_TRUE(o.protocols.empty());  // all registered
  EXPECT_TRUE(o.required.empty());
  EXPECT_DOUBLE_EQ(o.timeout_s, 3.0);
  EXPECT_FALSE(o.json_path.has_value());
  EXPECT_FALSE(o.verbose);
  EXPECT_FALSE(o.no_color);
  EXPECT_FALSE(o.list_probes);
}

TEST(ParseArgs, ReflectorHostAndPort) {
  auto outcome = parse({"--reflector", "192.0.2.10:9000"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.message;
  EXPECT_EQ(outcome.options->reflector_host, "192.0.2.10");
  EXPECT_EQ(outcome.options->control_port, std::uint16_t{9000});
}

TEST(ParseArgs, ReflectorBracketedIPv6AndPort) {
  auto outcome = parse({"-r", "[2001:db8::1]:8780"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.message;
  EXPECT_EQ(outcome.options->reflector_host, "2001:db8::1");
  EXPECT_EQ(outcome.options->control_port, std::uint16_t{8780});
}

TEST(ParseArgs, ReflectorBareIPv6HasNoPort) {
  auto outcome = parse({"--reflector=2001:db8::1"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.message;
  EXPECT_EQ(outcome.options->reflector_host, "2001:db8::1");
  EXPECT_FALSE(outcome.options->control_port.has_value());
}

TEST(ParseArgs, AllOptionsTogether) {
  auto outcome = parse({"-r", "example.net:8780", "--protocols", "wireguard,openvpn", "--require", "openvpn",
                        "--timeout", "1.5", "--json", "-", "-v", "--no-color"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.message;
  const Options& o = *outcome.options;
  EXPECT_EQ(o.protocols, (std::vector<std::string>{"wireguard", "openvpn"}));
  EXPECT_EQ(o.required, (std::vector<std::string>{"openvpn"}));
  EXPECT_DOUBLE_EQ(o.timeout_s, 1.5);
  EXPECT_EQ(o.json_path, std::string("-"));
  EXPECT_TRUE(o.verbose);
  EXPECT_TRUE(o.no_color);
}

TEST(ParseArgs, EmptyListItemsAreIgnored) {
  auto outcome = parse({"-r", "h", "--protocols", ",wireguard,,", "--require", "wireguard,"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.message;
  EXPECT_EQ(outcome.options->protocols, (std::vector<std::string>{"wireguard"}));
  EXPECT_EQ(outcome.options->required, (std::vector<std::string>{"wireguard"}));
}

TEST(ParseArgs, RequireWithoutProtocolsMeansAllAreTested) {
  auto outcome = parse({"-r", "h", "--require", "wireguard,openvpn"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.message;
  EXPECT_TRUE(outcome.options->protocols.empty());
  EXPECT_EQ(outcome.options->required.size(), 2U);
}

TEST(ParseArgs, UnknownFlagIsAUsageError) {
  expect_usage_error(parse({"-r", "h", "--frobnicate"}), "--frobnicate");
}

TEST(ParseArgs, UnexpectedPositionalIsAUsageError) {
  expect_usage_error(parse({"-r", "h", "stray"}), "stray");
}

TEST(ParseArgs, MissingReflectorIsAUsageError) {
  expect_usage_error(parse({}), "--reflector");
  expect_usage_error(parse({"--protocols", "wireguard"}), "--reflector");
}

// Without --reflector a new user learns what a reflector is, the three ways to
// run one and how to see a run without one, in a few lines that fit 80 columns.
TEST(ParseArgs, MissingReflectorExplainsReflectors) {
  auto outcome = parse({});
  EXPECT_EQ(outcome.exit_code, 2);
  const auto& text = outcome.message;
  EXPECT_EQ(text, kNoReflectorHelp);
  for (const char* needed : {"--reflector HOST", "public address", "vpncheck-reflector", ".deb",
                             "systemctl enable --now vpncheck-reflector", "packaging/Containerfile",
                             "packaging/try-vpncheck.sh", "as root"})
    EXPECT_TRUE(contains(text, needed)) << needed << " missing from:\n" << text;
  std::size_t lines = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    std::size_t columns = 0;
    for (char c : line) columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    EXPECT_LE(columns, 80U) << line;
    ++lines;
    start = end + 1;
  }
  EXPECT_LE(lines, 12U);
}

TEST(ParseArgs, UnknownProtocolIsAUsageErrorNamingTheKnownOnes) {
  auto outcome = parse({"-r", "h", "--protocols", "wireguard,pptpp"});
  expect_usage_error(outcome, "pptpp");
  for (const auto* module : probes::all_protocols())
    EXPECT_TRUE(contains(outcome.message, module->id)) << outcome.message;
}

TEST(ParseArgs, UnknownRequiredProtocolIsAUsageError) {
  expect_usage_error(parse({"-r", "h", "--require", "ipsecc"}), "ipsecc");
}

TEST(ParseArgs, RequireNotAmongProtocolsIsAUsageError) {
  expect_usage_error(parse({"-r", "h", "--protocols", "wireguard", "--require", "openvpn"}), "openvpn");
}

TEST(Options, L2tpIpsecCanBeRequiredButNotSelected) {
  auto outcome = parse({"-r", "h", "--require", "l2tp-ipsec"});
  ASSERT_TRUE(outcome.options) << outcome.message;
  EXPECT_EQ(outcome.options->required, (std::vector<std::string>{"l2tp-ipsec"}));
  outcome = parse({"-r", "h", "--protocols", "l2tp,ipsec", "--require", "l2tp-ipsec"});
  ASSERT_TRUE(outcome.options) << outcome.message;
  // It has no probes: it exists when both halves are tested.
  expect_usage_error(parse({"-r", "h", "--protocols", "l2tp", "--require", "l2tp-ipsec"}), "needs l2tp and ipsec");
  expect_usage_error(parse({"-r", "h", "--protocols", "l2tp-ipsec"}), "derived from l2tp and ipsec");
  expect_usage_error(parse({"-r", "h", "--protocols", "ipsec", "--require", "l2tp-ipsec"}), "needs l2tp and ipsec");
  // An unknown --require lists the derived protocols among the known ones.
  const auto unknown = parse({"-r", "h", "--require", "l2tp-ipsek"});
  expect_usage_error(unknown, "unknown protocol 'l2tp-ipsek' (known: wireguard,");
  expect_usage_error(unknown, ", and l2tp-ipsec)");
}

TEST(ParseArgs, TimeoutOutOfRangeIsAUsageError) {
  for (const char* bad : {"0.1", "0", "-1", "121", "1e9", "soon"}) {
    auto outcome = parse({"-r", "h", "--timeout", bad});
    EXPECT_FALSE(outcome.options.has_value()) << bad;
    EXPECT_EQ(outcome.exit_code, 2) << bad;
    EXPECT_TRUE(contains(outcome.message, "--help")) << bad << ": " << outcome.message;
  }
}

TEST(ParseArgs, TimeoutRangeBoundsAreAccepted) {
  for (const char* good : {"0.2", "120"}) {
    auto outcome = parse({"-r", "h", "-t", good});
    EXPECT_TRUE(outcome.options.has_value()) << good << ": " << outcome.message;
  }
}

TEST(ParseArgs, MalformedReflectorIsAUsageError) {
  for (const char* bad : {"h:0", "h:65536", "h:port", ":8780", "[::1", "[::1]8780"}) {
    auto outcome = parse({"-r", bad});
    EXPECT_FALSE(outcome.options.has_value()) << bad;
    EXPECT_EQ(outcome.exit_code, 2) << bad;
    EXPECT_TRUE(contains(outcome.message, bad)) << outcome.message;
  }
}

TEST(ParseArgs, ListProbesNeedsNoReflector) {
  auto outcome = parse({"--list-probes"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.message;
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_TRUE(outcome.options->list_probes);
}

TEST(ParseArgs, ListProbesStillRejectsUnknownProtocols) {
  expect_usage_error(parse({"--list-probes", "--protocols", "nope"}), "nope");
}

TEST(ParseArgs, HelpExitsZeroWithUsageText) {
  auto outcome = parse({"--help"});
  EXPECT_FALSE(outcome.options.has_value());
  EXPECT_EQ(outcome.exit_code, 0);
  for (std::string_view text : {"--reflector", "--protocols", "--require", "--json", "--timeout", "--list-probes",
                                "Exit codes"})
    EXPECT_TRUE(contains(outcome.message, text)) << text << " missing from:\n" << outcome.message;
}

TEST(ParseArgs, HelpWinsOverAMissingReflector) {
  auto outcome = parse({"-h"});
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_TRUE(contains(outcome.message, "--reflector"));
}

TEST(ParseArgs, VersionExitsZeroWithTheVersion) {
  auto outcome = parse({"--version"});
  EXPECT_FALSE(outcome.options.has_value());
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_TRUE(contains(outcome.message, kVersion)) << outcome.message;
}

using HostPort = std::pair<std::string, std::optional<std::uint16_t>>;

TEST(ParseArgs, CiOutputsAreOffByDefault) {
  auto outcome = parse({"-r", "h"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.message;
  EXPECT_FALSE(outcome.options->junit_path.has_value());
  EXPECT_FALSE(outcome.options->markdown_path.has_value());
  EXPECT_FALSE(outcome.options->redact);
}

TEST(ParseArgs, JunitMarkdownAndRedact) {
  auto outcome = parse({"-r", "h", "--json", "r.json", "--junit", "vpncheck.xml", "--markdown", "-", "--redact"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.message;
  const Options& o = *outcome.options;
  EXPECT_EQ(o.json_path, std::string("r.json"));
  EXPECT_EQ(o.junit_path, std::string("vpncheck.xml"));
  EXPECT_EQ(o.markdown_path, std::string("-"));
  EXPECT_TRUE(o.redact);
}

TEST(ParseArgs, EachFormMayGoToStdoutAlone) {
  for (std::string flag : {"--json", "--junit", "--markdown"}) {
    auto outcome = parse({"-r", "h", flag, "-"});
    ASSERT_TRUE(outcome.options.has_value()) << flag << ": " << outcome.message;
  }
}

TEST(ParseArgs, TwoFormsOnStdoutIsAUsageError) {
  expect_usage_error(parse({"-r", "h", "--json", "-", "--junit", "-"}), "--json and --junit both write to stdout");
  expect_usage_error(parse({"-r", "h", "--junit", "-", "--markdown", "-"}),
                     "--junit and --markdown both write to stdout");
  expect_usage_error(parse({"-r", "h", "--json", "-", "--markdown", "-"}), "--json and --markdown");
}

TEST(ParseArgs, TwoFormsIntoOneFileIsAUsageError) {
  expect_usage_error(parse({"-r", "h", "--json", "out", "--markdown", "out"}), "both write to 'out'");
}

TEST(ParseArgs, CiOutputNeedsAFile) {
  expect_usage_error(parse({"-r", "h", "--junit", ""}), "--junit needs a FILE or -");
  expect_usage_error(parse({"-r", "h", "--markdown"}), "--markdown");
}

TEST(ParseArgs, HelpNamesTheCiOutputs) {
  auto outcome = parse({"--help"});
  for (std::string_view flag : {"--junit", "--markdown", "--redact"})
    EXPECT_TRUE(contains(outcome.message, flag)) << flag << "\n" << outcome.message;
}

TEST(SplitHostPort, AcceptsEveryDocumentedForm) {
  EXPECT_EQ(split_host_port("example.net"), (HostPort{"example.net", std::nullopt}));
  EXPECT_EQ(split_host_port("example.net:443"), (HostPort{"example.net", 443}));
  EXPECT_EQ(split_host_port("192.0.2.1:1"), (HostPort{"192.0.2.1", 1}));
  EXPECT_EQ(split_host_port("192.0.2.1:65535"), (HostPort{"192.0.2.1", 65535}));
  EXPECT_EQ(split_host_port("[2001:db8::1]:8780"), (HostPort{"2001:db8::1", 8780}));
  EXPECT_EQ(split_host_port("[2001:db8::1]"), (HostPort{"2001:db8::1", std::nullopt}));
  EXPECT_EQ(split_host_port("2001:db8::1"), (HostPort{"2001:db8::1", std::nullopt}));
  EXPECT_EQ(split_host_port("::1"), (HostPort{"::1", std::nullopt}));
  EXPECT_EQ(split_host_port("[fe80::1%eth0]:80"), (HostPort{"fe80::1%eth0", 80}));
}

TEST(SplitHostPort, RejectsMalformedInput) {
  for (const char* bad : {"", "[", "[]", "[]:80", "[::1", "[::1]80", "[::1]:", "[::1]:0", "[::1]:65536",
                          "[::1]:x", ":80", ":", "host:", "host:0", "host:65536", "host:99999999999", "host:abc",
                          "host:80x", "host:-1", "host:+80", "host: 80"})
    EXPECT_FALSE(split_host_port(bad).has_value()) << '"' << bad << '"';
}

// More than one colon is only a host when it is an IPv6 literal; "host:80:90"
// is neither HOST nor HOST:PORT, and the header promises nullopt for malformed
// input. Accepting it turns a typo into exit 3 ("could not resolve") instead
// of the usage error (exit 2) it is.
TEST(SplitHostPort, RejectsTwoColonsThatAreNotAnIPv6Literal) {
  for (const char* bad : {"example.net:80:90", "192.0.2.1:80:90"})
    EXPECT_FALSE(split_host_port(bad).has_value()) << '"' << bad << '"';
}

TEST(ParseArgs, NeitherFamilyFlagMeansBothFamilies) {
  auto out = parse({"--reflector", "r.example"});
  ASSERT_TRUE(out.options) << out.message;
  EXPECT_FALSE(out.options->ipv4_only);
  EXPECT_FALSE(out.options->ipv6_only);
}

TEST(ParseArgs, Dash4AndDash6RestrictTheFamily) {
  auto v4 = parse({"-4", "--reflector", "r.example"});
  ASSERT_TRUE(v4.options) << v4.message;
  EXPECT_TRUE(v4.options->ipv4_only);
  EXPECT_FALSE(v4.options->ipv6_only);
  auto v6 = parse({"--reflector", "r.example", "-6"});
  ASSERT_TRUE(v6.options) << v6.message;
  EXPECT_TRUE(v6.options->ipv6_only);
  EXPECT_FALSE(v6.options->ipv4_only);
  auto long_form = parse({"--ipv6", "--reflector", "r.example"});
  ASSERT_TRUE(long_form.options) << long_form.message;
  EXPECT_TRUE(long_form.options->ipv6_only);
}

TEST(ParseArgs, Dash4AndDash6TogetherAreAUsageError) {
  expect_usage_error(parse({"-4", "-6", "--reflector", "r.example"}), "excludes");
  expect_usage_error(parse({"--reflector", "r.example", "--ipv6", "--ipv4"}), "excludes");
}

TEST(ParseArgs, HelpMentionsTheFamilyFlags) {
  auto out = parse({"--help"});
  EXPECT_TRUE(contains(out.message, "-4,--ipv4")) << out.message;
  EXPECT_TRUE(contains(out.message, "-6,--ipv6")) << out.message;
}

TEST(ParseArgs, NatLifetimeIsOptInAndBounded) {
  auto outcome = parse({"--reflector", "r"});
  ASSERT_TRUE(outcome.options) << outcome.message;
  EXPECT_TRUE(outcome.options->nat_lifetime_gaps.empty());  // not measured by default

  outcome = parse({"--reflector", "r", "--nat-lifetime"});
  ASSERT_TRUE(outcome.options) << outcome.message;
  EXPECT_EQ(outcome.options->nat_lifetime_gaps, (std::vector<int>{1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120}));

  outcome = parse({"--reflector", "r", "--nat-lifetime", "--nat-lifetime-max", "50"});
  ASSERT_TRUE(outcome.options) << outcome.message;
  EXPECT_EQ(outcome.options->nat_lifetime_gaps, (std::vector<int>{1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 45, 50}));

  outcome = parse({"--reflector", "r", "--nat-lifetime-gaps", "8,2,4,4"});
  ASSERT_TRUE(outcome.options) << outcome.message;
  EXPECT_EQ(outcome.options->nat_lifetime_gaps, (std::vector<int>{2, 4, 8}));  // sorted, unique, implied

  expect_usage_error(parse({"--reflector", "r", "--nat-lifetime-gaps", "0"}), "--nat-lifetime-gaps");
  expect_usage_error(parse({"--reflector", "r", "--nat-lifetime-gaps", "241"}), "--nat-lifetime-gaps");
  expect_usage_error(parse({"--reflector", "r", "--nat-lifetime-gaps", "5,x"}), "--nat-lifetime-gaps");
  expect_usage_error(parse({"--reflector", "r", "--nat-lifetime-max", "1000"}), "--nat-lifetime-max");
  expect_usage_error(parse({"--reflector", "r", "--nat-lifetime-max", "60", "--nat-lifetime-gaps", "5"}),
                     "excludes");
}

TEST(ParseArgs, HairpinIsOptIn) {
  auto outcome = parse({"--reflector", "r"});
  ASSERT_TRUE(outcome.options) << outcome.message;
  EXPECT_FALSE(outcome.options->hairpin);
  outcome = parse({"--reflector", "r", "--hairpin"});
  ASSERT_TRUE(outcome.options) << outcome.message;
  EXPECT_TRUE(outcome.options->hairpin);
}

TEST(ParseArgs, GatewayQueryIsOnUnlessTurnedOff) {
  auto outcome = parse({"--reflector", "r"});
  ASSERT_TRUE(outcome.options) << outcome.message;
  EXPECT_TRUE(outcome.options->query_gateway);
  outcome = parse({"--reflector", "r", "--no-gateway-query"});
  ASSERT_TRUE(outcome.options) << outcome.message;
  EXPECT_FALSE(outcome.options->query_gateway);
}

TEST(ParseArgs, ControlTlsOptions) {
  auto plain = parse({"-r", "192.0.2.10"});
  ASSERT_TRUE(plain.options);
  EXPECT_FALSE(plain.options->control_tls);

  auto tls = parse({"-r", "reflector.example.net", "--control-tls"});
  ASSERT_TRUE(tls.options) << tls.message;
  EXPECT_TRUE(tls.options->control_tls);
  EXPECT_TRUE(tls.options->reflector_pin.empty());

  // A pin as `openssl x509 -fingerprint -sha256` prints it implies TLS.
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += std::string(i == 0 ? "" : ":") + "AB";
  auto pinned = parse({"-r", "192.0.2.10", "--reflector-pin", colons});
  ASSERT_TRUE(pinned.options) << pinned.message;
  EXPECT_TRUE(pinned.options->control_tls);
  std::string canonical;
  for (int i = 0; i < 32; ++i) canonical += "ab";
  EXPECT_EQ(pinned.options->reflector_pin, canonical);

  expect_usage_error(parse({"-r", "192.0.2.10", "--reflector-pin", "abcd"}), "not a SHA-256");
  expect_usage_error(parse({"-r", "192.0.2.10", "--reflector-ca", "/nonexistent/ca.pem"}), "cannot be read");

  auto ca = parse({"-r", "192.0.2.10", "--reflector-ca", "/dev/null"});
  ASSERT_TRUE(ca.options) << ca.message;
  EXPECT_TRUE(ca.options->control_tls);
  EXPECT_EQ(ca.options->reflector_ca, "/dev/null");

  expect_usage_error(parse({"-r", "192.0.2.10", "--reflector-ca", "/dev/null", "--reflector-pin", colons}),
                     "excludes");
}

}  // namespace
}  // namespace vpncheck::client
