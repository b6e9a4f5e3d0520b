#include "src/run/plan.h"

#include <gtest/gtest.h>

#include <set>

#include "client_fixtures.h"
#include "tls_capabilities.h"
#include "probes/registry.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
// A current reflector: it publishes its certificate's fingerprint, so TLS-wrapped variants run.
constexpr auto listening_everywhere = fixtures::listening_everywhere_with_tls;
constexpr auto listening_on = fixtures::listening_on_with_tls;
using fixtures::with_tls;
using probes::Transport;

std::vector<const probes::ProtocolModule*> registered() {
  auto all = probes::all_protocols();
  return {all.begin(), all.end()};
}

const PlannedProbe* find_probe(const std::vector<PlannedProbe>& plan, std::string_view id, Transport t,
                               std::uint16_t port, ProbeKind kind) {
  for (const auto& p : plan)
    if (p.module->id == id && p.variant.transport == t && p.variant.port == port && p.kind == kind) return &p;
  return nullptr;
}

// Raw IP variants (PPTP's GRE) get no control probe: IP protocols are told
// apart by their number alone, so same-size random bytes would prove nothing.
TEST(MakePlan, EveryRegisteredVariantGetsAGenuineAndAControlProbe) {
  // Except raw IP variants: their protocol number is their signature, so a
  // random control probe would prove nothing; they get the genuine one only.
  auto plan = make_plan(registered(), listening_everywhere());
  std::size_t expected = 0;
  for (const auto* module : probes::all_protocols()) {
    for (const auto& v : module->variants) {
      // Raw IP protocols are told apart by protocol number alone: no control probe.
      const bool raw = v.transport == probes::Transport::ip;
      expected += raw ? 1 : 2;
      for (auto kind : {ProbeKind::genuine, ProbeKind::control}) {
        if (raw && kind == ProbeKind::control) continue;
        std::size_t matches = 0;
        for (const auto& p : plan)
          if (p.module == module && p.variant.same_place(v) && p.variant.standard == v.standard && p.kind == kind)
            ++matches;
        EXPECT_EQ(matches, raw && kind == ProbeKind::control ? 0U : 1U)
            << module->id << " " << v.piece << " " << describe(v) << " " << to_string(kind);
      }
    }
  }
  EXPECT_EQ(plan.size(), expected);
  for (const auto& p : plan) EXPECT_FALSE(p.not_run_reason.has_value()) << p.name();
}

TEST(MakePlan, IndicesAreDistinctAndDense) {
  // Indices are what the reflector attributes arrivals by; the client maps them
  // straight back to positions in the plan.
  auto plan = make_plan(registered(), listening_everywhere());
  std::set<std::uint16_t> seen;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(plan[i].index, i) << plan[i].name();
    EXPECT_TRUE(seen.insert(plan[i].index).second) << "duplicate index " << plan[i].index;
  }
}

TEST(MakePlan, GenuineAndControlOfOneVariantHaveDistinctIndices) {
  auto plan = make_plan({&fixtures::wireguard()}, listening_everywhere());
  const auto* genuine = find_probe(plan, "wireguard", Transport::udp, 51820, ProbeKind::genuine);
  const auto* control = find_probe(plan, "wireguard", Transport::udp, 51820, ProbeKind::control);
  ASSERT_NE(genuine, nullptr);
  ASSERT_NE(control, nullptr);
  EXPECT_NE(genuine->index, control->index);
}

TEST(MakePlan, PortsTheReflectorDoesNotListenOnAreNotRun) {
  auto caps = listening_on({51820, 1194}, {443});
  caps.pieces = listening_everywhere().pieces;
  auto plan = make_plan(registered(), caps);
  for (const auto& p : plan) {
    bool listening = (p.variant.transport == Transport::udp && (p.variant.port == 51820 || p.variant.port == 1194)) ||
                     (p.variant.transport == Transport::tcp && p.variant.port == 443);
    EXPECT_EQ(p.not_run_reason.has_value(), !listening) << p.name();
  }
  const auto* wg53 = find_probe(plan, "wireguard", Transport::udp, 53, ProbeKind::control);
  ASSERT_NE(wg53, nullptr);
  ASSERT_TRUE(wg53->not_run_reason.has_value());
  EXPECT_TRUE(contains(*wg53->not_run_reason, "udp 53")) << *wg53->not_run_reason;
}

