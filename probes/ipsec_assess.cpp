// The verdict rule for IPsec (ProtocolModule::assess), whose pieces must work together:
//   pass      IKE works (UDP 500) and the data path a real client would use
//             works: behind NAT that is NAT-T on UDP 4500 (raw ESP is then not
//             needed: clients switch to 4500 once IKE detects the NAT);
//             without NAT, raw ESP both ways (clients do not switch).
//   otherwise restricted (IKE only on 4500; without NAT, only NAT-T),
//             outbound_only, blocked, modified or inconclusive (without NAT,
//             raw ESP untested), with advice naming the missing piece.
// The data phase (src/verdict/data_phase.cpp) is judged where the data goes:
// NAT-T behind NAT, raw ESP without (ProtocolAssessment::data_variants), so a
// routed path that passes raw ESP's handshake but drops its data (or its
// full-size packets) makes IPsec restricted, not pass.
// IKEv2 over TCP 4500 (RFC 8229) is the fallback, not a piece: where UDP
// leaves IPsec blocked, outbound-only or modified but IKE over TCP works,
// IPsec is restricted (it works with clients that support TCP encapsulation,
// which carries ESP in the same connection), with advice naming their settings.
// Not part of the verdict, reported as findings and in the summary:
//   - AH through NAT arrives with a broken ICV (AH cannot cross NAT; it is
//     rarely used, so it does not fail IPsec on its own);
//   - the large (IP-fragmented) IKE message lost while small IKE works
//     (IKEv2 fragmentation, RFC 7383, avoids it);
//   - whether UDP source port 500 was kept or rewritten.
// Raw ESP/AH without CAP_NET_RAW or without the reflector's raw listener are
// inconclusive pieces; the rest still decides.
#include <algorithm>
#include <string>

#include "probes/assessment.h"
#include "probes/ipsec.h"
#include "probes/translation.h"

namespace vpncheck::probes::ipsec {
namespace {

struct Piece {
  const ProbeResult* genuine = nullptr;
  const ProbeResult* control = nullptr;
  ProbeVariant variant{Transport::udp, 0, true};

