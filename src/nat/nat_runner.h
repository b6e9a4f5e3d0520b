// The client's NAT behaviour tests (issue #5): thin UDP I/O around the
// reflector's NAT test service (probes/nat_probe.h). Each test runs on a
// fresh socket of its own so one cannot bias another (a mapping made by one
// test never serves another). Every request is sent in rounds on the retry
// schedule (src/nat/evidence.h), a few copies per round, each copy a request
// of its own so that its answer says which try it answers; the tries of the
// requests answered in the end measure the path's loss, and a test stops
// early once every answer still missing is a strong "no" under that loss
// (on a clean path: a round or two), else when its window ends.
// assess_nat() turns the raw measurements into the report's facts with the
// pure classifiers of behaviour.h; it never guesses: tests the reflector
// cannot serve (no alternate port / address) are "not run", and a "no" that
// loss could explain is "not determined".
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address_v4.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "probes/observation.h"
#include "probes/probe.h"
#include "probes/token.h"
#include "src/nat/behaviour.h"
#include "src/nat/nat64.h"
#include "src/nat/nat_assessment.h"

namespace vpncheck::nat {

struct NatTestPlan {
  boost::asio::ip::address_v4 primary;                     // the reflector's (control) address A1
  std::optional<boost::asio::ip::address_v4> alternate;    // A2 (capabilities.alternate_address)
  std::uint16_t port = 0;                                  // P1 (capabilities.nat_ports[0])
  std::optional<std::uint16_t> other_port;                 // P2 (capabilities.nat_ports[1])
  probes::SessionTag tag{};
  // Per test: rounds are sent while their answers can still come within it.
  std::chrono::milliseconds timeout{3000};
  probes::RandomFill random;
  std::vector<int> lifetime_gaps;  // seconds; empty: the binding-lifetime test is not run
  bool hairpin = false;            // --hairpin: run the hairpinning test
  bool path = true;                // the path MTU and fragments test
  // Behind a NAT64: every datagram goes to the reflector's addresses
  // synthesized under this prefix (RFC 6052), from an IPv6 socket, and
  // answers from there count as from those IPv4 addresses.
  std::optional<Nat64Prefix> via_nat64;
};

// The path test's DF probe sizes (IPv4 packet sizes): 1500 and the MTUs that
// PPPoE (1492), tunnels (1480, 1476...), WireGuard (1420) and mobile or
// VPN-in-VPN paths leave, down to IPv6's minimum.
inline constexpr int kPathProbeSizes[] = {1500, 1492, 1480, 1472, 1460, 1440, 1420, 1400, 1380, 1360, 1320, 1280};
// The fragments test's datagram: an IPv4 packet of 2000 bytes needs fragments on any path.
inline constexpr int kFragmentedPacketSize = 2000;
// Copies of a request per round (more tries of a "no" per round, more round
// trips to measure the loss with); the fragmented datagram, whose tries need
// several packets each to get through, six (12 KB a round).
inline constexpr int kCopiesPerRound = 2;
inline constexpr int kFragmentCopiesPerRound = 6;
// Requests for an unsolicited packet (filtering) and the hairpin packet:
// small, and their "no" is the one a lossy path most often leaves open, so four.
inline constexpr int kUnsolicitedCopiesPerRound = 4;
// Small DF echoes sent with every round of the path test: loss measured
// while the large ones are tried.
inline constexpr int kPathControlsPerRound = 6;
// Sockets per binding-lifetime gap: each brings one packet after the gap.
inline constexpr int kLifetimeSocketsPerGap = 4;

// What was measured; nullopt = not run, or no answer at all.
struct NatMeasurements {
  bool reached = false;  // any answer from the NAT test service at all
  MappingSamples mapping;
  FilteringSamples filtering;
  FilteringTries filtering_tries;
  std::vector<PortSample> ports;
  std::vector<LifetimeTrial> lifetime;  // one per gap, sorted
  // Hairpinning (opt-in): a packet from one of our sockets to another one's
  // external endpoint came back in; nullopt = not run (or no mapping learnt).
  std::optional<bool> hairpinning;
  // It arrived from the sender's external endpoint (RFC 4787 REQ-9), when it arrived.
  std::optional<bool> hairpin_source_external;
  std::size_t hairpin_tries = 0;  // not arrived: the tries whose packet had time to arrive
  std::optional<PathSamples> path;  // nullopt: not run
  // The loss measured on the requests answered in the end (all tests).
  LossEstimate loss;
};

boost::asio::awaitable<NatMeasurements> run_nat_tests(NatTestPlan plan);

// The reflector sends more than one reply per request (the unsolicited
// filtering packets, the lifetime trial's late answer, the fragments test's
// acknowledgement) only to the address its control connection came from
// (probes/nat_probe.h). When the NAT tests' source, as the reflector saw it,
// is another address (a NAT that maps UDP and TCP to different addresses),
// their absence says nothing about the NAT: those tests become "not run".
// True if they did.
bool discount_unvalidated(NatMeasurements& m, const std::string& control_seen_as);

// How long an answer may take: a try whose answer has not come this long
// after it was sent counts as unanswered (and the last round is sent only if
// its answers can come within the window). kSettleRoundTrips round trips of
// the test's first direct answer, at least kSettleFloor (scheduling jitter,
// a reflector whose other socket answers a little later), at most `bound`.
inline constexpr int kSettleRoundTrips = 4;
inline constexpr std::chrono::milliseconds kSettleFloor{200};
std::chrono::milliseconds settle_grace(std::chrono::microseconds round_trip, std::chrono::milliseconds bound);

// The report's view of the measurements (nat_assessment.h).
NatAssessment assess_nat(const NatMeasurements& m);

// Protocol-independent probe indices of the NAT tests' tokens (the NAT test
// service does not record observations, so they only need to differ).
constexpr std::uint16_t kNatTokenIndexBase = 0xF000;

}  // namespace vpncheck::nat