TEST(MakePlan, ListeningIsPerTransportNotJustPerPort) {
  // OpenVPN uses port 1194 on both UDP and TCP; a reflector with only TCP 1194
  // cannot test UDP 1194.
  auto plan = make_plan({&fixtures::openvpn()}, listening_on({}, {1194}));
  const auto* udp = find_probe(plan, "openvpn", Transport::udp, 1194, ProbeKind::genuine);
  const auto* tcp = find_probe(plan, "openvpn", Transport::tcp, 1194, ProbeKind::genuine);
  ASSERT_NE(udp, nullptr);
  ASSERT_NE(tcp, nullptr);
  EXPECT_TRUE(udp->not_run_reason.has_value());
  EXPECT_FALSE(tcp->not_run_reason.has_value());
}

// A port the reflector could not bind: not run, with the reflector's reason,
// and a protocol left with nothing to test is inconclusive saying so.
TEST(MakePlan, APortTheReflectorCouldNotBindIsNotRunWithItsReason) {
  auto caps = listening_on({51820, 443, 1194}, {1194, 443});
  caps.unavailable_ports = {{Transport::udp, 53, "address in use: another program listens there"},
                            {Transport::udp, 1701, "address in use: another program listens there"}};
  auto plan = make_plan(registered(), caps);
  const auto* wg53 = find_probe(plan, "wireguard", Transport::udp, 53, ProbeKind::genuine);
  ASSERT_NE(wg53, nullptr);
  ASSERT_TRUE(wg53->not_run_reason.has_value());
  EXPECT_EQ(*wg53->not_run_reason,
            "the reflector could not listen on UDP 53: address in use: another program listens there");
  const auto* l2tp = find_probe(plan, "l2tp", Transport::udp, 1701, ProbeKind::genuine);
  ASSERT_NE(l2tp, nullptr);
  ASSERT_TRUE(l2tp->not_run_reason.has_value());


  // L2TP has one port: with it unavailable nothing is tested, and the verdict says why.
  auto a = assess(fixtures::l2tp(), fixtures::scenario(fixtures::l2tp(), caps, [](const probes::ProbeVariant&, ProbeKind) {
                    return fixtures::Fate::answered;
                  }),
                  true);
  EXPECT_EQ(a.verdict, Verdict::inconclusive);
  EXPECT_TRUE(contains(a.summary, "could not listen on UDP 1701: address in use")) << a.summary;
}

TEST(MakePlan, NoCapabilitiesMeansNothingRuns) {
  auto plan = make_plan(registered(), probes::Capabilities{});
  ASSERT_FALSE(plan.empty());
  for (const auto& p : plan) EXPECT_TRUE(p.not_run_reason.has_value()) << p.name();
}

TEST(MakePlan, NoProtocolsMeansAnEmptyPlan) { EXPECT_TRUE(make_plan({}, listening_everywhere()).empty()); }

TEST(PlannedProbe, NamesSayProtocolTransportPortAndKind) {
  auto plan = make_plan(registered(), listening_everywhere());
  const auto* genuine = find_probe(plan, "wireguard", Transport::udp, 51820, ProbeKind::genuine);
  const auto* control = find_probe(plan, "openvpn", Transport::tcp, 443, ProbeKind::control);
  ASSERT_NE(genuine, nullptr);
  ASSERT_NE(control, nullptr);
  EXPECT_EQ(genuine->name(), "wireguard/udp/51820");
  EXPECT_EQ(control->name(), "openvpn/tls-auth/tcp/443/control");  // a protocol's forms name themselves
}

// A form older reflectors do not recognise runs only when the reflector lists it.
TEST(MakePlan, APieceTheReflectorMustListRunsOnlyWhenListed) {
  auto caps = listening_everywhere();
  caps.pieces.clear();
  auto count_run = [](const std::vector<PlannedProbe>& plan, std::string_view piece) {
    return std::count_if(plan.begin(), plan.end(),
                         [&](const PlannedProbe& p) { return p.variant.piece == piece && !p.not_run_reason; });
  };
  auto older = make_plan({&fixtures::openvpn()}, caps);
  EXPECT_EQ(count_run(older, "tls-auth"), 6);
  EXPECT_EQ(count_run(older, "tls-crypt-v2"), 0);
  for (const auto& p : older) {
    if (p.variant.piece == "plain") {
      EXPECT_EQ(*p.not_run_reason, "the reflector does not recognise this OpenVPN probe (an older vpncheck-reflector)");
    }
  }
  caps.pieces = {"openvpn/tls-crypt-v2"};
  auto newer = make_plan({&fixtures::openvpn()}, caps);
  EXPECT_EQ(count_run(newer, "tls-crypt-v2"), 6);
  EXPECT_EQ(count_run(newer, "plain"), 0);
}