  bool present() const { return genuine != nullptr; }
  bool tested() const { return genuine && was_tested(*genuine); }
  bool works() const { return tested() && answered(*genuine); }
  bool arrived() const { return tested() && reached_reflector(*genuine); }
  bool altered() const { return tested() && genuine->client.outcome == Outcome::invalid_reply; }
  std::string field(std::string_view key) const {
    if (!genuine || genuine->arrivals.empty()) return {};
    auto it = genuine->arrivals.front().fields.find(std::string(key));
    return it == genuine->arrivals.front().fields.end() ? std::string() : it->second;
  }
  std::string reply_field(std::string_view key) const {
    if (!genuine) return {};
    auto it = genuine->client.reply_fields.find(std::string(key));
    return it == genuine->client.reply_fields.end() ? std::string() : it->second;
  }
};

Piece piece_of(const ProtocolModule& module, const std::vector<ProbeResult>& results, std::string_view name) {
  Piece p;
  for (const auto& v : module.variants)
    if (v.piece == name) p.variant = v;
  for (const auto& r : results) {
    if (r.probe.variant.piece != name) continue;
    (r.probe.kind == ProbeKind::genuine ? p.genuine : p.control) = &r;
  }
  return p;
}

// Why a piece was not tested, in words ("the reflector has no raw ... listener").
std::string untested_reason(const Piece& p) {
  if (!p.genuine) return "not planned";
  if (p.genuine->client.outcome == Outcome::not_permitted)
    return "this process lacks CAP_NET_RAW: run as root or 'sudo setcap cap_net_raw+ep \"$(command -v vpncheck)\"'";
  if (!p.genuine->client.detail.empty()) return p.genuine->client.detail;
  if (p.genuine->probe.not_run_reason) return *p.genuine->probe.not_run_reason;
  return "not run";
}

// What the NAT did to IKE's source port 500 (some NATs rewrite it, some IKE ALGs pin it).
std::string source_port_fact(const Piece& ikev2) {
  if (!ikev2.tested() || !ikev2.genuine->client.local) return {};
  const auto local_port = ikev2.genuine->client.local->port;
  std::string observed;
  if (!ikev2.genuine->arrivals.empty()) observed = std::to_string(ikev2.genuine->arrivals.front().source.port);
  if (local_port != 500)
    return "IKE could not be sent from UDP source port 500 (needs root or the port is in use), it used " +
           std::to_string(local_port) + (observed.empty() ? "" : ", seen by the reflector as " + observed) + ".";
  if (observed.empty()) return {};
  if (observed == "500") return "UDP source port 500 was kept on the way.";
  return "UDP source port 500 was rewritten to " + observed + " on the way.";
}

// Behind NAT? First as an IKE initiator decides (the responder's
// NAT_DETECTION_DESTINATION_IP against our own address), then from the
// reflector's NAT-D check, then from any observed translation. nullopt: unknown.
std::optional<bool> behind_nat(const std::vector<const Piece*>& pieces) {
  for (const Piece* p : pieces) {
    auto v = p->reply_field(ipsec::field::kBehindNat);
    if (!v.empty()) return v == "yes";
  }
  for (const Piece* p : pieces) {
    auto v = p->field(ipsec::field::kSourceTranslated);
    if (!v.empty()) return v == "yes";
  }
  for (const Piece* p : pieces) {
    if (!p->tested() || p->variant.transport != Transport::udp) continue;
    if (auto t = translate(*p->genuine)) return t->address_translated || t->port_translated;
  }
  return std::nullopt;
}

}  // namespace

ProtocolAssessment assess(const ProtocolModule& module, std::vector<ProbeResult> results, bool observations_read,
                          AlternativesRule) {
  ProtocolAssessment a;
  a.module = &module;
  a.probes = std::move(results);
  const auto& rs = a.probes;
  const Piece ikev2 = piece_of(module, rs, ipsec::kPieceIkev2);
  const Piece ikev1 = piece_of(module, rs, ipsec::kPieceIkev1);
  const Piece natt = piece_of(module, rs, ipsec::kPieceNatT);
  const Piece esp = piece_of(module, rs, ipsec::kPieceEsp);
  const Piece ah = piece_of(module, rs, ipsec::kPieceAh);
  const Piece large = piece_of(module, rs, ipsec::kPieceIkeLarge);
  const Piece ike_tcp = piece_of(module, rs, ipsec::kPieceIkeTcp);
  // Where IKE over TCP works, what fails is IPsec over UDP only.
  const std::string over_udp = ike_tcp.works() ? " over UDP" : "";

  // ---- facts that do not decide the verdict ----
  std::vector<std::string> notes;
  if (auto fact = source_port_fact(ikev2); !fact.empty()) notes.push_back(fact);

  const bool ike_works = ikev2.works() || ikev1.works();
  if (ike_works && large.tested() && !large.works()) {
    add_unique(a.findings, finding::kFragmentsDropped);
    notes.push_back("A large (" + std::to_string(large.genuine->client.sent_length) +
                    " B, IP-fragmented) IKE message " + (large.arrived() ? "got no answer" : "did not arrive") +
                    " while small ones work: this network drops IP fragments, which breaks IKE_AUTH with "
                    "certificates.");
    a.advice.push_back("Enable IKEv2 fragmentation (RFC 7383) on both ends, e.g. strongSwan fragmentation=yes, "
                       "so IKE messages never need IP fragments.");
  }

  const bool ah_broken = ah.tested() && ah.field(ipsec::field::kIcvValid) == "no";
  if (ah_broken) {
    add_unique(a.findings, finding::kAhModified);
    notes.push_back("AH (IP protocol 51) is modified on the way: its integrity check fails at the server because "
                    "a NAT rewrote the addresses it covers. AH is rarely used, so this does not decide the "
                    "verdict.");
    a.advice.push_back("AH cannot cross NAT (its ICV covers the IP addresses): use ESP with NAT-T (UDP 4500) "
                       "instead of AH.");
  } else if (ah.tested() && !ah.arrived() && observations_read) {
    notes.push_back("AH (IP protocol 51) is blocked (rarely used; does not decide the verdict).");
  }

  std::vector<std::string> untested_raw;
  for (const Piece* p : {&esp, &ah})
    if (p->present() && !p->tested()) untested_raw.push_back(describe(p->variant) + ": " + untested_reason(*p));
  if (!untested_raw.empty()) {
    std::string text = "Not tested, so inconclusive:";
    for (std::size_t i = 0; i < untested_raw.size(); ++i) text += (i ? "; " : " ") + untested_raw[i];
    notes.push_back(text + ".");
  }
  if (esp.tested() && !esp.works())
    notes.push_back(std::string("Raw ESP (IP protocol 50) is ") +
                    (esp.arrived() ? "outbound only (answers do not come back)" : "blocked") + ".");

  auto finish = [&](Verdict v, std::string summary) {
    const bool failed = v == Verdict::blocked || v == Verdict::outbound_only || v == Verdict::modified;
    if (failed && ike_tcp.works()) {
      v = Verdict::restricted;
      a.working_variant = ike_tcp.variant;
      a.data_variants = {ike_tcp.variant};  // ESP goes in that connection; no data phase runs there
      a.advice.insert(a.advice.begin(), module.advice_use_variant(ike_tcp.variant));
      summary += " IKEv2 over " + describe(ike_tcp.variant) +
                 " (RFC 8229) works, though: IPsec works with clients that use TCP encapsulation, which carries "
                 "ESP in the same connection.";
    } else if (failed && ike_tcp.tested()) {
      notes.push_back("IKEv2 over " + describe(ike_tcp.variant) + " (RFC 8229), the fallback, " +
                      (ike_tcp.arrived() || !observations_read ? "gets no answer" : "is blocked") + " too.");
    }
    a.verdict = v;
    for (const auto& n : notes) summary += " " + n;
    a.summary = std::move(summary);
    return a;
  };

  // ---- IKE ----
  if (!ikev2.tested() && !ikev1.tested() && !natt.tested()) {
    // Ports the reflector could not bind (another program holds them) have their own reason.
    std::string why;
    for (const Piece* p : {&ikev2, &natt})
      if (p->genuine && reflector_could_not_listen(*p->genuine) &&
          why.find(p->genuine->client.detail) == std::string::npos)
        why += (why.empty() ? "" : "; ") + p->genuine->client.detail;
    if (!why.empty()) {
      a.advice.emplace_back(kFreeReflectorPortAdvice);
      return finish(Verdict::inconclusive, "IPsec could not be tested: " + why + ".");
    }
    a.advice.push_back("Run a reflector that listens on UDP 500 and UDP 4500 (vpncheck-reflector's defaults).");
    return finish(Verdict::inconclusive, "IPsec could not be tested: the reflector does not listen on UDP 500 or "
                                         "UDP 4500.");
  }

  if (!ike_works) {
    // Signature or port? Compare with the same-size random probe on UDP 500.
    const bool ike_arrived = ikev2.arrived() || ikev1.arrived();
    if (observations_read && ikev2.tested() && !ike_arrived && ikev2.control) {
      if (reached_reflector(*ikev2.control))
        add_unique(a.findings, finding::kSignatureBlocking);
      else
        add_unique(a.findings, finding::kPortBlocking);
    }
    if (ike_arrived) add_unique(a.findings, finding::kReturnPathBlocked);
    if (natt.works()) {
      a.working_variant = natt.variant;
      a.advice.push_back("Start IKE directly on UDP 4500 (strongSwan: remote_port=4500 in swanctl.conf), since "
                         "UDP 500 is blocked here.");
      return finish(Verdict::restricted, "IKE on UDP 500 is blocked, but IKE and ESP on UDP 4500 (NAT-T) work: "
                                         "IPsec works when the client starts on UDP 4500.");
    }
    if (ikev2.altered() || ikev1.altered()) {
      a.advice.push_back("Find the device that rewrites IKE (an IPsec ALG or 'security' gateway) and exempt "
                         "UDP 500 and 4500 from it.");
      return finish(Verdict::modified, "IKE packets reach the server and answers come back, but changed on the "
                                       "way: they are no longer valid IKE answers.");
    }
    if (ike_arrived || natt.arrived()) {
      a.advice.push_back("Let replies to outgoing UDP 500 and UDP 4500 back in (stateful 'established/related' "
                         "rule).");
      return finish(Verdict::outbound_only, "IKE packets reach the server, but its answers never come back: a "
                                            "firewall or NAT on the way drops the replies.");
    }
    if (!observations_read) {
      a.advice.push_back("Run vpncheck again; if this persists, check that the reflector's control port is "
                         "reachable.");
      return finish(Verdict::inconclusive, "IKE got no answer on UDP 500 or UDP 4500, and the reflector's record "
                                           "of arrivals could not be read, so blocked and outbound-only cannot be "
                                           "told apart.");
    }
    if (std::find(a.findings.begin(), a.findings.end(), finding::kSignatureBlocking) != a.findings.end())
      a.advice.emplace_back(module.advice_signature_blocked);
    else
      a.advice.push_back(ike_tcp.works() ? "UDP 500 (IKE) and UDP 4500 (NAT-T) are blocked: clients without TCP "
                                           "encapsulation cannot start IKE. Ask the network's administrator to "
                                           "allow both."
                                         : "UDP 500 (IKE) and UDP 4500 (NAT-T) are blocked: IPsec cannot start "
                                           "without IKE. Ask the network's administrator to allow both, or use a "
                                           "VPN protocol that works here.");
    return finish(Verdict::blocked, "No IKE packet reached the server on UDP 500 or UDP 4500: IPsec cannot "
                                    "negotiate a connection " +
                                        std::string(ike_tcp.works() ? "over UDP." : "here."));
  }

  // ---- IKE works: the data path ----
  a.working_variant = ikev2.works() ? ikev2.variant : ikev1.variant;
  std::string ike_text = std::string("IKE works on UDP 500") + (ikev2.works() ? "" : " (IKEv1 only)");
  if (ikev2.tested() && ikev2.works() && ikev1.tested() && !ikev1.works()) ike_text += " (IKEv2; IKEv1 does not)";
  const auto nat = behind_nat({&ikev2, &ikev1, &natt});
  const std::string natt_text = "NAT-T on UDP 4500 (IKE, ESP-in-UDP and keepalive) works both ways";

  if (nat.value_or(true)) {
    const std::string nat_text = nat ? " and IKE's NAT detection sees a NAT" : " (whether a NAT is on the path is "
                                                                              "unknown, so NAT-T is required)";
    if (natt.works()) {
      a.data_variants = {natt.variant};  // the data path behind NAT; raw ESP's says nothing about it
      return finish(Verdict::pass, ike_text + nat_text + "; " + natt_text + ", so raw ESP is not needed.");
    }
    if (!natt.tested()) {
      a.advice.push_back("Run a reflector that listens on UDP 4500 (vpncheck-reflector's default).");
      return finish(Verdict::inconclusive, ike_text + nat_text + ", but NAT-T on UDP 4500 could not be tested (" +
                                               untested_reason(natt) + ").");
    }
    a.advice.push_back(module.advice_use_variant(natt.variant));
    if (natt.altered())
      return finish(Verdict::modified, ike_text + nat_text + ", but answers on UDP 4500 come back changed: IPsec "
                                                             "behind NAT needs NAT-T.");
    if (natt.arrived()) {
      add_unique(a.findings, finding::kReturnPathBlocked);
      return finish(Verdict::outbound_only,
                    ike_text + nat_text + ", but on UDP 4500 " +
                        (natt.genuine->client.steps_answered > 0 ? "not every NAT-T message (ESP-in-UDP, keepalive) "
                                                                   "gets an answer"
                                                                 : "answers never come back") +
                        ": IPsec behind NAT needs NAT-T both ways.");
    }
    return finish(Verdict::blocked, ike_text + nat_text + ", but UDP 4500 is blocked: IPsec behind NAT needs NAT-T "
                                                          "(RFC 3948), so no tunnel can come up" + over_udp + ".");
  }

  // No NAT: IKE never moves to UDP 4500 and ESP is not put in UDP, since
  // both happen only once IKE's NAT detection sees a NAT (RFC 7296 §2.23,
  // RFC 3947 §4-5); standard clients (Windows, macOS, iOS, Linux kernel
  // IPsec) then send raw ESP. NAT-T alone serves only clients forced to
  // encapsulate. What stops ESP here is a firewall, not a NAT.
  const std::string routed = ike_text + " and no NAT is on the path (routed), so clients send raw ESP (IP protocol 50)";
  const std::string force_encap =
      "Force UDP encapsulation where the client has a setting for it: strongSwan encap = yes (in the connection in "
      "swanctl.conf; it fakes IKE's NAT detection so ESP goes over UDP 4500). The built-in Windows, macOS and iOS "
      "clients have none: for them the firewall must let ESP (IP protocol 50) through both ways.";
  if (esp.works()) {
    // Their data goes as raw ESP too: its data phase decides, not NAT-T's.
    a.data_variants = {esp.variant};
    return finish(Verdict::pass, routed + ", which works both ways" +
                                     (natt.works() ? " (NAT-T on UDP 4500 works too)." : "."));
  }
  if (!esp.tested() && !natt.tested()) {
    a.advice.push_back("Run vpncheck with CAP_NET_RAW against a reflector with raw listeners and UDP 4500.");
    return finish(Verdict::inconclusive, ike_text + " and no NAT is on the path, but neither raw ESP nor NAT-T "
                                                    "could be tested.");
  }
  if (!esp.tested()) {
    if (natt.works()) {
      a.advice.push_back("Run vpncheck with CAP_NET_RAW against a reflector with raw listeners to test raw ESP.");
      a.advice.push_back(force_encap);
      return finish(Verdict::inconclusive, routed + ", which could not be tested (" + untested_reason(esp) +
                                               "); NAT-T on UDP 4500 works, but without a NAT only clients forced "
                                               "to encapsulate use it.");
    }
    a.advice.push_back(module.advice_use_variant(natt.variant));
    return finish(Verdict::inconclusive, ike_text + " and no NAT is on the path; UDP 4500 does not work and raw ESP "
                                                    "could not be tested, so whether ESP passes is unknown.");
  }
  if (esp.arrived()) add_unique(a.findings, finding::kReturnPathBlocked);
  const std::string firewall_does = esp.arrived() ? "a stateful firewall on this routed path lets out but does not "
                                                    "let its answers back in"
                                                  : "a firewall on this routed path drops";
  if (natt.works()) {
    a.working_variant = natt.variant;
    a.data_variants = {natt.variant};
    a.advice.push_back(force_encap);
    return finish(Verdict::restricted, routed + ", which " + firewall_does + ". Only NAT-T on UDP 4500 works: " +
                                           "the tunnel comes up but carries nothing unless the client is forced to "
                                           "encapsulate ESP in UDP.");
  }
  a.advice.push_back(module.advice_use_variant(esp.variant));
  a.advice.push_back(module.advice_use_variant(natt.variant));
  if (esp.arrived() || natt.arrived()) {
    add_unique(a.findings, finding::kReturnPathBlocked);
    return finish(Verdict::outbound_only, ike_text + " and no NAT is on the path, but ESP (raw or on UDP 4500) gets "
                                                     "no answer back: a stateful firewall on this routed path drops "
                                                     "the answers, so no IPsec traffic can flow" + over_udp + ".");
  }
  return finish(Verdict::blocked, ike_text + " and no NAT is on the path, but both raw ESP (IP protocol 50) and UDP "
                                             "4500 are blocked by a firewall on the way: no IPsec traffic can flow" +
                                             over_udp + ".");
}

}  // namespace vpncheck::probes::ipsec
