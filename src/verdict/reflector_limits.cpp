#include "src/verdict/reflector_limits.h"

#include <algorithm>
#include <array>
#include <map>

namespace vpncheck::client {
namespace {

namespace kind = probes::limit_kind;
namespace code = probes::reply_code;

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// "rate limit: 3 answers withheld", for a session limit or for answers withheld per reply code.
std::string limit_phrase(std::string_view limit, std::uint64_t n) {
  if (limit == kind::kRateLimit || limit == code::kRateLimited)
    return "rate limit: " + plural(n, "answer", "answers") + " withheld";
  if (limit == code::kBatchFull) return "reply queue full: " + plural(n, "answer", "answers") + " not sent";
  if (limit == code::kSendFailed) return "send failed: " + plural(n, "answer", "answers") + " not sent";
  if (limit == code::kAmplification) return "no-amplification rule: " + plural(n, "answer", "answers") + " withheld";
  if (limit == kind::kConnectionSlots)
    return "connection slots full: " + plural(n, "TCP connection", "TCP connections") + " refused";
  if (limit == kind::kObservationLimit) return "record full: " + plural(n, "arrival", "arrivals") + " not recorded";
  if (limit == kind::kFlowTable) return "flow table full: " + plural(n, "flow", "flows") + " forgotten";
  if (limit == kind::kPptpCalls) return "PPTP call table full: " + plural(n, "call", "calls") + " forgotten";
  if (limit == kind::kNatPending)
    return "NAT test table full: " + plural(n, "late answer", "late answers") + " not scheduled";
  return std::string(limit) + ": " + std::to_string(n);  // a newer reflector's limit
}

// The flag that raises a limit, for the advice ("" when it has none).
std::string_view flag_for(std::string_view limit) {
  if (limit == kind::kRateLimit || limit == code::kRateLimited) return "--rate-limit";
  if (limit == kind::kConnectionSlots) return "--max-connections";
  if (limit == kind::kObservationLimit) return "--max-observations";
  return "";
}

const probes::ReflectorLimit* find_limit(const ReflectorLimits& limits, std::string_view limit) {
  auto it = std::find_if(limits.begin(), limits.end(),
                         [&](const probes::ReflectorLimit& l) { return l.limit == limit && l.count > 0; });
  return it == limits.end() ? nullptr : &*it;
}

// What explains one assessment's failures: answers withheld by reply code
// (counted over its own probes), and the session limits that apply.
struct Explanation {
  std::map<std::string, std::uint64_t> withheld;
  std::vector<const probes::ReflectorLimit*> session;