TEST(SelectProtocols, EmptySelectionIsEveryRegisteredProtocolInRegistryOrder) {
  std::string error;
  auto selected = select_protocols({}, error);
  ASSERT_TRUE(selected.has_value()) << error;
  EXPECT_EQ(*selected, registered());
}

TEST(SelectProtocols, KeepsRegistryOrderWhateverTheArgumentOrder) {
  std::string error;
  // Every registered id, last first.
  std::vector<std::string> reversed;
  for (const auto* m : registered()) reversed.insert(reversed.begin(), std::string(m->id));
  ASSERT_GT(reversed.size(), 1U);
  auto selected = select_protocols(reversed, error);
  ASSERT_TRUE(selected.has_value()) << error;
  EXPECT_EQ(*selected, registered());
  auto only = select_protocols({"openvpn"}, error);
  ASSERT_TRUE(only.has_value()) << error;
  ASSERT_EQ(only->size(), 1U);
  EXPECT_EQ(only->front()->id, "openvpn");
}

TEST(SelectProtocols, UnknownIdIsAnErrorNamingIt) {
  std::string error;
  auto selected = select_protocols({"wireguard", "openconnect"}, error);
  EXPECT_FALSE(selected.has_value());
  EXPECT_TRUE(contains(error, "openconnect")) << error;
}

TEST(MakePlan, DefaultFamilyIsIPv4) {
  for (const auto& p : make_plan(registered(), listening_everywhere())) EXPECT_EQ(p.family, Family::ipv4);
}

TEST(MakePlan, OnePlanPerFamilyWithIndicesUniqueAcrossFamilies) {
  auto single = make_plan(registered(), listening_everywhere());
  auto both = make_plan(registered(), listening_everywhere(), {Family::ipv4, Family::ipv6});
  ASSERT_EQ(both.size(), 2 * single.size());
  std::set<std::uint16_t> indices;
  for (std::size_t i = 0; i < both.size(); ++i) {
    EXPECT_EQ(both[i].index, i) << both[i].name();  // dense: the runner and observations index by it
    indices.insert(both[i].index);
    const auto& same = single[i % single.size()];
    EXPECT_EQ(both[i].family, i < single.size() ? Family::ipv4 : Family::ipv6);
    EXPECT_EQ(both[i].name(), same.name());  // the same probes, once per family
    if (both[i].family == Family::ipv6 && both[i].variant.transport == probes::Transport::ip)
      EXPECT_TRUE(both[i].not_run_reason.has_value()) << "raw IP probes run over IPv4 only";
    else
      EXPECT_EQ(both[i].not_run_reason.has_value(), same.not_run_reason.has_value());
  }
  EXPECT_EQ(indices.size(), both.size());
}

TEST(MakePlan, IPv6OnlyPlanStartsAtZero) {
  auto v6 = make_plan(registered(), listening_everywhere(), std::vector<Family>{Family::ipv6});
  ASSERT_FALSE(v6.empty());
  EXPECT_EQ(v6.front().index, 0);
  for (const auto& p : v6) EXPECT_EQ(p.family, Family::ipv6);
}

TEST(MakePlan, FirstIndexOffsetsAFamilysPlan) {
  auto part = make_plan(registered(), listening_everywhere(), Family::ipv6, 100);
  ASSERT_FALSE(part.empty());
  EXPECT_EQ(part.front().index, 100);
  EXPECT_EQ(part.back().index, 100 + part.size() - 1);
}

TEST(Family, ReportNames) {
  EXPECT_EQ(to_string(Family::ipv4), "ipv4");
  EXPECT_EQ(to_string(Family::ipv6), "ipv6");
  EXPECT_EQ(display_name(Family::ipv6), "IPv6");
}


// A two-piece protocol with a raw IP piece, to test planning rules that no
// simple protocol exercises.
constexpr probes::ProbeVariant kPieces[] = {
    {Transport::udp, 500, true, "ike"},
    {Transport::ip, 50, true, "esp"},
};
const probes::ProtocolModule kTwoPieceModule{
    .id = "twopiece",
    .title = "Two-piece",
    .description = "test module",
    .variants = kPieces,
    .build_request = [](const probes::ProbeContext&, const probes::RandomFill&) { return probes::Bytes(40, 1); },
    .parse_request = [](probes::ByteView, const probes::ArrivalContext&) -> std::optional<probes::ParsedRequest> {
      return std::nullopt;
    },
    .build_reply = [](probes::ByteView, const probes::ParsedRequest&, const probes::ArrivalContext&,
                      const probes::RandomFill&) { return probes::Bytes{}; },
    .is_reply_to = [](probes::ByteView, probes::ByteView) { return false; },
    .advice_use_variant = [](const probes::ProbeVariant&) { return std::string(); },
    .advice_signature_blocked = "",
};

