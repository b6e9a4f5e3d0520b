#include "src/report/markdown_report.h"

#include <algorithm>

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
    out << "**Could not test:** " << markdown_escape(*r.error) << "\n\n"
        << "Nothing was concluded about VPN protocols on this network (exit 3).\n";
    return;
  }
  if (!r.observations_read)
    out << "> **Note:** the reflector's record of arrivals could not be read ("
        << markdown_escape(r.observations_error) << "); blocked and outbound-only cannot be told apart.\n\n";

  out << "| Protocol | Verdict | Summary |\n|---|---|---|\n";
  for (const auto& a : r.protocols)
    out << "| " << markdown_escape(a.module->title) << " | " << mark_for(a.verdict) << " `" << to_string(a.verdict)
        << "` | " << markdown_escape(a.summary) << " |\n";

  bool heading = false;
  for (const auto& a : r.protocols) {
    if (a.verdict == Verdict::pass || a.advice.empty()) continue;
    if (!heading) out << "\n### What to do\n";
    heading = true;
    out << "\n**" << markdown_escape(a.module->title) << "** (" << to_string(a.verdict) << ")\n\n";
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
