// How the reports name a network behind NAT64: the fact and its prefix, the
// advice, and which raw protocols the translator carried, from the probes.
#include <gtest/gtest.h>

#include <sstream>

#include "probes/registry.h"
#include "report_fixtures.h"
#include "src/report/junit_report.h"
#include "src/report/markdown_report.h"
#include "src/report/text_report.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;

// A raw IPv6 probe of `module`'s IP-protocol variant `number`: it reached the
// reflector (an arrival recorded) or was lost.
ProbeResult raw_probe6(std::string_view module_id, std::uint16_t number, bool reached) {
  const auto* module = probes::find_protocol(module_id);
  ProbeResult r;
  r.probe.module = module;
  for (const auto& v : module->variants)
    if (v.transport == probes::Transport::ip && v.port == number) r.probe.variant = v;
  r.probe.family = Family::ipv6;
  r.client.outcome = reached ? probes::Outcome::reply : probes::Outcome::timeout;
  r.client.sends = 1;
  if (reached) {
    probes::Observation o;
    o.transport = probes::Transport::ip;
    o.source = {"203.0.113.1", 0};
    r.arrivals.push_back(o);
  }
  return r;
}

Report behind_nat64(bool gre_reached) {
  Report r = fixtures::realistic_report();
  r.reflector_address = "2001:db8:64::cb00:7105";
  r.nat64 = Nat64Finding{true, "2001:db8:64::/96", "reflector_address", "203.0.113.5"};
  ProtocolAssessment pptp;
  pptp.module = probes::find_protocol("pptp");
  pptp.probes.push_back(raw_probe6("pptp", 47, gre_reached));
  ProtocolAssessment ipsec;
  ipsec.module = probes::find_protocol("ipsec");
  ipsec.probes.push_back(raw_probe6("ipsec", 50, true));
  r.protocols.push_back(pptp);
  r.protocols.push_back(ipsec);
  return r;
}

std::string text(const Report& r) {
  std::ostringstream out;
  write_text_report(out, r, {false, false});
  return out.str();
}

TEST(Nat64Report, NamesTheTranslatorItsPrefixAndTheAdvice) {
  const auto lines = nat64_lines(behind_nat64(true));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(contains(lines[0], "IPv6-only behind NAT64")) << lines[0];
  EXPECT_TRUE(contains(lines[0], "its IPv4 address 203.0.113.5, under the prefix 2001:db8:64::/96 (from the "
                                 "reflector's address)"))
      << lines[0];
  EXPECT_TRUE(contains(lines[1], "IPv4 literals")) << lines[1];
  EXPECT_TRUE(contains(lines[2], "This translator carried GRE (IP protocol 47) and ESP (IP protocol 50)")) << lines[2];
  const auto t = text(behind_nat64(true));
  EXPECT_TRUE(contains(t, "NAT64:\n  This network is IPv6-only behind NAT64")) << t;
}

TEST(Nat64Report, ARawProtocolTheTranslatorLostIsNamedWithTheReason) {
  const auto lines = nat64_lines(behind_nat64(false));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_TRUE(contains(lines[2], "GRE (IP protocol 47) did not get through the translator: NAT64s that follow "
                                 "RFC 6146 translate only TCP, UDP and ICMP"))
      << lines[2];
  EXPECT_TRUE(contains(lines[3], "This translator carried ESP (IP protocol 50) to")) << lines[3];
}

TEST(Nat64Report, UnknownPrefixAndDns64Source) {
  Report r = behind_nat64(true);
  r.nat64->prefix.reset();
  r.nat64->source.reset();
  EXPECT_TRUE(contains(nat64_lines(r)[0], "its prefix is unknown")) << nat64_lines(r)[0];
  r.nat64->prefix = "64:ff9b::/96";
  r.nat64->source = "dns64";
  EXPECT_TRUE(contains(nat64_lines(r)[0], "64:ff9b::/96 (from DNS64's answer for ipv4only.arpa)"))
      << nat64_lines(r)[0];
}

TEST(Nat64Report, NothingWithoutNat64) {
  Report r = fixtures::realistic_report();
  EXPECT_TRUE(nat64_lines(r).empty());
  r.nat64 = Nat64Finding{};  // an IPv6 session, natively
  EXPECT_TRUE(nat64_lines(r).empty());
  EXPECT_FALSE(contains(text(r), "NAT64"));
}

TEST(Nat64Report, MarkdownAndJunitSayIt) {
  const Report r = behind_nat64(true);
  std::ostringstream md, xml;
  write_markdown_report(md, r);
  write_junit_report(xml, r);
  EXPECT_TRUE(contains(md.str(), "**NAT64:**")) << md.str();
  EXPECT_TRUE(contains(md.str(), "- This network is IPv6-only behind NAT64")) << md.str();
  EXPECT_TRUE(contains(xml.str(), "<property name=\"client.nat64.detected\" value=\"true\"/>")) << xml.str();
  EXPECT_TRUE(contains(xml.str(), "<property name=\"client.nat64.prefix\" value=\"2001:db8:64::/96\"/>")) << xml.str();
}

}  // namespace
}  // namespace vpncheck::client