  bool any() const { return !withheld.empty() || !session.empty(); }
  void add(const probes::ReflectorLimit* limit) {
    if (std::find(session.begin(), session.end(), limit) == session.end()) session.push_back(limit);
  }
};

// Did a limit of the reflector's cost this (failed) probe its answer?
void explain(const ProbeResult& r, const ReflectorLimits& limits, Explanation& why) {
  bool withheld = false;
  for (const auto& arrival : r.arrivals) {
    if (arrival.reply.sent || !probes::withheld_by_reflector(arrival.reply.code)) continue;
    ++why.withheld[arrival.reply.code];
    withheld = true;
  }
  if (withheld) return;
  // The rest explain only a message the reflector has no record of.
  if (messages_arrived(r) > r.client.steps_answered) return;
  const auto outcome = r.client.outcome;
  if (r.probe.variant.transport == probes::Transport::tcp &&
      (outcome == Outcome::reset || outcome == Outcome::refused || outcome == Outcome::timeout)) {
    // A refused connection is closed unread: the client sees a reset (or the end of the stream).
    const auto* slots = find_limit(limits, kind::kConnectionSlots);
    if (slots != nullptr && (slots->ports.empty() || std::find(slots->ports.begin(), slots->ports.end(),
                                                               r.probe.variant.port) != slots->ports.end()))
      why.add(slots);
  }
  for (auto unrecorded : {kind::kObservationLimit, kind::kFlowTable, kind::kPptpCalls})
    if (const auto* limit = find_limit(limits, unrecorded)) why.add(limit);
}

// Findings that blame the network for a loss; a reflector limit explains the loss instead.
constexpr std::array<std::string_view, 6> kLossFindings{
    finding::kReturnPathBlocked, finding::kPortBlocking,        finding::kSignatureBlocking,
    finding::kConnectionReset,   finding::kExchangeIncomplete, finding::kFragmentsDropped};

// True if the verdict changed.
bool apply(ProtocolAssessment& a, const ReflectorLimits& limits) {
  if (a.verdict != Verdict::blocked && a.verdict != Verdict::outbound_only && a.verdict != Verdict::restricted)
    return false;
  Explanation why;
  for (const auto& r : a.probes) {
    if (r.probe.kind != ProbeKind::genuine || !was_tested(r) || answered(r)) continue;
    // Restricted rests on the standard form failing: an alternative already works.
    if (a.verdict == Verdict::restricted && !r.probe.variant.standard) continue;
    explain(r, limits, why);
  }
  if (!why.any()) return false;

  std::vector<std::string> phrases;
  std::vector<std::string_view> flags;
  auto note = [&](std::string_view limit, std::uint64_t n) {
    phrases.push_back(limit_phrase(limit, n));
    auto flag = flag_for(limit);
    if (!flag.empty() && std::find(flags.begin(), flags.end(), flag) == flags.end()) flags.push_back(flag);
  };
  for (const auto& [c, n] : why.withheld) note(c, n);
  for (const auto* limit : why.session) note(limit->limit, limit->count);
  std::string list;
  for (const auto& p : phrases) list += (list.empty() ? "" : "; ") + p;

  const std::string title(a.title());
  a.verdict = Verdict::inconclusive;
  a.summary = title + " could not be judged: the reflector limited its answers (" + list +
              "), so the missing answers say nothing about this network.";
  std::erase_if(a.findings, [](const std::string& f) {
    return std::find(kLossFindings.begin(), kLossFindings.end(), f) != kLossFindings.end();
  });
  a.findings.emplace_back(finding::kReflectorLimited);
  a.advice = {"Run vpncheck again in a minute: the reflector's limits count per source address (everyone behind "
              "the same NAT shares one) and recover over time."};
  std::string own = "Or test against a reflector of your own (vpncheck-reflector)";
  if (!flags.empty()) {
    own += ", or have this one's limits raised (";
    for (std::size_t i = 0; i < flags.size(); ++i) own += (i ? ", " : "") + std::string(flags[i]);
    own += ")";
  }
  a.advice.push_back(own + ".");
  return true;
}

}  // namespace

void apply_reflector_limits(std::vector<ProtocolAssessment>& protocols, const ReflectorLimits& limits) {
  for (auto& a : protocols) {
    if (a.families.empty()) {
      apply(a, limits);
      continue;
    }
    bool first_changed = false;
    for (std::size_t i = 0; i < a.families.size(); ++i)
      if (apply(a.families[i], limits) && i == 0) first_changed = true;
    if (!first_changed) continue;
    // The assessment's own verdict is its first family's (ProtocolAssessment::families).
    const auto& first = a.families.front();
    a.verdict = first.verdict;
    a.summary = first.summary;
    a.advice = first.advice;
    a.findings = first.findings;
  }
}

std::string describe_reflector_limits(const ReflectorLimits& limits) {
  std::string out;
  for (const auto& l : limits) {
    if (l.count == 0) continue;
    out += (out.empty() ? "" : "; ") + limit_phrase(l.limit, l.count);
    if (l.ports.empty()) continue;
    out += l.ports.size() == 1 ? " (port " : " (ports ";
    for (std::size_t i = 0; i < l.ports.size(); ++i) out += (i ? ", " : "") + std::to_string(l.ports[i]);
    out += ")";
  }
  return out;
}

}  // namespace vpncheck::client