TEST(MakePlan, PiecesAreNamedAndRawPiecesGetNoControlProbe) {
  probes::Capabilities caps = listening_on({500}, {});
  caps.raw_protocols = {"esp"};
  auto plan = make_plan({&kTwoPieceModule}, caps);
  std::vector<std::string> names;
  for (const auto& p : plan) {
    names.push_back(p.name());
    EXPECT_FALSE(p.not_run_reason) << p.name();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"twopiece/ike/udp/500", "twopiece/ike/udp/500/control",
                                             "twopiece/esp/ip/50"}));
}

TEST(MakePlan, RawPieceIsNotRunWhenTheReflectorHasNoRawListener) {
  auto plan = make_plan({&kTwoPieceModule}, listening_on({500}, {}));
  ASSERT_EQ(plan.size(), 3U);
  EXPECT_FALSE(plan[0].not_run_reason);
  ASSERT_TRUE(plan[2].not_run_reason);
  EXPECT_NE(plan[2].not_run_reason->find("no raw ESP (IP protocol 50) listener"), std::string::npos)
      << *plan[2].not_run_reason;
}

// Over IPv6 a raw piece runs only when the reflector offers it over IPv6
// (raw_protocols_v6): one that opened a raw IPv4 listener but no IPv6 one
// must not get IPv6 raw probes.
TEST(MakePlan, RawPieceRunsOverIpv6OnlyWhereTheReflectorOffersItOverIpv6) {
  probes::Capabilities caps = listening_on({500}, {});
  caps.raw_protocols = {"esp"};
  auto v4_only = make_plan({&kTwoPieceModule}, caps, Family::ipv6);
  ASSERT_EQ(v4_only.size(), 3U);
  EXPECT_FALSE(v4_only[0].not_run_reason);
  ASSERT_TRUE(v4_only[2].not_run_reason);
  EXPECT_NE(v4_only[2].not_run_reason->find("no raw ESP (IP protocol 50) listener over IPv6"), std::string::npos)
      << *v4_only[2].not_run_reason;

  caps.raw_protocols_v6 = {"esp"};
  auto both = make_plan({&kTwoPieceModule}, caps, std::vector<Family>{Family::ipv4, Family::ipv6});
  ASSERT_EQ(both.size(), 6U);
  EXPECT_EQ(both[5].family, Family::ipv6);
  EXPECT_EQ(both[5].name(), "twopiece/esp/ip/50");
  EXPECT_FALSE(both[5].not_run_reason);
  EXPECT_FALSE(both[2].not_run_reason);

  caps.raw_protocols.clear();  // IPv6 raw only: IPv4 raw is not run, IPv6 raw is
  auto v6_only = make_plan({&kTwoPieceModule}, caps, std::vector<Family>{Family::ipv4, Family::ipv6});
  EXPECT_TRUE(v6_only[2].not_run_reason);
  EXPECT_FALSE(v6_only[5].not_run_reason);
}

// PPTP's GRE runs over IPv6 too, where the reflector offers it there.
TEST(MakePlan, GreRunsOverIpv6OnlyWhereTheReflectorOffersIt) {
  probes::Capabilities caps;
  caps.tcp_ports = {1723};
  caps.raw_protocols = {"gre"};
  auto pptp = probes::find_protocol("pptp");
  ASSERT_NE(pptp, nullptr);
  auto gre_reason = [&](const std::vector<PlannedProbe>& plan) -> std::optional<std::string> {
    for (const auto& p : plan)
      if (p.variant.transport == probes::Transport::ip) return p.not_run_reason.value_or("");
    ADD_FAILURE() << "no GRE probe planned";
    return std::nullopt;
  };
  auto v4_only = gre_reason(make_plan({pptp}, caps, Family::ipv6));
  ASSERT_TRUE(v4_only.has_value());
  EXPECT_NE(v4_only->find("listener over IPv6"), std::string::npos) << *v4_only;
  caps.raw_protocols_v6 = {"gre"};
  EXPECT_EQ(gre_reason(make_plan({pptp}, caps, Family::ipv6)), std::string{});
  for (int p : {50, 51, 47}) EXPECT_TRUE(raw_runs_over_ipv6(probes::ProbeVariant{probes::Transport::ip, static_cast<std::uint16_t>(p), true}));
  EXPECT_FALSE(raw_runs_over_ipv6(probes::ProbeVariant{probes::Transport::ip, 4, true}));
  EXPECT_FALSE(raw_runs_over_ipv6(probes::ProbeVariant{probes::Transport::udp, 50, true}));
}

}  // namespace
}  // namespace vpncheck::client
