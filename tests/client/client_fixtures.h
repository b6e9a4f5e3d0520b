// Helpers shared by the client unit tests: hand-built probe results for the
// registered protocol modules, driven by what "the network" did to each probe.
// Results come from the real make_plan, so indices, names and variants are
// exactly what a run would produce; only the outcome is made up.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "probes/l2tp.h"
#include "probes/observation.h"
#include "probes/openvpn.h"
#include "probes/registry.h"
#include "probes/wireguard.h"
#include "src/run/plan.h"
#include "src/run/result.h"
#include "src/verdict/verdict.h"

namespace vpncheck::probes {

// Failure messages name enum values instead of printing their bytes.
inline void PrintTo(Outcome o, std::ostream* os) { *os << to_string(o); }
inline void PrintTo(Verdict v, std::ostream* os) { *os << to_string(v); }
inline void PrintTo(ProbeKind k, std::ostream* os) { *os << to_string(k); }

}  // namespace vpncheck::probes

namespace vpncheck::client::fixtures {

inline const probes::ProtocolModule& wireguard() { return probes::wireguard::kModule; }
inline const probes::ProtocolModule& openvpn() { return probes::openvpn::kModule; }
inline const probes::ProtocolModule& l2tp() { return probes::l2tp::kModule; }

constexpr std::string_view kLocalAddress = "192.168.1.10";
constexpr std::string_view kPublicAddress = "203.0.113.7";

inline probes::Capabilities listening_on(std::vector<std::uint16_t> udp, std::vector<std::uint16_t> tcp) {
  probes::Capabilities caps;
  caps.udp_ports = std::move(udp);
  caps.tcp_ports = std::move(tcp);
  return caps;
}

// A reflector that listens on every port of every registered module, with a
// raw listener for every raw IP protocol they use, and that recognises every
// piece (Capabilities::pieces).
inline probes::Capabilities listening_everywhere() {
  probes::Capabilities caps;
  for (const auto* module : probes::all_protocols())
    for (const auto& v : module->variants) {
      const std::string piece = std::string(module->id) + "/" + std::string(v.piece);
      if (v.reflector_must_list && std::find(caps.pieces.begin(), caps.pieces.end(), piece) == caps.pieces.end())
        caps.pieces.push_back(piece);
      if (v.transport == probes::Transport::ip)
        caps.raw_protocols.push_back(probes::ip_protocol_name(v.port));
      else
        (v.transport == probes::Transport::udp ? caps.udp_ports : caps.tcp_ports).push_back(v.port);
    }
  return caps;
}

// What happened to one probe between client and reflector.
enum class Fate {
  answered,      // arrived unchanged, answered, the answer came back
  arrived_only,  // arrived and answered by the reflector, the answer never came back
  dropped,       // never reached the reflector, nothing came back
  rewritten,     // arrived with different payload bytes, answered, the answer came back
  reset,         // TCP reset by a middlebox after sending; never reached the reflector
  altered_reply, // arrived and answered, but what came back was not a valid answer
};

using FateFn = std::function<Fate(const probes::ProbeVariant&, ProbeKind)>;

// Every probe meets the same fate.
inline FateFn everything(Fate f) {
  return [f](const probes::ProbeVariant&, ProbeKind) { return f; };
}

inline bool is(const probes::ProbeVariant& v, probes::Transport transport, std::uint16_t port) {
  return v.transport == transport && v.port == port;
}

// A SHA-256-shaped hex digest that differs per probe (and per `salt`).
inline std::string digest_for(std::uint16_t index, char salt = 'a') {
  std::string hex = std::to_string(index);
  return std::string(64 - hex.size(), salt) + hex;
}

inline probes::Observation arrival_for(const ProbeResult& r, const std::string& payload_digest) {
  probes::Observation o;
  o.sequence = r.probe.index + 1U;
  o.probe_index = r.probe.index;
  const bool genuine = r.probe.kind == ProbeKind::genuine;
  o.protocol = genuine ? std::string(r.probe.module->id) : "control";
  o.kind = std::string(to_string(r.probe.kind));
  o.transport = r.probe.variant.transport;
  o.local_port = r.probe.variant.port;
  // NAT that keeps the source port: a typical home router.
  o.source = probes::Endpoint{std::string(kPublicAddress), r.client.local ? r.client.local->port : std::uint16_t{0}};
  o.ttl = 52;
  o.tos = 0;
  o.payload_length = r.client.sent_length;
  o.payload_sha256 = payload_digest;
  if (genuine) o.fields = {{"probe", std::string(r.probe.module->id)}};
  o.received_at_unix_ms = 1'700'000'000'000;
  o.reply = probes::ReplyRecord{true, genuine ? std::string(r.probe.module->id) + "/reply" : "control/echo",
                                r.client.sent_length, "", ""};
  return o;
}

inline ProbeResult make_result(const PlannedProbe& probe, Fate fate) {
  ProbeResult r{probe, {}, {}, {}};
  if (probe.not_run_reason) {
    r.client.outcome = Outcome::not_run;
    r.client.detail = *probe.not_run_reason;
    return r;
  }
  r.client.local = probes::Endpoint{std::string(kLocalAddress), static_cast<std::uint16_t>(40000U + probe.index)};
  r.client.sent_sha256 = digest_for(probe.index);
  r.client.sent_length = 100;
  r.client.sends = 1;
  switch (fate) {
    case Fate::answered:
      r.client.outcome = Outcome::reply;
      r.client.rtt_ms = 23.0;
      r.arrivals.push_back(arrival_for(r, r.client.sent_sha256));
      break;
    case Fate::arrived_only:
      r.client.outcome = Outcome::timeout;
      r.arrivals.push_back(arrival_for(r, r.client.sent_sha256));
      break;
    case Fate::dropped:
      r.client.outcome = Outcome::timeout;
      break;
    case Fate::rewritten:
      r.client.outcome = Outcome::reply;
      r.client.rtt_ms = 14.0;
      r.arrivals.push_back(arrival_for(r, digest_for(probe.index, 'b')));
      break;
    case Fate::reset:
      r.client.outcome = Outcome::reset;
      r.client.detail = "Connection reset by peer";
      break;
    case Fate::altered_reply:
      r.client.outcome = Outcome::invalid_reply;
      r.arrivals.push_back(arrival_for(r, r.client.sent_sha256));
      break;
  }
  return r;
}

// This module's results as a run against a reflector with `caps` would give them.
inline std::vector<ProbeResult> scenario(const probes::ProtocolModule& module, const probes::Capabilities& caps,
                                         const FateFn& fate) {
  std::vector<ProbeResult> out;
  for (const auto& probe : make_plan({&module}, caps)) out.push_back(make_result(probe, fate(probe.variant, probe.kind)));
  return out;
}

inline std::vector<ProbeResult> scenario(const probes::ProtocolModule& module, const FateFn& fate) {
  return scenario(module, listening_everywhere(), fate);
}

// Both families over one session: `fate4` for the IPv4 probes, `fate6` for
// the IPv6 ones (indices unique across the two, as make_plan gives them).
inline std::vector<ProbeResult> dual_stack_scenario(const probes::ProtocolModule& module,
                                                    const probes::Capabilities& caps, const FateFn& fate4,
                                                    const FateFn& fate6) {
  std::vector<ProbeResult> out;
  for (const auto& probe : make_plan({&module}, caps, {Family::ipv4, Family::ipv6})) {
    const auto& fate = probe.family == Family::ipv4 ? fate4 : fate6;
    out.push_back(make_result(probe, fate(probe.variant, probe.kind)));
  }
  return out;
}

// What the client has when the reflector's observations could not be read.
inline std::vector<ProbeResult> without_arrivals(std::vector<ProbeResult> results) {
  for (auto& r : results) r.arrivals.clear();
  return results;
}

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

inline bool has_finding(const ProtocolAssessment& a, std::string_view code) {
  return std::find(a.findings.begin(), a.findings.end(), code) != a.findings.end();
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace vpncheck::client::fixtures
