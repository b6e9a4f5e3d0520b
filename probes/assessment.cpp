#include "probes/assessment.h"

#include <cstdio>
#include <set>

#include "probes/registry.h"

namespace vpncheck::probes {

std::string_view to_string(ProbeKind kind) { return kind == ProbeKind::genuine ? "genuine" : "control"; }

std::string_view to_string(Family f) { return f == Family::ipv4 ? "ipv4" : "ipv6"; }
std::string_view display_name(Family f) { return f == Family::ipv4 ? "IPv4" : "IPv6"; }

std::string PlannedProbe::name() const {
  std::string out = std::string(module->id) + "/";
  if (!variant.piece.empty()) out += std::string(variant.piece) + "/";
  out += std::string(to_string(variant.transport)) + "/" + std::to_string(variant.port);
  if (kind == ProbeKind::control) out += "/control";
  return out;
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::reply: return "reply";
    case Outcome::invalid_reply: return "invalid_reply";
    case Outcome::timeout: return "timeout";
    case Outcome::refused: return "refused";
    case Outcome::reset: return "reset";
    case Outcome::unreachable: return "unreachable";
    case Outcome::not_run: return "not_run";
    case Outcome::local_error: return "local_error";
    case Outcome::not_permitted: return "not_permitted";
  }
  return "local_error";
}

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::pass: return "pass";
    case Verdict::restricted: return "restricted";
    case Verdict::outbound_only: return "outbound_only";
    case Verdict::blocked: return "blocked";
    case Verdict::modified: return "modified";
    case Verdict::inconclusive: return "inconclusive";
  }
  return "inconclusive";
}

std::string_view ProtocolAssessment::id() const {
  return module ? module->id : derived ? derived->id : std::string_view{};
}

std::string_view ProtocolAssessment::title() const {
  return module ? module->title : derived ? derived->title : std::string_view{};
}

bool answered(const ProbeResult& r) { return r.client.outcome == Outcome::reply; }

bool reached_reflector(const ProbeResult& r) { return !r.arrivals.empty() || answered(r); }

bool was_tested(const ProbeResult& r) {
  return r.client.outcome != Outcome::not_run && r.client.outcome != Outcome::not_permitted;
}

bool reflector_could_not_listen(const ProbeResult& r) {
  // The plan's wording (src/run/plan.cpp) for a port in the reflector's unavailable_ports.
  return r.client.outcome == Outcome::not_run && r.client.detail.starts_with("the reflector could not listen");
}

std::string describe(const ProbeVariant& v) { return describe_place(v); }

bool tls_intercepted(const ProbeResult& r) {
  auto it = r.client.reply_fields.find("tls_intercepted");
  return r.client.outcome == Outcome::invalid_reply && it != r.client.reply_fields.end() && it->second == "true";
}

bool stopped_midway(const ProbeResult& r) {
  return was_tested(r) && !answered(r) && r.client.steps_answered > 0;
}

std::size_t messages_arrived(const ProbeResult& r) {
  std::set<std::string> digests;
  for (const auto& arrival : r.arrivals) digests.insert(arrival.payload_sha256);
  return digests.size();
}

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.1f ms" : "%.0f ms", ms);
  return buf;
}

}  // namespace vpncheck::probes
