#include "src/report/text_report.h"

#include <unistd.h>

#include <cstdlib>
#include <iomanip>
#include <sstream>

#include "src/verdict/reflector_limits.h"
#include "src/verdict/translation.h"
#include "src/version.h"

namespace vpncheck::client {
namespace {

std::string_view colour_for(Verdict v) {
  switch (v) {
    case Verdict::pass: return "\033[32m";  // green
    case Verdict::restricted:
    case Verdict::modified:
    case Verdict::outbound_only: return "\033[33m";  // yellow
    case Verdict::blocked: return "\033[31m";        // red
    case Verdict::inconclusive: return "\033[90m";   // grey
  }
  return "";
}

std::string pad(std::string_view text, std::size_t width) {
  std::string out(text);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}

}  // namespace

TextStyle detect_text_style(bool no_color_flag, bool verbose, int fd) {
  const char* no_color_env = std::getenv("NO_COLOR");
  bool env_says_no = no_color_env != nullptr && *no_color_env != '\0';
  return {!no_color_flag && !env_says_no && ::isatty(fd) == 1, verbose};
}

void write_text_report(std::ostream& out, const Report& r, const TextStyle& style) {
  auto paint = [&](std::string_view colour, const std::string& text) {
    return style.color ? std::string(colour) + text + "\033[0m" : text;
  };
  out << "vpncheck " << kVersion << " — reflector " << r.reflector_host;
  if (r.reflector_address != r.reflector_host && !r.reflector_address.empty()) {
    out << " (" << r.reflector_address;
    if (r.reflector_address_v6) out << ", " << *r.reflector_address_v6;
    out << ")";
  }
  if (r.control_port) out << ", control API on TCP " << *r.control_port;
  if (r.control_fell_back) out << " over IPv4 (IPv6 let no control connection through; every probe is IPv6)";
  out << "\n";
  if (r.error) {
    out << paint("\033[31m", "Could not test: ") << *r.error << "\n";
    if (auto portal = captive_portal_line(r)) out << *portal << "\n";
    out << "Nothing was concluded about VPN protocols on this network.\n";
    return;
  }
  // Say how the control API was reached only when the preferred port did not work.
  if (!r.control_attempts.empty() && r.control_attempts.front().result != "ok") {
    out << "Control API:";
    for (const auto& a : r.control_attempts) out << " TCP " << a.port << " " << a.result << ";";
    out << "\n";
  }
  if (auto portal = captive_portal_line(r)) out << paint("\033[33m", "Note: ") << *portal << "\n";
  if (auto limits = describe_reflector_limits(r.reflector_limits); !limits.empty())
    out << paint("\033[33m", "The reflector limited its answers: ") << limits << ".\n";
  if (r.local_address && r.public_address) {
    out << "This machine: " << *r.local_address << ", seen by the reflector as " << *r.public_address;
    if (r.behind_nat) out << (*r.behind_nat ? " (behind NAT" : " (no NAT");
    if (r.nat.port_preservation)
      out << (*r.nat.port_preservation ? ", source ports kept" : ", source ports rewritten");
    out << ")\n";
  }
  if (auto nat_lines = nat_section_lines(r.nat); !nat_lines.empty()) {
    out << "NAT:\n";
    for (const auto& line : nat_lines) out << "  " << line << "\n";
  }
  if (r.redacted) out << "Public addresses are redacted (same address, same redacted-<hash> token).\n";
  if (auto loss = loss_line(r.path_loss)) out << *loss << "\n";
  if (!r.observations_read)
    out << "Note: the reflector's record of arrivals could not be read (" << r.observations_error
        << "); blocked and outbound-only cannot be told apart.\n";
  out << "\n";

  std::size_t title_width = 9;
  for (const auto& a : r.protocols) title_width = std::max(title_width, a.module->title.size() + 2);
  out << pad("PROTOCOL", title_width) << pad("VERDICT", 15) << "SUMMARY\n";
  for (const auto& a : r.protocols) {
    std::string verdict(to_string(a.verdict));
    out << pad(a.module->title, title_width) << paint(colour_for(a.verdict), pad(verdict, 15)) << a.summary << "\n";
    // Dual stack: the table shows the first family's verdict; say where another disagrees.
    for (std::size_t i = 1; i < a.families.size(); ++i) {
      const auto& f = a.families[i];
      if (f.verdict == a.verdict) continue;
      out << std::string(title_width, ' ') << display_name(f.family.value_or(Family::ipv6)) << ": "
          << paint(colour_for(f.verdict), std::string(to_string(f.verdict))) << " — " << f.summary << "\n";
    }
    for (const auto& advice : a.advice) out << std::string(title_width + 15, ' ') << "→ " << advice << "\n";
    if (!style.verbose) continue;
    if (a.loss_check)
      out << std::string(title_width + 2, ' ') << "evidence: at the " << percent(a.loss_check->loss)
          << " loss measured, chance alone would fail a probe this way " << describe_chance(a.loss_check->chance)
          << (a.loss_check->withheld ? " (too likely to judge)" : "") << "\n";
    for (const auto& p : a.probes) {
      std::string name = p.probe.name();
      if (a.families.size() > 1) name += " " + std::string(display_name(p.probe.family));
      out << std::string(title_width + 2, ' ') << pad(name, 35) << " " << to_string(p.client.outcome);
      if (p.client.sends > 1) out << " after " << p.client.sends << " sends";
      if (p.client.rtt_ms) {
        std::ostringstream rtt;  // keep the caller's stream flags untouched
        rtt << std::fixed << std::setprecision(1) << *p.client.rtt_ms;
        out << " " << rtt.str() << " ms";
      }
      // Multi-message exchanges (L2TP): how far it got, and where it stopped.
      if (p.client.steps_answered > 1 || stopped_midway(p)) {
        out << ", " << p.client.steps_answered << (p.client.steps_answered == 1 ? " step" : " steps") << " answered";
        if (stopped_midway(p) && !p.client.detail.empty() && r.observations_read) out << " (" << p.client.detail << ")";
      }
      if (p.client.outcome == Outcome::not_run || p.client.outcome == Outcome::not_permitted ||
          !r.observations_read) {
        if (!p.client.detail.empty()) out << " (" << p.client.detail << ")";
      } else if (p.arrivals.empty()) {
        out << "; reflector saw nothing";
      } else {
        const auto& first = p.arrivals.front();
        out << "; reflector saw it from " << first.source.address << ":" << first.source.port;
        if (first.ttl) out << " ttl " << *first.ttl;
        if (auto t = translate(p))
          for (const auto& m : t->modifications) out << "; " << m;
      }
      out << "\n";
      // Decoded protocol evidence (e.g. IKE's NAT detection hashes, AH's ICV check).
      const std::string indent(title_width + 4, ' ');
      if (!p.client.reply_fields.empty()) {
        out << indent << "answer:";
        for (const auto& [key, value] : p.client.reply_fields) out << " " << key << "=" << value;
        out << "\n";
      }
      if (r.observations_read && !p.arrivals.empty() && !p.arrivals.front().fields.empty()) {
        out << indent << "reflector decoded:";
        for (const auto& [key, value] : p.arrivals.front().fields) out << " " << key << "=" << value;
        out << "\n";
      }
    }
  }
  if (!r.required.empty()) {
    out << "\nRequired:";
    for (const auto& id : r.required) out << " " << id;
    out << (r.exit_code == ExitCode::ok ? " — all passed.\n" : " — not all passed (exit 1).\n");
  }
}

}  // namespace vpncheck::client
