#include "src/report/json_report.h"

#include <cmath>
#include <set>

#include "probes/translation.h"
#include "src/version.h"

namespace vpncheck::client {
namespace {

using nlohmann::json;

template <typename T>
json or_null(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json endpoint_json(const std::optional<probes::Endpoint>& e) {
  if (!e) return nullptr;
  return {{"address", e->address}, {"port", e->port}};
}

json behaviours(const std::vector<nat::Behaviour>& list) {
  json out = json::array();
  for (auto b : list) out.push_back(std::string(nat::to_string(b)));
  return out;
}

json classification_json(const nat::Classification& c) {
  return {{"result", c.behaviour ? json(std::string(nat::to_string(*c.behaviour))) : json(nullptr)},
          {"possible", behaviours(c.possible)},
          {"not_run", c.not_run},
          {"lossy", c.lossy},
          {"explanation", c.explanation}};
}

// The path test: sizes that made the round trip with DF, fragments, and what
// the result means for each protocol's default packet size.
json path_json(const nat::NatAssessment& t) {
  if (!t.path) return nullptr;
  const auto& p = *t.path;
  json advice = json::array();
  for (const auto& m : t.mtu)
    advice.push_back({{"protocol", m.protocol},
                      {"breaks", or_null(m.breaks)},
                      {"reason", m.reason},
                      {"advice", m.advice},
                      {"chance_by_loss", m.breaks == true ? json(m.chance_by_loss) : json(nullptr)}});
  return {{"path_mtu", or_null(p.facts.path_mtu)},
          {"largest_passed", or_null(p.facts.mtu_at_least)},
          {"smallest_failed", or_null(p.smallest_failed)},
          {"fragments_pass", or_null(p.facts.fragments_pass)},
          {"fragments_lost", p.fragments_lost.empty() ? json(nullptr) : json(p.fragments_lost)},
          {"black_hole", or_null(p.facts.black_hole)},
          {"undetermined_by_loss", p.facts.lossy.has_value()},
          {"protocols", advice}};
}

// What the NAT tests' own answered requests say about the path's loss.
json loss_json(const nat::LossEstimate& l) {
  return {{"round_trips", l.round_trips},
          {"round_trips_lost", l.lost},
          {"round_trip_loss", l.fraction()},
          {"round_trip_loss_upper", l.measured() ? json(l.upper()) : json(nullptr)},
          {"packet_loss", l.per_packet()}};
}

// Every "no" (an answer that never came) and how strongly its tries support it.
json evidence_json(const std::vector<nat::Evidence>& list) {
  json out = json::array();
  for (const auto& e : list)
    out.push_back({{"test", e.test}, {"tries", e.tries}, {"chance", e.chance}, {"concluded", e.concluded}});
  return out;
}

// The NAT tests' details: what was decided, what is still possible, what was not run.
json nat_tests_json(const NatSummary& nat) {
  if (!nat.tests) return nullptr;
  const auto& t = *nat.tests;
  json lifetime = nullptr;
  if (t.lifetime) {
    const auto& e = *t.lifetime;
    lifetime = {{"longest_working_s", or_null(e.longest_working_s)},
                {"shortest_failed_s", or_null(e.shortest_failed_s)},
                {"consistent", e.consistent},
                {"lossy_gaps_s", e.lossy_gaps_s},
                {"explanation", e.explanation}};
  }
  json keepalive = nullptr;
  if (t.keepalive) {
    const auto& k = *t.keepalive;
    keepalive = {{"basis_s", k.basis_s},
                 {"needed", k.needed},
                 {"wireguard_persistent_keepalive_s", k.wireguard_persistent_keepalive_s},
                 {"ipsec_keepalive_s", k.ipsec_keepalive_s},
                 {"openvpn_ping_s", k.openvpn_ping_s},
                 {"openvpn_restart_s", k.openvpn_restart_s},
                 {"lines", k.lines}};
  }
  return {{"reached", t.note.empty()},
          {"note", t.note.empty() ? json(nullptr) : json(t.note)},
          {"mapping", classification_json(t.mapping)},
          {"filtering", classification_json(t.filtering)},
          {"lifetime", lifetime},
          {"keepalive", keepalive},
          {"path", path_json(t)},
          {"loss", loss_json(t.loss)},
          {"evidence", evidence_json(t.evidence)}};
}

json gateway_answer_json(const nat::GatewayAnswer& a) {
  return {{"answered", a.answered},
          {"external_address", a.external_address ? json(nat::format_ipv4(*a.external_address)) : json(nullptr)},
          {"detail", a.detail}};
}

// nat.port_mapping: what the default gateway said; null when it was not asked.
json port_mapping_json(const NatSummary& nat) {
  if (!nat.gateway || !nat.gateway->gateway) return nullptr;
  const auto& g = *nat.gateway;
  auto external = g.external_address();
  json upnp = gateway_answer_json(g.upnp);
  upnp["server"] = g.upnp_server;
  return {{"gateway", nat::format_ipv4(*g.gateway)},
          {"nat_pmp", gateway_answer_json(g.natpmp)},
          {"pcp", gateway_answer_json(g.pcp)},
          {"upnp", upnp},
          {"external_address", external ? json(nat::format_ipv4(*external)) : json(nullptr)},
          {"topology", nat.topology ? json(std::string(nat::to_string(nat.topology->topology))) : json(nullptr)},
          {"explanation", nat.topology ? json(nat.topology->explanation) : json(nullptr)},
          {"mappings_created", 0}};
}

// nat.path_hops: the routers on the way and what they say; null when not traced.
json path_hops_json(const NatSummary& nat) {
  if (!nat.hops) return nullptr;
  json hops = json::array();
  for (const auto& hop : nat.hops->hops)
    hops.push_back({{"ttl", hop.ttl},
                    {"address", hop.address ? json(nat::format_ipv4(*hop.address)) : json(nullptr)},
                    {"class", std::string(nat::to_string(nat::classify_hop(hop)))},
                    {"destination", hop.destination}});
  return {{"hops", hops},
          {"double_nat", or_null(nat.hops->double_nat)},
          {"cgnat", or_null(nat.hops->cgnat)},
          {"explanation", nat.hops->explanation}};
}

std::string evidence_for(const ProbeResult& r, bool observations_read) {
  std::string text = "client: " + std::string(to_string(r.client.outcome));
  if (r.client.rtt_ms) text += " after " + std::to_string(static_cast<int>(*r.client.rtt_ms + 0.5)) + " ms";
  if (!r.client.detail.empty()) text += " (" + r.client.detail + ")";
  if (!was_tested(r)) return text;
  if (!r.client.reply_fields.empty()) {
    text += "; answer:";
    for (const auto& [key, value] : r.client.reply_fields) text += " " + key + "=" + value;
  }
  if (!observations_read) return text + "; reflector: observations unavailable";
  if (r.arrivals.empty()) return text + "; reflector: nothing arrived";
  const auto& a = r.arrivals.front();
  text += "; reflector: " + std::to_string(r.arrivals.size()) + " arrival(s) on " +
          std::string(probes::to_string(a.transport)) + " " + std::to_string(a.local_port) + " from " +
          a.source.address + ":" + std::to_string(a.source.port);
  text += a.reply.sent ? ", answered " + a.reply.kind + " (" + std::to_string(a.reply.length) + " B)"
                       : ", not answered" + (a.reply.reason.empty() ? std::string() : " (" + a.reply.reason + ")");
  return text;
}

json probe_json(const ProbeResult& r, bool observations_read) {
  json outbound = nullptr;
  if (was_tested(r) && (observations_read || answered(r))) outbound = reached_reflector(r);
  json translation = nullptr;
  json modifications = json::array();
  if (auto t = translate(r)) {
    translation = {{"sent_from", endpoint_json(t->sent_from)},
                   {"observed_as", endpoint_json(t->observed_as)},
                   {"address_translated", t->address_translated},
                   {"port_translated", t->port_translated},
                   {"payload_modified", t->payload_modified},
                   {"ttl_at_reflector", or_null(t->ttl_at_reflector)},
                   {"tos_at_reflector", or_null(t->tos_at_reflector)}};
    modifications = t->modifications;
  }
  json fields = json::object();
  if (!r.arrivals.empty()) fields = r.arrivals.front().fields;
  json out = {{"name", r.probe.name()},
          {"family", std::string(to_string(r.probe.family))},
          {"kind", std::string(to_string(r.probe.kind))},
          {"transport", std::string(probes::to_string(r.probe.variant.transport))},
          {"port", r.probe.variant.port},
          {"standard", r.probe.variant.standard},
          {"outbound", outbound},
          {"inbound", was_tested(r) ? json(answered(r)) : json(nullptr)},
          {"outcome", std::string(to_string(r.client.outcome))},
          {"rtt_ms", or_null(r.client.rtt_ms)},
          {"sent_bytes", r.client.sent_length},
          {"sends", r.client.sends},
          {"arrivals", r.arrivals.size()},
          {"observed_fields", fields},
          {"translation", translation},
          {"modifications", modifications},
          {"evidence", evidence_for(r, observations_read)}};
  if (!r.probe.variant.piece.empty()) out["piece"] = std::string(r.probe.variant.piece);
  // Multi-message exchanges (a module with next_request): how far the genuine probe got, even 0 or 1.
  const bool multi_step = r.probe.kind == ProbeKind::genuine && r.probe.module && r.probe.module->next_request;
  if (r.client.steps_answered > 1 || (multi_step && was_tested(r))) out["steps_answered"] = r.client.steps_answered;
  if (!r.client.reply_fields.empty()) out["reply_fields"] = r.client.reply_fields;
  if (!r.client.attempts.empty()) {
    json attempts = json::array();
    for (const auto& step : r.client.attempts) {
      json sent = json::array();
      for (double t : step.sent_ms) sent.push_back(std::round(t * 10) / 10);
      attempts.push_back({{"sent_ms", sent},
                          {"answered_ms", step.answered_ms ? json(std::round(*step.answered_ms * 10) / 10) : json(nullptr)}});
    }
    out["attempts"] = std::move(attempts);
  }
  if (r.client.data) {
    // Per size: sent by the client, recorded by the reflector, echoed back.
    const auto& d = *r.client.data;
    std::set<std::string> arrived;
    for (const auto& o : r.data_arrivals)
      if (auto it = o.fields.find("sequence"); it != o.fields.end()) arrived.insert(it->second);
    const auto counts = [&](std::size_t size) {
      std::size_t sent = 0, up = 0, back = 0;
      for (const auto& p : d.sent) {
        if (p.size != size) continue;
        ++sent;
        up += arrived.contains(std::to_string(p.sequence));
        back += p.echoed;
      }
      return json{{"bytes", size},
                  {"sent", sent},
                  {"arrived", observations_read ? json(up) : json(nullptr)},
                  {"echoed", back}};
    };
    out["data_phase"] = {{"small", counts(d.small_size)}, {"full", counts(d.full_size)}};
    if (!d.detail.empty()) out["data_phase"]["detail"] = d.detail;
  }
  if (r.arrivals.size() > 1) {
    json messages = json::array();
    for (const auto& arrival : r.arrivals) messages.push_back(arrival.fields);
    out["observed_messages"] = std::move(messages);
  }
  return out;
}

// A protocol tried in several wire forms: each form's own verdict.
json forms_json(const std::vector<probes::FormAssessment>& forms) {
  json out = json::object();
  for (const auto& f : forms)
    out[f.form] = {{"verdict", std::string(to_string(f.verdict))},
                   {"summary", f.summary},
                   {"working_variant", f.working_variant ? json(describe(*f.working_variant)) : json(nullptr)}};
  return out;
}

json loss_json(const LossEstimate& loss) {
  if (!loss.measured()) return nullptr;
  return {{"fraction", loss.fraction()},
          {"outbound", loss.outbound()},
          {"inbound", loss.inbound()},
          {"datagrams_sent", loss.datagrams_sent},
          {"datagrams_arrived", loss.datagrams_arrived},
          {"round_trips", loss.round_trips},
          {"round_trips_failed", loss.round_trips_failed}};
}

json walk_answer_json(const nat::WalkAnswer& a) {
  return {{"answer", std::string(nat::to_string(a.kind))}, {"address", a.address.empty() ? json(nullptr) : json(a.address)}};
}

// protocols[].dropped_at: where each walked variant's genuine probe died.
json dropped_at_json(const Report& report, std::string_view protocol) {
  json out = json::array();
  for (const auto& d : report.drops) {
    if (d.protocol != protocol) continue;
    const auto& p = d.point;
    const bool dropped = p.result == nat::DropResult::dropped;
    json steps = json::array();
    for (const auto& s : p.steps)
      steps.push_back({{"ttl", s.ttl}, {"genuine", walk_answer_json(s.genuine)}, {"control", walk_answer_json(s.control)}});
    out.push_back({{"probe", d.probe},
                   {"variant", d.variant},
                   {"family", std::string(to_string(d.family))},
                   {"result", std::string(nat::to_string(p.result))},
                   {"hop", dropped ? json(p.hop) : json(nullptr)},
                   {"address", dropped ? json(p.address) : json(nullptr)},
                   {"own_router", dropped ? json(p.own_router) : json(nullptr)},
                   {"where", dropped ? json(p.own_router ? "your_router" : "beyond_your_router") : json(nullptr)},
                   {"address_class", dropped ? json(d.hop_class) : json(nullptr)},
                   {"line", drop_line(d)},
                   {"explanation", p.explanation},
                   {"steps", steps}});
  }
  return out;
}

}  // namespace

json to_report_json(const Report& report) {
  json protocols = json::array();
  for (const auto& a : report.protocols) {
    json probes = json::array();
    for (const auto& r : a.probes) probes.push_back(probe_json(r, report.observations_read));
    json entry = {{"protocol", std::string(a.id())},
                         {"title", std::string(a.title())},
                         {"verdict", std::string(to_string(a.verdict))},
                         {"summary", a.summary},
                         {"advice", a.advice},
                         {"findings", a.findings},
                         {"working_variant", a.working_variant ? json(describe(*a.working_variant)) : json(nullptr)},
                         {"probes", probes}};
    if (a.loss_check) {
      entry["loss_check"] = {{"loss", a.loss_check->loss},
                             {"chance", a.loss_check->chance},
                             {"threshold", kChanceThreshold},
                             {"withheld_verdict", a.loss_check->withheld
                                                      ? json(std::string(to_string(*a.loss_check->withheld)))
                                                      : json(nullptr)}};
    }
    if (!a.forms.empty()) entry["forms"] = forms_json(a.forms);
    if (auto dropped = dropped_at_json(report, a.id()); !dropped.empty()) entry["dropped_at"] = std::move(dropped);
    if (!a.families.empty()) {
      json families = json::object();
      for (const auto& f : a.families) {
        json family = {{"verdict", std::string(to_string(f.verdict))}, {"summary", f.summary}};
        if (!f.forms.empty()) family["forms"] = forms_json(f.forms);
        families[std::string(to_string(f.family.value_or(Family::ipv4)))] = std::move(family);
      }
      entry["families"] = families;
    }
    protocols.push_back(std::move(entry));
  }
  json limits = json::array();
  for (const auto& l : report.reflector_limits)
    limits.push_back({{"limit", l.limit}, {"count", l.count}, {"ports", l.ports}, {"detail", l.detail}});
  json attempts = json::array();
  for (const auto& at : report.control_attempts) attempts.push_back({{"port", at.port}, {"result", at.result}});
  return {
      {"schema", std::string(kReportSchema)},
      {"tool", {{"name", "vpncheck"}, {"version", std::string(kVersion)}}},
      {"started_at", report.started_at},
      {"duration_ms", report.duration_ms},
      {"reflector",
       {{"host", report.reflector_host},
        {"address", report.reflector_address},
        {"address_v6", or_null(report.reflector_address_v6)},
        {"control_port", or_null(report.control_port)},
        {"control_attempts", attempts},
        {"control_fell_back_to_ipv4", report.control_fell_back},
        {"version", or_null(report.reflector_version)},
        {"limits", limits}}},
      {"client",
       {{"local_address", or_null(report.local_address)},
        {"public_address", or_null(report.public_address)},
        {"behind_nat", or_null(report.behind_nat)},
        {"nat64", report.nat64 ? json{{"detected", report.nat64->detected},
                                      {"prefix", or_null(report.nat64->prefix)},
                                      {"source", or_null(report.nat64->source)},
                                      {"reflector_ipv4", or_null(report.nat64->reflector_ipv4)},
                                      {"summary", nat64_lines(report)}}
                               : json(nullptr)}}},
      {"nat",
       {{"mapping", or_null(report.nat.mapping)},
        {"filtering", or_null(report.nat.filtering)},
        {"port_preservation", or_null(report.nat.port_preservation)},
        {"hairpinning", report.nat.tests ? or_null(report.nat.tests->hairpinning) : json(nullptr)},
        {"udp_binding_lifetime_s", report.nat.tests && report.nat.tests->lifetime
                                       ? or_null(report.nat.tests->lifetime->report_value())
                                       : json(nullptr)},
        {"double_nat", or_null(report.nat.combined().double_nat)},
        {"cgnat", or_null(report.nat.combined().cgnat)},
        {"path_hops", path_hops_json(report.nat)},
        {"path_mtu", report.nat.tests && report.nat.tests->path ? or_null(report.nat.tests->path->facts.path_mtu)
                                                               : json(nullptr)},
        {"fragments_pass", report.nat.tests && report.nat.tests->path
                               ? or_null(report.nat.tests->path->facts.fragments_pass)
                               : json(nullptr)},
        {"port_mapping", port_mapping_json(report.nat)},
        {"tests", nat_tests_json(report.nat)},
        {"summary", nat_section_lines(report.nat)}}},
      {"observations",
       {{"read", report.observations_read},
        {"error", report.observations_error.empty() ? json(nullptr) : json(report.observations_error)},
        {"dropped_by_reflector", report.observations_dropped}}},
      {"path", {{"loss", loss_json(report.path_loss)}}},
      {"captive_portal", report.captive_portal ? json{{"detected", or_null(report.captive_portal->detected)},
                                                      {"login_url", or_null(report.captive_portal->login_url)},
                                                      {"evidence", report.captive_portal->evidence}}
                                               : json(nullptr)},
      {"protocols", protocols},
      {"required", report.required},
      {"error", or_null(report.error)},
      {"exit_code", static_cast<int>(report.exit_code)},
      {"redacted", report.redacted},
  };
}

}  // namespace vpncheck::client
