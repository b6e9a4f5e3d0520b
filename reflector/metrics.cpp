#include "reflector/metrics.h"

namespace vpncheck::reflector {
namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

std::string label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + prometheus_escape_label(value) + "\"";
}

}  // namespace

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::empty: return "empty";
    case DropReason::oversized: return "oversized";
    case DropReason::bad_frame: return "bad_frame";
    case DropReason::unrecognised: return "unrecognised";
    case DropReason::unknown_session: return "unknown_session";
    case DropReason::observation_limit: return "observation_limit";
    case DropReason::rate_limited: return "rate_limited";
    case DropReason::count_: break;
  }
  return "unknown";
}

std::uint64_t DropCounters::total() const {
  std::uint64_t sum = 0;
  for (auto c : counts_) sum += c;
  return sum;
}

std::string DropCounters::summary() const {
  std::string out;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    if (!out.empty()) out += ' ';
    out += std::string(to_string(static_cast<DropReason>(i))) + "=" + std::to_string(counts_[i]);
  }
  return out.empty() ? "none" : out;
}

std::string prometheus_escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string render_prometheus(const Metrics& m, std::size_t sessions_open) {
  std::string out;
  constexpr std::string_view kOpen = "vpncheck_reflector_sessions_open";
  family(out, kOpen, "gauge", "Sessions currently live.");
  sample(out, kOpen, {}, sessions_open);

  constexpr std::string_view kBytes = "vpncheck_reflector_observation_bytes";
  family(out, kBytes, "gauge", "Bytes all live sessions' stored observations take (--max-total-observation-bytes).");
  sample(out, kBytes, {}, m.observation_bytes);

  constexpr std::string_view kCreated = "vpncheck_reflector_sessions_created_total";
  family(out, kCreated, "counter", "Sessions opened through the control API.");
  sample(out, kCreated, {}, m.sessions_created);

  constexpr std::string_view kExpired = "vpncheck_reflector_sessions_expired_total";
  family(out, kExpired, "counter", "Sessions removed because their TTL ran out (observations deleted).");
  sample(out, kExpired, {}, m.sessions_expired);

  constexpr std::string_view kClosed = "vpncheck_reflector_sessions_closed_total";
  family(out, kClosed, "counter", "Sessions closed by the client (observations deleted).");
  sample(out, kClosed, {}, m.sessions_closed);

  constexpr std::string_view kProbes = "vpncheck_reflector_probes_recorded_total";
  family(out, kProbes, "counter", "Probe arrivals recorded as observations, by protocol and kind.");
  for (const auto& [key, count] : m.probes_recorded)
    sample(out, kProbes, label("protocol", key.first) + "," + label("kind", key.second), count);

  constexpr std::string_view kSent = "vpncheck_reflector_replies_sent_total";
  family(out, kSent, "counter", "In-protocol replies sent to probes.");
  sample(out, kSent, {}, m.replies_sent);

  constexpr std::string_view kFailed = "vpncheck_reflector_replies_failed_total";
  family(out, kFailed, "counter", "Replies that could not be sent (send or write failed).");
  sample(out, kFailed, {}, m.replies_failed);

  constexpr std::string_view kDrops = "vpncheck_reflector_drops_total";
  family(out, kDrops, "counter",
         "Arrivals not answered, by reason (rate_limited ones are still recorded).");
  for (std::size_t i = 0; i < static_cast<std::size_t>(DropReason::count_); ++i) {
    auto reason = static_cast<DropReason>(i);
    sample(out, kDrops, label("reason", to_string(reason)), m.drops.get(reason));
  }
  return out;
}

}  // namespace vpncheck::reflector
