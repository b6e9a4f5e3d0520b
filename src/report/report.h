// Contract 3: the report, as data. Renderers (text, JSON, JUnit, Markdown) only format it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/control/control_attempt.h"
#include "src/nat/drop_point.h"
#include "src/nat/gateway_facts.h"
#include "src/nat/nat_assessment.h"
#include "src/nat/path_hops.h"
#include "src/verdict/captive_portal.h"
#include "src/verdict/evidence.h"
#include "src/verdict/verdict.h"

namespace vpncheck::client {

constexpr std::string_view kReportSchema = "vpncheck.report/1";

enum class ExitCode : int { ok = 0, requirement_failed = 1, usage = 2, could_not_test = 3 };

struct NatSummary {
  std::optional<bool> port_preservation;  // every observed UDP source port equal to ours?
  // Measured by later modules (RFC 4787 terms); null until then, never guessed.
  std::optional<std::string> mapping;
  std::optional<std::string> filtering;
  // The NAT behaviour tests against the reflector's NAT test service (issue #5);
  // unset when they did not run (reflector without the service, IPv6 only).
  std::optional<nat::NatAssessment> tests;
  // Port-mapping protocols on the default gateway (NAT-PMP, PCP, UPnP IGD);
  // unset when not asked (no IPv4 session). `topology` compares the gateway's
  // external address with the public address the reflector saw.
  std::optional<nat::GatewayFacts> gateway;
  std::optional<nat::TopologyFinding> topology;
  // The routers on the way, from TTL-limited datagrams (src/nat/path_hops.h);
  // unset when not traced (IPv6, a reflector on this host).
  std::optional<nat::HopFinding> hops;
  // nat.double_nat and nat.cgnat: both sources together (combine_topology).
  nat::CombinedTopology combined() const { return nat::combine_topology(topology, hops); }
};

// Records the gateway's answers and classifies the topology against
// `public_address` (the client address as the reflector saw it).
void apply_gateway_facts(NatSummary& nat, const nat::GatewayFacts& facts,
                         const std::optional<std::string>& public_address);
void apply_hops(NatSummary& nat, nat::HopFinding hops);

// Fills nat.mapping / filtering / port_preservation from the NAT tests: only
// what they decided (never a guess); port preservation is false if either the
// probes or the NAT tests saw a rewritten port.
void apply_nat_tests(NatSummary& nat, const nat::NatAssessment& tests);
// The text report's NAT lines, in plain words.
std::vector<std::string> nat_section_lines(const NatSummary& nat);

// NAT64 (RFC 6146) on the way: the control session reached an IPv6 address
// and the reflector saw an IPv4 client. Unset when the session went over IPv4.
struct Nat64Finding {
  bool detected = false;
  std::optional<std::string> prefix;  // "2001:db8:64::/96"; unset when nothing told it
  // "reflector_address" (the control address embeds one of the reflector's
  // IPv4 addresses), "dns64" (RFC 7050), or "reflector_address_and_dns64".
  std::optional<std::string> source;
  std::optional<std::string> reflector_ipv4;  // the reflector's IPv4 address the translator reached
};

// Where a UDP variant's genuine probe died on the path, from the walk of it
// and its control with rising TTL (src/run/path_walk.h, src/nat/drop_point.h).
struct DropFact {
  std::string protocol;  // the module's id
  std::string variant;   // "UDP 51820"
  Family family = Family::ipv4;
  std::string probe;     // the genuine probe's name
  nat::DropPoint point;
  // Dropped: the dropping hop's address space ("private", "shared",
  // "public"), decided before --redact hides a public address.
  std::string hop_class;
};

struct Report {
  std::string started_at;  // RFC 3339, UTC
  std::int64_t duration_ms = 0;
  std::string reflector_host;
  std::string reflector_address;  // the one the control session used (IPv4 when both were tested)
  std::optional<std::string> reflector_address_v6;  // set when IPv6 was tested too (dual stack)
  std::optional<std::uint16_t> control_port;  // the one that worked
  std::vector<ControlAttempt> control_attempts;
  // -6: the control session could not use IPv6 and used the host's IPv4 address (probes stay IPv6).
  bool control_fell_back = false;
  std::optional<std::string> reflector_version;
  std::optional<std::string> local_address;
  std::optional<std::string> public_address;
  std::optional<bool> behind_nat;
  std::optional<Nat64Finding> nat64;
  NatSummary nat;
  bool observations_read = false;
  std::string observations_error;
  std::uint64_t observations_dropped = 0;
  // What the reflector refused or limited during this session (its
  // observations' `limits`); verdicts they explain are inconclusive.
  std::vector<probes::ReflectorLimit> reflector_limits;
  std::vector<ProtocolAssessment> protocols;
  // The path's packet loss as the probes measured it (src/verdict/evidence.h).
  LossEstimate path_loss;
  // Per walked variant, where its genuine probe died (apply_path_walks).
  std::vector<DropFact> drops;
  std::vector<std::string> required;
  // Whether a captive portal answered plain web traffic in the reflector's
  // place (src/verdict/captive_portal.h); unset when the check did not run.
  std::optional<CaptivePortal> captive_portal;
  std::optional<std::string> error;  // why nothing could be tested (exit 3)
  bool redacted = false;             // public addresses replaced (--redact, src/report/redact.h)
  ExitCode exit_code = ExitCode::ok;
};

// One line for people when a captive portal was seen (the error says it
// instead when it stopped the run); nothing otherwise.
std::optional<std::string> captive_portal_line(const Report& report);

// The report's NAT64 lines (fact, then advice) when a NAT64 was detected;
// empty otherwise.
std::vector<std::string> nat64_lines(const Report& report);

// Exit code for a finished run: 1 if any required protocol did not pass.
ExitCode exit_code_for(const Report& report);

// Report::drops from the path walks (steps by plan position), for genuine
// probes that stayed unanswered and never reached the reflector (a walk
// cannot place a lost answer); a drop's advice goes to its protocol when
// its verdict in that family fails (not when it is inconclusive): a
// setting of the user's own router, or beyond it a provider to work around
// with what works instead. `gateway`: the default gateway the NAT tests
// found, when they did. After add_alternatives.
void apply_path_walks(Report& report, const std::map<std::size_t, std::vector<nat::WalkStep>>& walks,
                      const std::optional<std::string>& gateway);
// "dropped at hop 1, your router (192.168.1.1)", "dropped beyond your router,
// at hop 2 (100.64.0.1, your provider)", or what the walk could not tell.
std::string drop_line(const DropFact& drop);
// The text, Markdown and JUnit lines of one protocol's drops: "UDP 51820:
// dropped at hop 1, your router (192.168.1.1)" (" IPv6" after the variant
// when both families were walked).
std::vector<std::string> drop_lines(const Report& report, std::string_view protocol);

// Fills client/NAT facts from the session and the probes' translations.
void summarise_client(Report& report, const std::optional<probes::Endpoint>& control_local,
                      const probes::Endpoint& control_seen_as);

}  // namespace vpncheck::client
