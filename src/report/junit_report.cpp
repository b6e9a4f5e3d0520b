#include "src/report/junit_report.h"

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <sstream>

#include "src/verdict/reflector_limits.h"
#include "src/version.h"

namespace vpncheck::client {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Length of the valid UTF-8 sequence at text[i] and its code point; 0 if invalid.
std::size_t utf8_sequence(std::string_view text, std::size_t i, std::uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  std::size_t len = 0;
  std::uint32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
  if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return len;
}

std::string seconds(double ms) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3) << std::max(ms, 0.0) / 1000.0;
  return s.str();
}

// Dual stack: one line per tested family, so a CI log shows which one failed.
std::string family_lines(const ProtocolAssessment& a) {
  std::string text;
  if (a.families.size() < 2) return text;
  for (const auto& f : a.families)
    text += std::string(display_name(*f.family)) + ": " + std::string(to_string(f.verdict)) + " - " + f.summary + "\n";
  return text;
}

std::string failure_text(const Report& r, const ProtocolAssessment& a, bool required, const std::string& reflector_limits) {
  std::string text = a.summary + "\n" + family_lines(a);
  for (const auto& line : drop_lines(r, a.id())) text += "where: " + line + "\n";
  for (const auto& line : a.advice) text += "advice: " + line + "\n";
  for (const auto& f : a.findings) text += "finding: " + f + "\n";
  if (!reflector_limits.empty()) text += "reflector limited its answers: " + reflector_limits + "\n";
  if (required) text += "required: this protocol was --require'd, so the run exits 1\n";
  return text;
}

}  // namespace

std::string xml_escape(std::string_view text, XmlContext context) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint32_t cp = 0;
    const std::size_t len = utf8_sequence(text, i, cp);
    if (len == 0) {  // a stray byte: replace it and resynchronise on the next one
      out += kReplacement;
      ++i;
      continue;
    }
    switch (cp) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\t': out += context == XmlContext::text ? "\t" : "&#9;"; break;
      case '\n': out += context == XmlContext::text ? "\n" : "&#10;"; break;
      case '\r': out += "&#13;"; break;
      default:
        // XML 1.0 §2.2 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
        if (cp < 0x20 || cp == 0xFFFE || cp == 0xFFFF)
          out += kReplacement;
        else
          out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

void write_junit_report(std::ostream& out, const Report& r) {
  const std::string time = seconds(static_cast<double>(r.duration_ms));
  std::size_t failures = 0;
  std::size_t skipped = 0;
  for (const auto& a : r.protocols) {
    if (a.verdict == Verdict::inconclusive)
      ++skipped;
    else if (a.verdict != Verdict::pass)
      ++failures;
  }
  const std::size_t tests = r.error ? 1 : r.protocols.size();
  const std::size_t errors = r.error ? 1 : 0;
  if (r.error) failures = skipped = 0;

  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuite name=\"vpncheck\" tests=\"" << tests << "\" failures=\"" << failures << "\" errors=\"" << errors
      << "\" skipped=\"" << skipped << "\" time=\"" << time << "\" timestamp=\"" << xml_escape(r.started_at)
      << "\">\n";
  auto property = [&](std::string_view name, const std::string& value) {
    out << "    <property name=\"" << name << "\" value=\"" << xml_escape(value) << "\"/>\n";
  };
  out << "  <properties>\n";
  property("vpncheck.version", std::string(kVersion));
  property("reflector.host", r.reflector_host);
  property("reflector.address", r.reflector_address);
  if (r.public_address) property("client.public_address", *r.public_address);
  if (r.behind_nat) property("client.behind_nat", *r.behind_nat ? "true" : "false");
  if (r.nat64) {
    property("client.nat64.detected", r.nat64->detected ? "true" : "false");
    if (r.nat64->prefix) property("client.nat64.prefix", *r.nat64->prefix);
    const auto lines = nat64_lines(r);
    for (std::size_t i = 0; i < lines.size(); ++i) property("client.nat64.note." + std::to_string(i + 1), lines[i]);
  }
  if (r.path_loss.measured()) property("path.loss", percent(r.path_loss.fraction()));
  if (auto loss = loss_line(r.path_loss)) property("path.loss.note", *loss);
  if (r.captive_portal) {
    const auto& portal = *r.captive_portal;
    property("captive_portal.detected", portal.detected ? (*portal.detected ? "true" : "false") : "unknown");
    if (portal.login_url) property("captive_portal.login_url", *portal.login_url);
    property("captive_portal.evidence", portal.evidence);
  }
  const std::string limits = describe_reflector_limits(r.reflector_limits);
  if (!limits.empty()) property("reflector.limits", limits);
  property("redacted", r.redacted ? "true" : "false");
  property("exit_code", std::to_string(static_cast<int>(r.exit_code)));
  out << "  </properties>\n";

  if (r.error) {
    std::string text = *r.error + "\n";
    for (const auto& at : r.control_attempts)
      text += "control API TCP " + std::to_string(at.port) + ": " + at.result + "\n";
    text += "Nothing was concluded about VPN protocols on this network.\n";
    out << "  <testcase classname=\"vpncheck.reflector\" name=\"reflector\" time=\"" << time << "\">\n"
        << "    <error message=\"" << xml_escape("could not test: " + *r.error)
        << "\" type=\"could_not_test\">" << xml_escape(text, XmlContext::text) << "</error>\n"
        << "  </testcase>\n";
  } else {
    for (const auto& a : r.protocols) {
      const std::string id(a.id());
      const bool required = std::find(r.required.begin(), r.required.end(), id) != r.required.end();
      double slowest_ms = 0;
      for (const auto& p : a.probes) slowest_ms = std::max(slowest_ms, p.client.rtt_ms.value_or(0.0));
      out << "  <testcase classname=\"vpncheck." << xml_escape(id) << "\" name=\"" << xml_escape(id)
          << "\" time=\"" << seconds(slowest_ms) << "\"";
      if (a.verdict == Verdict::pass) {
        // The verdict (and exit code) follow IPv4; another family's result still shows.
        const std::string families = family_lines(a);
        if (families.empty()) {
          out << "/>\n";
        } else {
          out << ">\n    <system-out>" << xml_escape(families, XmlContext::text) << "</system-out>\n  </testcase>\n";
        }
        continue;
      }
      const std::string verdict(to_string(a.verdict));
      const std::string element = a.verdict == Verdict::inconclusive ? "skipped" : "failure";
      out << ">\n    <" << element << " message=\"" << xml_escape(verdict + ": " + a.summary) << "\"";
      if (element == "failure") out << " type=\"" << verdict << "\"";
      out << ">" << xml_escape(failure_text(r, a, required, limits), XmlContext::text) << "</" << element << ">\n  </testcase>\n";
    }
  }
  out << "</testsuite>\n";
}

}  // namespace vpncheck::client
