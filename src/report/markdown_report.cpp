#include "src/report/markdown_report.h"

#include <algorithm>

#include "src/verdict/reflector_limits.h"
#include "src/version.h"

namespace vpncheck::client {
namespace {

std::string_view mark_for(Verdict v) {
  switch (v) {
    case Verdict::pass: return "✅";
    case Verdict::restricted:
    case Verdict::modified:
    case Verdict::outbound_only: return "⚠️";
    case Verdict::blocked: return "❌";
    case Verdict::inconclusive: return "❔";
  }
  return "";
}

}  // namespace

std::string markdown_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '|': out += "\\|"; break;
      case '\\': out += "\\\\"; break;
      case '<': out += "&lt;"; break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        out += ' ';
        break;
      case '\n': out += ' '; break;
      default: out += c;
    }
  }
  return out;
}

void write_markdown_report(std::ostream& out, const Report& r) {
  out << "## vpncheck: VPN protocols on this network\n\n";
  out << "Reflector " << markdown_escape(r.reflector_host);
  if (!r.reflector_address.empty() && r.reflector_address != r.reflector_host)
    out << " (" << markdown_escape(r.reflector_address) << ")";
  if (r.control_port) out << ", control API on TCP " << *r.control_port;
  if (r.local_address && r.public_address) {
    out << ". This machine: " << markdown_escape(*r.local_address) << ", seen as "
        << markdown_escape(*r.public_address);
    if (r.behind_nat) out << (*r.behind_nat ? " — behind NAT" : " — no NAT");
    if (r.nat.port_preservation) out << (*r.nat.port_preservation ? ", source ports kept" : ", source ports rewritten");
  }
  out << ".";
  if (r.redacted) out << " Public addresses are redacted.";
  out << "\n\n";

  if (r.error) {
    out << "**Could not test:** " << markdown_escape(*r.error) << "\n\n";
    if (auto portal = captive_portal_line(r)) out << markdown_escape(*portal) << "\n\n";
    out << "Nothing was concluded about VPN protocols on this network (exit 3).\n";
    return;
  }
  if (auto portal = captive_portal_line(r)) out << "> **Note:** " << markdown_escape(*portal) << "\n\n";
  if (auto lines = nat64_lines(r); !lines.empty()) {
    out << "**NAT64:**\n\n";
    for (const auto& line : lines) out << "- " << markdown_escape(line) << "\n";
    out << "\n";
  }
  if (auto loss = loss_line(r.path_loss)) out << "> **Note:** " << markdown_escape(*loss) << "\n\n";
  if (auto limits = describe_reflector_limits(r.reflector_limits); !limits.empty())
    out << "> **Note:** the reflector limited its answers (" << markdown_escape(limits)
        << "); verdicts that depend on them are inconclusive.\n\n";
  if (!r.observations_read)
    out << "> **Note:** the reflector's record of arrivals could not be read ("
        << markdown_escape(r.observations_error) << "); blocked and outbound-only cannot be told apart.\n\n";

  // Dual stack: a verdict column per family, and each family's summary when they differ.
  const bool dual = std::any_of(r.protocols.begin(), r.protocols.end(),
                                [](const ProtocolAssessment& a) { return a.families.size() > 1; });
  auto verdict_cell = [](Verdict v) { return std::string(mark_for(v)) + " `" + std::string(to_string(v)) + "`"; };
  if (!dual) {
    out << "| Protocol | Verdict | Summary |\n|---|---|---|\n";
    for (const auto& a : r.protocols)
      out << "| " << markdown_escape(a.title()) << " | " << verdict_cell(a.verdict) << " | "
          << markdown_escape(a.summary) << " |\n";
  } else {
    out << "| Protocol | IPv4 | IPv6 | Summary |\n|---|---|---|---|\n";
    for (const auto& a : r.protocols) {
      std::string v4 = "not tested", v6 = "not tested", summary;
      for (const auto& f : a.families) {
        (*f.family == Family::ipv4 ? v4 : v6) = verdict_cell(f.verdict);
        summary += (summary.empty() ? "" : " ") + std::string(display_name(*f.family)) + ": " + f.summary;
      }
      const bool same = a.families.size() < 2 || a.families.front().verdict == a.families.back().verdict;
      if (same || summary.empty()) summary = a.summary;
      out << "| " << markdown_escape(a.title()) << " | " << v4 << " | " << v6 << " | "
          << markdown_escape(summary) << " |\n";
    }
  }

  bool heading = false;
  for (const auto& a : r.protocols) {
    if (a.verdict == Verdict::pass || a.advice.empty()) continue;
    if (!heading) out << "\n### What to do\n";
    heading = true;
    out << "\n**" << markdown_escape(a.title()) << "** (" << to_string(a.verdict) << ")\n\n";
    for (const auto& line : drop_lines(r, a.id())) out << "- Where: " << markdown_escape(line) << "\n";
    for (const auto& line : a.advice) out << "- " << markdown_escape(line) << "\n";
  }
  if (!r.required.empty()) {
    out << "\nRequired:";
    for (const auto& id : r.required) out << " `" << markdown_escape(id) << "`";
    out << (r.exit_code == ExitCode::ok ? " — all passed.\n" : " — not all passed (exit 1).\n");
  }
  out << "\n<sub>vpncheck " << kVersion << ", started " << markdown_escape(r.started_at) << ", "
      << r.duration_ms << " ms</sub>\n";
}

}  // namespace vpncheck::client
