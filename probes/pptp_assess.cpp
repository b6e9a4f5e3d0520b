// PPTP's verdict rule (ProtocolModule::assess): both pieces, the control
// connection on TCP 1723 and GRE both ways, must work.
#include <algorithm>

#include "probes/assessment.h"
#include "probes/pptp_module.h"
#include "probes/translation.h"

namespace vpncheck::probes::pptp {
namespace {

const ProbeResult* find_probe(const std::vector<ProbeResult>& results, std::string_view piece, ProbeKind kind) {
  for (const auto& r : results)
    if (r.probe.variant.piece == piece && r.probe.kind == kind) return &r;
  return nullptr;
}

std::string field(const Observation& o, std::string_view name) {
  auto it = o.fields.find(std::string(name));
  return it == o.fields.end() ? std::string() : it->second;
}

// What the reflector saw in the OCRQ, if it saw one.
const Observation* ocrq_observation(const ProbeResult* control) {
  if (!control) return nullptr;
  for (const auto& o : control->arrivals)
    if (field(o, "message_type") == "OCRQ") return &o;
  return nullptr;
}

std::string outcome_text(const ProbeResult& r) {
  std::string text(to_string(r.client.outcome));
  if (!r.client.detail.empty()) text += ": " + r.client.detail;
  return text;
}

}  // namespace

ProtocolAssessment assess(const ProtocolModule& module, std::vector<ProbeResult> results, bool observations_read,
                          AlternativesRule) {
  ProtocolAssessment a;
  a.module = &module;
  a.probes = std::move(results);
  const ProbeResult* control = find_probe(a.probes, kPieceControl, ProbeKind::genuine);
  const ProbeResult* random = find_probe(a.probes, kPieceControl, ProbeKind::control);
  const ProbeResult* gre = find_probe(a.probes, kPieceGre, ProbeKind::genuine);
  const bool ipv6 = control && control->probe.family == Family::ipv6;
  // An IPv6 control connection the reflector saw arrive over IPv4 crossed a
  // NAT64: from there on it is IPv4 PPTP, which a router's helper can follow.
  const bool via_nat64 = ipv6 && !control->arrivals.empty() &&
                         control->arrivals.front().source.address.find(':') == std::string::npos;

  const std::string passthrough_advice =
      "Turn on \"PPTP passthrough\" in the router (on a Linux router: assign the conntrack PPTP helper to TCP "
      "1723, e.g. nftables 'ct helper set \"pptp\"' with nf_conntrack_pptp loaded). The Linux PPTP helper "
      "handles IPv4 only.";

  // The Call ID facts the reflector recorded from the OCRQ.
  std::string call_note;
  if (const auto* ocrq = ocrq_observation(control)) {
    if (field(*ocrq, kFieldCallIdRewritten) == "true") {
      call_note = " A PPTP ALG on the way rewrote the OCRQ's Call ID (" + field(*ocrq, kFieldOriginalCallId) +
                  " -> " + field(*ocrq, kFieldCallId) + ")";
      call_note += field(*ocrq, kFieldLinuxHelper) == "true"
                       ? ", to the NATed TCP source port: the Linux PPTP conntrack helper (nf_nat_pptp), which "
                         "handles IPv4 only."
                       : ".";
    } else if (field(*ocrq, kFieldCallIdRewritten) == "false") {
      call_note = " The Call ID arrived unchanged (no PPTP ALG on the way).";
    }
  }
  auto finish = [&](Verdict v, std::string summary) {
    a.verdict = v;
    a.summary = std::move(summary);
    if (via_nat64 && v != Verdict::pass)
      a.advice.emplace_back("Behind a NAT64 GRE must cross the translator: one that translates only TCP, UDP and "
                            "ICMP (RFC 6146) never carries it, and no router setting on this side can change that.");
    else if (ipv6 && v != Verdict::pass)
      a.advice.emplace_back("Over IPv6 PPTP gets no help from routers: the Linux PPTP passthrough helper is "
                            "IPv4-only.");
    a.advice.emplace_back(kSecurityAdvice);
    return a;
  };

  if (!control || !was_tested(*control)) {
    a.advice.emplace_back("Run a reflector that listens on TCP 1723 and, with CAP_NET_RAW, on raw GRE "
                          "(vpncheck-reflector's defaults).");
    return finish(Verdict::inconclusive, "PPTP could not be tested: " +
                                             (control ? control->client.detail : std::string("no probe planned")) + ".");
  }

  // The control connection.
  if (!answered(*control)) {
    const auto& c = control->client;
    if (c.outcome == Outcome::invalid_reply) {
      add_unique(a.findings, finding::kReplyAltered);
      a.advice.emplace_back("Find the device that rewrites PPTP control messages (an ALG or 'security' gateway).");
      return finish(Verdict::modified, "The PPTP control connection on TCP 1723 is answered, but the answers arrive "
                                       "changed: " + c.detail + ".");
    }
    if (c.outcome == Outcome::reset) add_unique(a.findings, finding::kConnectionReset);
    const bool connected = c.local.has_value();
    const bool arrived = reached_reflector(*control);
    if (arrived) {
      add_unique(a.findings, finding::kReturnPathBlocked);
      a.advice.push_back(passthrough_advice);
      return finish(Verdict::outbound_only, "The PPTP control connection reaches the server on TCP 1723, but the "
                                            "conversation breaks off (" + outcome_text(*control) + ").");
    }
    if (connected && !observations_read) {
      a.advice.emplace_back("Run vpncheck again; if this persists, check that the reflector's control port is "
                            "reachable.");
      return finish(Verdict::inconclusive, "The PPTP control connection on TCP 1723 was opened but not answered (" +
                                               outcome_text(*control) +
                                               "), and the reflector's record could not be read.");
    }
    const bool random_out = random && was_tested(*random) && reached_reflector(*random);
    if (observations_read && random_out) {
      add_unique(a.findings, finding::kSignatureBlocking);
      a.advice.emplace_back(module.advice_signature_blocked);
      return finish(Verdict::blocked, "The PPTP control connection on TCP 1723 does not get through (" +
                                          outcome_text(*control) +
                                          "), though random bytes on the same port do: a middlebox blocks PPTP by "
                                          "its content (signature/DPI).");
    }
    if (observations_read && random && was_tested(*random)) add_unique(a.findings, finding::kPortBlocking);
    a.advice.push_back(passthrough_advice + " Routers with PPTP passthrough off usually drop TCP 1723 outright.");
    return finish(Verdict::blocked,
                  "The PPTP control connection on TCP 1723 does not get through (" + outcome_text(*control) + ").");
  }

  const std::string control_ok =
      "The PPTP control connection works on TCP 1723" +
      (control->client.rtt_ms ? " (round trip " + format_ms(*control->client.rtt_ms) + ")" : std::string()) + ".";

  // GRE.
  if (!gre || !was_tested(*gre)) {
    std::string why = gre ? gre->client.detail : std::string("no GRE probe was planned");
    if (gre && gre->client.outcome == Outcome::not_permitted)
      a.advice.emplace_back(kRawPrivilegeHint);
    else
      a.advice.emplace_back("Test GRE with a reflector that has its raw GRE listener (it needs CAP_NET_RAW).");
    return finish(Verdict::inconclusive, control_ok + " GRE (IP protocol 47) could not be tested: " + why + "." +
                                             call_note);
  }
  if (answered(*gre)) {
    a.working_variant = control->probe.variant;
    return finish(Verdict::pass, "PPTP works both ways: the control connection on TCP 1723 and GRE (IP protocol 47)" +
                                     (gre->client.rtt_ms ? " (GRE round trip " + format_ms(*gre->client.rtt_ms) + ")"
                                                         : std::string()) +
                                     "." + call_note);
  }
  if (gre->client.outcome == Outcome::invalid_reply) {
    add_unique(a.findings, finding::kReplyAltered);
    a.advice.emplace_back("Find the device that rewrites GRE (an ALG keyed to the wrong Call ID, or a 'security' "
                          "gateway).");
    return finish(Verdict::modified, control_ok + " GRE comes back, but not as a valid answer to the probe." +
                                         call_note);
  }
  if (reached_reflector(*gre)) {
    add_unique(a.findings, finding::kReturnPathBlocked);
    // Name the middlebox that is there: what the reflector saw of the control
    // connection's source says whether a NAT is on the way.
    const auto t = translate(*control);
    const std::optional<bool> nat =
        t && t->sent_from ? std::optional<bool>(t->address_translated || t->port_translated) : std::nullopt;
    std::string why;
    if (nat == false) {
      why = "a stateful firewall on this routed path (no NAT was seen) does not let it in: it does not relate the "
            "server's GRE to the PPTP control connection.";
      a.advice.emplace_back("Let GRE (IP protocol 47) from the VPN server back in through the firewall (e.g. an "
                            "nftables rule accepting 'meta l4proto gre' from the server's address).");
    } else {
      why = nat == true ? "the NAT has no PPTP passthrough (no PPTP helper/ALG maps the answer's Call ID back to "
                          "this computer)."
                        : "the router or firewall on the way has no PPTP passthrough (nothing relates the "
                          "server's GRE to the control connection).";
      a.advice.push_back(passthrough_advice);
    }
    return finish(Verdict::outbound_only,
                  control_ok + " GRE reaches the server, but the server's GRE never comes back: " + why + call_note);
  }
  if (!observations_read) {
    a.advice.emplace_back("Run vpncheck again; if this persists, check that the reflector's control port is "
                          "reachable.");
    return finish(Verdict::inconclusive, control_ok + " GRE got no answer, and the reflector's record could not be "
                                                      "read, so blocked and outbound-only cannot be told apart." +
                                             call_note);
  }
  add_unique(a.findings, finding::kPortBlocking);
  a.advice.push_back("Allow GRE (IP protocol 47) out and back in. " + passthrough_advice);
  return finish(Verdict::blocked, control_ok + " But GRE (IP protocol 47) does not get out: this network drops "
                                               "it, so PPTP cannot carry data." + call_note);
}

}  // namespace vpncheck::probes::pptp
