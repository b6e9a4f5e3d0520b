// NAT behaviour from measurements (issue #5; PROTOCOLS.md §10): RFC 4787
// mapping and filtering classes, port preservation, the UDP binding lifetime,
// and the advice they turn into. Pure: the runner measures, these functions
// decide. They never guess: when a test could not be run they say which, and
// return the classes that are still possible instead of picking one.
//
// Endpoints: the reflector's primary address A1 with primary port P1, its
// alternate port P2 (same address) and, when it has one (--alt-address), its
// alternate address A2.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "probes/observation.h"
#include "src/nat/evidence.h"
#include "src/nat/port_mapping.h"

namespace vpncheck::nat {

using probes::Endpoint;

// RFC 4787 §4.1 (mapping) and §5 (filtering) share the three classes.
enum class Behaviour { endpoint_independent, address_dependent, address_and_port_dependent };
// The report's spelling (schema nat.mapping / nat.filtering): "endpoint_independent", ...
std::string_view to_string(Behaviour b);
// Plain words: "endpoint-independent", ...
std::string_view describe(Behaviour b);

// Stable ids of the sub-tests, used in Classification::not_run.
namespace test_id {
constexpr std::string_view kMappingPrimary = "mapping.primary";              // socket -> (A1,P1)
constexpr std::string_view kMappingOtherPort = "mapping.other_port";         // same socket -> (A1,P2)
constexpr std::string_view kMappingOtherAddress = "mapping.other_address";   // same socket -> (A2,P1)
constexpr std::string_view kFilteringPrimary = "filtering.primary";          // (A1,P1) answers
constexpr std::string_view kFilteringOtherPort = "filtering.other_port";     // unsolicited from (A1,P2)
constexpr std::string_view kFilteringOtherAddress = "filtering.other_address";  // unsolicited from A2
}  // namespace test_id

struct Classification {
  // Set only when the measurements decide it.
  std::optional<Behaviour> behaviour;
  // Classes consistent with what was measured (one element when decided; all
  // three when nothing could be measured; empty when the results contradict
  // each other).
  std::vector<Behaviour> possible;
  // test_id values of the sub-tests that were not run (reflector lacks the
  // second address/port, or the test failed to run), in a fixed order.
  std::vector<std::string> not_run;
  // test_id values of the sub-tests that ran but decided nothing: their
  // packet never came, and on this lossy path that could be chance.
  std::vector<std::string> lossy;
  std::string explanation;  // one sentence
};

// External endpoints the reflector observed for ONE local socket sending to
// each destination; nullopt = that test was not run (or nothing arrived).
struct MappingSamples {
  std::optional<Endpoint> to_primary;        // (A1,P1)
  std::optional<Endpoint> to_other_port;     // (A1,P2)
  std::optional<Endpoint> to_other_address;  // (A2,P1)
};
// (A1,P1) vs (A1,P2) differ: address-and-port-dependent, whatever else.
// Equal, and (A2,P1) equal too: endpoint-independent; (A2,P1) differs:
// address-dependent; (A2,P1) missing: endpoint-independent or address-dependent.
// Only (A1,P1) and (A2,P1): equal -> endpoint-independent, differ -> ADM or APDM.
Classification classify_mapping(const MappingSamples& samples);

// Which replies reached the client after it sent to (A1,P1) from one fresh socket;
// nullopt = not run (or not determined). classify_filtering takes a false at
// face value: weigh_filtering first turns the ones loss could explain into
// "not determined".
struct FilteringSamples {
  std::optional<bool> primary_reply;              // (A1,P1) answered us: the baseline
  std::optional<bool> from_other_port;            // unsolicited from (A1,P2)
  std::optional<bool> from_other_address;         // unsolicited from A2 (any port)
  // Set by weigh_filtering: that packet never came, but loss could explain it
  // (the value above is then nullopt).
  bool other_port_lossy = false;
  bool other_address_lossy = false;
};
// How many requests asking for each unsolicited packet are known to have
// reached the reflector (their direct answer came): the tries against it.
struct FilteringTries {
  std::size_t other_port = 0;
  std::size_t other_address = 0;
};
// Keeps a false only where chance_by_loss is below kChanceThreshold; adds
// one Evidence per false to `evidence`.
FilteringSamples weigh_filtering(FilteringSamples samples, const FilteringTries& tries, const LossEstimate& loss,
                                 std::vector<Evidence>& evidence);
// Baseline false: nothing comes back at all, so nothing can be classified.
// Other address reached: endpoint-independent (and other port must have too,
// else the results contradict each other: behaviour unset, possible empty).
// Other address blocked: other port reached -> address-dependent, blocked ->
// address-and-port-dependent. Missing tests narrow to what is still possible.
Classification classify_filtering(const FilteringSamples& samples);

// One socket's local port and the source port the reflector saw.
struct PortSample {
  std::uint16_t local_port = 0;
  std::uint16_t observed_port = 0;
};
// true when every sample kept its port, false if any did not, nullopt with no samples.
std::optional<bool> port_preservation(std::span<const PortSample> samples);

// ---------------------------------------------------------------- UDP binding lifetime

// One idle gap tried: after `gap_s` seconds of silence the reflector sent a
// packet to the mapping; reached = whether it arrived. nullopt = the trial
// could not be completed (e.g. control session lost) and is ignored.
struct LifetimeTrial {
  int gap_s = 0;
  std::optional<bool> reached;
  // Packets the reflector is known to have sent after the gap (its answer to
  // the request came): the tries against a false.
  std::size_t tries = 0;
};

struct LifetimeEstimate {
  std::optional<int> longest_working_s;  // longest gap whose packet arrived
  std::optional<int> shortest_failed_s;  // shortest gap whose packet did not arrive
  // Longest gap g such that every gap <= g arrived: the lifetime is at least
  // this. Equals longest_working_s unless the results are non-monotonic.
  std::optional<int> reliable_s;
  // Every working gap is shorter than every failed gap.
  bool consistent = true;
  // All trials arrived: the lifetime exceeds the longest gap tried (a lower bound only).
  bool all_reached = false;
  // No trial arrived: the lifetime is below the shortest gap tried (or inbound
  // is blocked altogether; the filtering baseline tells which).
  bool none_reached = false;
  bool measured = false;  // at least one trial completed
  // Gaps whose packets never came, where loss could explain it: not counted.
  std::vector<int> lossy_gaps_s;
  std::string explanation;
  // The value for the report's nat.udp_binding_lifetime_s: reliable_s (a
  // conservative lower bound); nullopt when not measured or nothing arrived.
  std::optional<int> report_value() const { return reliable_s; }
};
// Trials in any order; duplicates of one gap are combined (any failure counts
// as failure for that gap, which keeps the estimate conservative).
LifetimeEstimate estimate_lifetime(std::span<const LifetimeTrial> trials);
// The same from raw trials on a path that may lose packets: per gap, any
// arrival means the mapping was alive; a gap counts as expired only when
// its tries all failing by loss is unlikely (else it is left out and listed
// in lossy_gaps_s). Adds one Evidence per gap without an arrival.
LifetimeEstimate assess_lifetime(std::span<const LifetimeTrial> trials, const LossEstimate& loss,
                                 std::vector<Evidence>& evidence);

// Default gaps for --nat-lifetime, seconds (bounded by 120 s). Every second
// up to 5 s: some NATs (mobile carriers, short conntrack policies) forget an
// idle mapping within seconds, and a keepalive below their lifetime can only
// be derived from a shorter gap that survived.
constexpr int kDefaultLifetimeGaps[] = {1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120};

// A keepalive interval safely below a lifetime of `lifetime_s` seconds that
// is known to survive: lifetime minus max(lifetime/6, min(5, lifetime/2)),
// at least 1. E.g. 30 -> 25, 60 -> 50, 120 -> 100, 10 -> 5, 5 -> 3.
int safe_keepalive_s(int lifetime_s);

struct KeepaliveAdvice {
  int basis_s = 0;  // the lifetime the values are derived from (reliable_s)
  bool needed = true;  // false when the lifetime reached the longest gap tried (>= 120 s by default)
  int wireguard_persistent_keepalive_s = 25;  // never above 25, WireGuard's own recommendation
  int ipsec_keepalive_s = 20;                 // strongSwan charon.keep_alive (default 20 s)
  int openvpn_ping_s = 10;                    // OpenVPN "keepalive <ping> <restart>"
  int openvpn_restart_s = 60;
  std::vector<std::string> lines;  // paste-able: "WireGuard: PersistentKeepalive = 25", ...
};
// nullopt when there is no lower bound to build on (nothing measured, or no gap survived).
std::optional<KeepaliveAdvice> keepalive_advice(const LifetimeEstimate& estimate);

// ---------------------------------------------------------------- MTU and fragments

struct PathFacts {
  std::optional<bool> fragments_pass;  // IPv4 fragments reach the far end
  std::optional<int> path_mtu;         // largest IP packet that passes unfragmented
  // The largest size known to pass: a lower bound, also when path_mtu is not
  // determined (hand-made facts may leave it unset and give path_mtu only).
  std::optional<int> mtu_at_least;
  // The chance that the "no" behind fragments_pass == false, or behind
  // path_mtu (the next size up did not pass), came from loss alone; 0 when
  // certain (assess_path sets them from the tries).
  double fragments_chance = 0;
  double mtu_chance = 0;
  // Sizes above path_mtu were lost and nobody said why: no router's ICMP
  // "fragmentation needed" and no interface of this host below them (a
  // path-MTU black hole; its chance is mtu_chance). false: such a report
  // came, so senders learn the path MTU and fragment for it. nullopt: no
  // size above path_mtu failed, or not known (hand-made facts).
  std::optional<bool> black_hole;
  // Set when a fact was left undetermined because what did not come back
  // could be chance: the per-packet loss the tests measured.
  std::optional<double> lossy;
};

// What the path test measured (nat_runner's path test against the NAT test
// service's echo): DF packets of several sizes echoed at the same size with
// DF, and one 2000-byte datagram that must travel as IP fragments both ways.
struct PathSamples {
  struct DontFragmentProbe {
    int ip_size = 0;      // the IPv4 packet's size, header included
    bool echoed = false;  // its DF echo of the same size came back
    std::size_t tries = 0;  // unechoed: the tries whose echo had time to come
  };
  std::vector<DontFragmentProbe> dont_fragment;
  std::optional<bool> fragments_arrived;   // the reflector acknowledged the fragmented datagram; nullopt: not run
  std::optional<bool> fragments_returned;  // its fragmented echo came back
  // Not returned: the tries against it (not acknowledged: every try whose
  // answer had time to come; acknowledged: the acknowledged tries).
  std::size_t fragment_tries = 0;
  std::optional<int> largest_fragment;     // the reflector reassembled it from fragments of at most this size
  // This host's MTU towards the reflector (where its datagrams are first fragmented).
  std::optional<int> local_mtu;
  // A "fragmentation needed" report: from a router (ICMP) or from this host's own interface.
  std::optional<int> reported_mtu;
  std::optional<std::string> reported_by;  // the router's address; nullopt: this host
};

struct PathAssessment {
  PathFacts facts;                     // fragments_pass; path_mtu = largest DF size that made the round trip
  std::optional<int> smallest_failed;  // the next size tried above path_mtu, which did not
  std::string fragments_lost;          // "out", "back" or "" (not lost, or unknown)
  std::vector<Evidence> evidence;      // the sizes and the fragmented datagram that never came back
  std::vector<std::string> lines;      // the facts in plain words
};
// Never a guess: when nothing came back at all (the service did not answer)
// nothing about the path is decided, and fragments count as dropped on the
// way out only when DF packets made the round trip. A size that never came
// back bounds the path MTU only when a router (or this host) reported the
// MTU or its tries all failing by `loss` is unlikely; the same for
// fragments. Otherwise the fact is left undetermined (facts.lossy).
PathAssessment assess_path(const PathSamples& samples, const LossEstimate& loss);

struct ProtocolMtuAdvice {
  std::string protocol;         // report id: "openvpn", "wireguard", "ipsec", "l2tp"
  std::optional<bool> breaks;   // default full-size packets would be dropped; nullopt unknown
  std::string reason;           // one sentence
  std::vector<std::string> advice;  // settings that fix it (empty unless breaks)
  // breaks == true: the chance that loss alone made it look so (the verdict
  // is changed only below kChanceThreshold).
  double chance_by_loss = 0;
  // Unknown because the path lost too much: a short note for the protocol's summary.
  std::string lossy_note;
  // breaks == true means the tunnel's own data packets are lost, so a
  // passing verdict becomes `restricted` (apply_path_mtu). IKE_AUTH needing
  // fragments does not: IPsec's own large-IKE probe weighs that.
  bool restricts = false;
};
// Defaults assumed: OpenVPN over UDP tun-mtu 1500 (its packets exceed a 1500
// path MTU, so they rely on IP fragmentation) and mssfix 1492 mtu, WireGuard
// MTU 1420 (1480-byte IPv4 / 1500-byte IPv6 packets), IPsec ESP filling the
// host's 1500-byte MTU, IKE_AUTH with certificates larger than one packet
// (needs fragments unless IKEv2 fragmentation, RFC 7383, is on).
// Whether a sender sets DF decides what a path-MTU black hole does to it:
// on Linux a UDP socket left at the system default (IP_PMTUDISC_WANT) sends
// DF on every packet that fits this host's MTU and fragments only larger
// ones itself; routers never fragment DF packets, and in a black hole no
// ICMP tells the sender to shrink them. With working ICMP the sender learns
// the path MTU and fragments, so only the fragments rule applies. A module
// whose data phase leaves DF clear (L2TP) is judged by the fragments rule
// alone, from its data-phase facts.
// A protocol whose handshake passes but for which restricts is set should be
// reported `restricted` with this advice.
std::vector<ProtocolMtuAdvice> mtu_advice(const PathFacts& facts);

// ---------------------------------------------------------------- summary

struct NatFacts {
  std::optional<Classification> mapping;
  std::optional<Classification> filtering;
  std::optional<bool> port_preservation;
  std::optional<bool> hairpinning;
  std::optional<LifetimeEstimate> lifetime;
  std::optional<TopologyFinding> topology;
  std::optional<PathAssessment> path;
  std::vector<ProtocolMtuAdvice> mtu;
  // The loss the NAT tests measured and every "no" they weighed: facts left
  // undetermined because of loss get a "could not be measured" line.
  LossEstimate loss;
  std::vector<Evidence> evidence;
};
// A few plain-words lines for the text report's NAT section, e.g.
// "Your router keeps idle UDP mappings at least 30 s; set PersistentKeepalive = 25."
// Only facts that were measured produce a line.
std::vector<std::string> nat_summary_lines(const NatFacts& facts);

}  // namespace vpncheck::nat
