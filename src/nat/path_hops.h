// The routers between this computer and the reflector, named by TTL-limited
// datagrams (as tracepath does), and what their addresses say about the NATs
// on the way. Pure: the I/O that sends the datagrams and reads the ICMP
// "time exceeded" answers is src/nat/hop_trace.h.
//
// Why the addresses tell: a NAT's inside is numbered from private space
// (RFC 1918) or, for a carrier's NAT, from the shared address space
// 100.64.0.0/10 that RFC 6598 sets aside for exactly that. So when the first
// router is private (your router) and a later router, still before the first
// public one, answers from private or shared space, another NAT sits between
// you and the Internet.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/nat/port_mapping.h"

namespace vpncheck::nat {

// Hops asked: home router, a provider's modem-router, a carrier's NAT, and
// spare for an access router in between.
inline constexpr int kMaxHopTtl = 6;

struct Hop {
  int ttl = 0;
  std::optional<Ipv4> address;  // who answered "time exceeded"; nullopt: nobody did
  // The answer came from the destination itself (ICMP port or protocol
  // unreachable): the path ends here.
  bool destination = false;
  // --redact dropped a public address; the hop still counts as public.
  bool address_redacted = false;
};

enum class HopClass { silent, private_space, shared_space, public_space };
std::string_view to_string(HopClass c);  // "silent", "private", "shared", "public"
HopClass classify_hop(const Hop& hop);

struct HopFinding {
  std::vector<Hop> hops;           // in TTL order, up to the last that answered
  std::optional<bool> double_nat;  // nullopt: the hops do not tell
  std::optional<bool> cgnat;       // true: a NAT hop in 100.64.0.0/10; false: none before public space
  std::string explanation;         // one sentence naming the hops that decided it
};

// `hops`: one entry per TTL asked, any order. `destination`: the reflector's
// address (a hop from it ends the path). Decides only from hops that answered;
// a silent first router, or a path where every hop after it is silent, says
// nothing (nullopt), never "no second NAT".
HopFinding classify_hops(std::vector<Hop> hops, const std::optional<Ipv4>& destination);

// The report's double_nat and cgnat from both sources: the gateway's
// port-mapping answer (classify_topology) and the hops. One that is silent
// defers to the other; when both speak and disagree, nothing is claimed and
// `explanation` says so.
struct CombinedTopology {
  std::optional<bool> double_nat;
  std::optional<bool> cgnat;
  std::string explanation;  // empty when there is nothing to add to the sources' own lines
};
CombinedTopology combine_topology(const std::optional<TopologyFinding>& gateway, const std::optional<HopFinding>& hops);

}  // namespace vpncheck::nat
