#include "src/report/text_report.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <sstream>

#include "src/report/wrap.h"
#include "src/verdict/reflector_limits.h"
#include "probes/translation.h"
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

// Narrower than this, a column is not worth wrapping into: the text runs on.
constexpr std::size_t kNarrowestColumn = 20;

// Writes `lead` (already laid out, `lead_columns` wide, possibly coloured),
// then `text` wrapped to the style's width, continuation lines indented by
// `indent` columns.
void put_wrapped(std::ostream& out, const TextStyle& style, std::string_view lead, std::size_t lead_columns,
                 std::string_view text, std::size_t indent) {
  auto room = [&](std::size_t used) {
    if (style.width == 0) return std::size_t{0};
    return std::max(style.width > used ? style.width - used : 0, kNarrowestColumn);
  };
  auto lines = wrap_words(text, room(lead_columns), room(indent));
  out << lead << lines.front() << "\n";
  for (std::size_t i = 1; i < lines.size(); ++i) out << std::string(indent, ' ') << lines[i] << "\n";
}

// One sentence of the report's header, wrapped with a hanging indent.
void put_line(std::ostream& out, const TextStyle& style, std::string_view text, std::size_t indent = 2) {
  put_wrapped(out, style, "", 0, text, indent);
}

}  // namespace

bool use_colour(bool no_color_flag, const char* no_color_env, const char* term_env, bool is_terminal) {
  // no-color.org: an empty NO_COLOR does not count.
  const bool env_says_no = no_color_env != nullptr && *no_color_env != '\0';
  const bool dumb = term_env != nullptr && std::string_view(term_env) == "dumb";
  return is_terminal && !no_color_flag && !env_says_no && !dumb;
}

std::size_t terminal_width(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return kDefaultTerminalWidth;
}

TextStyle detect_text_style(bool no_color_flag, bool verbose, int fd) {
  const bool terminal = ::isatty(fd) == 1;
  return {use_colour(no_color_flag, std::getenv("NO_COLOR"), std::getenv("TERM"), terminal), verbose,
          terminal ? terminal_width(fd) : 0};
}

void write_text_report(std::ostream& out, const Report& r, const TextStyle& style) {
  auto paint = [&](std::string_view colour, const std::string& text) {
    return style.color ? std::string(colour) + text + "\033[0m" : text;
  };
  std::ostringstream head;
  head << "vpncheck " << kVersion << " — reflector " << r.reflector_host;
  if (r.reflector_address != r.reflector_host && !r.reflector_address.empty()) {
    head << " (" << r.reflector_address;
    if (r.reflector_address_v6) head << ", " << *r.reflector_address_v6;
    head << ")";
  }
  if (r.control_port) head << ", control API on TCP " << *r.control_port;
  if (r.control_fell_back) head << " over IPv4 (IPv6 let no control connection through; every probe is IPv6)";
  put_line(out, style, head.str());
  if (r.error) {
    const std::string lead = "Could not test: ";
    put_wrapped(out, style, paint("\033[31m", lead), display_width(lead), *r.error, 2);
    if (auto portal = captive_portal_line(r)) put_line(out, style, *portal);
    out << "Nothing was concluded about VPN protocols on this network.\n";
    return;
  }
  // Say how the control API was reached only when the preferred port did not work.
  if (!r.control_attempts.empty() && r.control_attempts.front().result != "ok") {
    std::ostringstream line;
    line << "Control API:";
    for (const auto& a : r.control_attempts) line << " TCP " << a.port << " " << a.result << ";";
    put_line(out, style, line.str());
  }
  if (auto limits = describe_reflector_limits(r.reflector_limits); !limits.empty()) {
    const std::string lead = "The reflector limited its answers: ";
    put_wrapped(out, style, paint("\033[33m", lead), display_width(lead), limits + ".", 2);
  }
  if (auto portal = captive_portal_line(r)) {
    const std::string lead = "Note: ";
    put_wrapped(out, style, paint("\033[33m", lead), display_width(lead), *portal, 2);
  }
  if (r.local_address && r.public_address) {
    std::ostringstream line;
    line << "This machine: " << *r.local_address << ", seen by the reflector as " << *r.public_address;
    if (r.behind_nat) line << (*r.behind_nat ? " (behind NAT" : " (no NAT");
    if (r.nat.port_preservation)
      line << (*r.nat.port_preservation ? ", source ports kept" : ", source ports rewritten");
    line << ")";
    put_line(out, style, line.str());
  }
  if (auto lines = nat64_lines(r); !lines.empty()) {
    out << "NAT64:\n";
    for (const auto& line : lines) put_wrapped(out, style, "  ", 2, line, 4);
  }
  if (auto nat_lines = nat_section_lines(r.nat); !nat_lines.empty()) {
    out << "NAT:\n";
    for (const auto& line : nat_lines) put_wrapped(out, style, "  ", 2, line, 4);
  }
  if (r.redacted) put_line(out, style, "Public addresses are redacted (same address, same redacted-<hash> token).");
  if (auto loss = loss_line(r.path_loss)) put_line(out, style, *loss);
  if (!r.observations_read)
    put_line(out, style,
             "Note: the reflector's record of arrivals could not be read (" + r.observations_error +
                 "); blocked and outbound-only cannot be told apart.");
  out << "\n";

  std::size_t title_width = 9;
  for (const auto& a : r.protocols) title_width = std::max(title_width, display_width(a.title()) + 2);
  constexpr std::size_t verdict_width = 15;
  const std::size_t summary_column = title_width + verdict_width;
  out << pad("PROTOCOL", title_width) << pad("VERDICT", verdict_width) << "SUMMARY\n";
  for (const auto& a : r.protocols) {
    std::string verdict(to_string(a.verdict));
    put_wrapped(out, style, pad(a.title(), title_width) + paint(colour_for(a.verdict), pad(verdict, verdict_width)),
                summary_column, a.summary, summary_column);
    // "IPv6: blocked — ...", under the protocol's own line.
    auto part_line = [&](const std::string& part, Verdict part_verdict, const std::string& summary) {
      const std::string part_verdict_text(to_string(part_verdict));
      put_wrapped(out, style,
                  std::string(title_width, ' ') + part + ": " + paint(colour_for(part_verdict), part_verdict_text) +
                      " — ",
                  title_width + display_width(part) + 2 + part_verdict_text.size() + 3, summary, summary_column);
    };
    // Dual stack: the table shows the first family's verdict; say where another disagrees.
    for (std::size_t i = 1; i < a.families.size(); ++i) {
      const auto& f = a.families[i];
      if (f.verdict != a.verdict) part_line(std::string(display_name(f.family.value_or(Family::ipv6))), f.verdict, f.summary);
    }
    // Forms (OpenVPN's plain, tls-auth, ...) judged otherwise than the protocol.
    for (const auto& f : a.forms)
      if (f.verdict != a.verdict && f.verdict != Verdict::inconclusive) part_line(f.form, f.verdict, f.summary);
    // Where a walked variant's probe died on the path.
    for (const auto& line : drop_lines(r, a.id()))
      put_wrapped(out, style, std::string(title_width, ' '), title_width, line, summary_column);
    for (const auto& advice : a.advice)
      put_wrapped(out, style, std::string(summary_column, ' ') + "→ ", summary_column + 2, advice, summary_column + 2);
    if (!style.verbose) continue;
    const std::string evidence_indent(title_width + 2, ' ');
    if (a.loss_check) {
      std::ostringstream line;
      line << "evidence: at the " << percent(a.loss_check->loss)
           << " loss measured, chance alone would fail a probe this way " << describe_chance(a.loss_check->chance)
           << (a.loss_check->withheld ? " (too likely to judge)" : "");
      put_wrapped(out, style, evidence_indent, evidence_indent.size(), line.str(), title_width + 4);
    }
    for (const auto& p : a.probes) {
      std::string name = p.probe.name();
      if (a.families.size() > 1) name += " " + std::string(display_name(p.probe.family));
      const std::string lead = evidence_indent + pad(name, 35) + " ";
      std::ostringstream line;
      line << to_string(p.client.outcome);
      if (p.client.sends > 1) line << " after " << p.client.sends << " sends";
      if (p.client.rtt_ms) {
        std::ostringstream rtt;
        rtt << std::fixed << std::setprecision(1) << *p.client.rtt_ms;
        line << " " << rtt.str() << " ms";
      }
      // Multi-message exchanges (L2TP): how far it got, and where it stopped.
      if (p.client.steps_answered > 1 || stopped_midway(p)) {
        line << ", " << p.client.steps_answered << (p.client.steps_answered == 1 ? " step" : " steps") << " answered";
        if (stopped_midway(p) && !p.client.detail.empty() && r.observations_read) line << " (" << p.client.detail << ")";
      }
      if (p.client.outcome == Outcome::not_run || p.client.outcome == Outcome::not_permitted ||
          !r.observations_read) {
        if (!p.client.detail.empty()) line << " (" << p.client.detail << ")";
      } else if (p.arrivals.empty()) {
        line << "; reflector saw nothing";
      } else {
        const auto& first = p.arrivals.front();
        line << "; reflector saw it from " << first.source.address << ":" << first.source.port;
        if (first.ttl) line << " ttl " << *first.ttl;
        if (auto t = translate(p))
          for (const auto& m : t->modifications) line << "; " << m;
      }
      put_wrapped(out, style, lead, display_width(lead), line.str(), title_width + 4);
      // Decoded protocol evidence (e.g. IKE's NAT detection hashes, AH's ICV check).
      const std::size_t indent = title_width + 4;
      if (!p.client.reply_fields.empty()) {
        std::string fields = "answer:";
        for (const auto& [key, value] : p.client.reply_fields) fields += " " + key + "=" + value;
        put_wrapped(out, style, std::string(indent, ' '), indent, fields, indent + 2);
      }
      if (r.observations_read && !p.arrivals.empty() && !p.arrivals.front().fields.empty()) {
        std::string fields = "reflector decoded:";
        for (const auto& [key, value] : p.arrivals.front().fields) fields += " " + key + "=" + value;
        put_wrapped(out, style, std::string(indent, ' '), indent, fields, indent + 2);
      }
    }
  }
  if (!r.required.empty()) {
    std::string line = "Required:";
    for (const auto& id : r.required) line += " " + id;
    line += r.exit_code == ExitCode::ok ? " — all passed." : " — not all passed (exit 1).";
    out << "\n";
    put_line(out, style, line);
  }
}

}  // namespace vpncheck::client
