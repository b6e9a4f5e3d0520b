#include "src/report/html_report.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "probes/ip.h"
#include "src/report/junit_report.h"

namespace vpncheck::client {
namespace {

using nlohmann::json;

// A string field, "" when absent or not a string (null = not known).
std::string str(const json& j, std::string_view key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The array `key` of `j` by reference (an empty one when absent or not an array).
const json& array_at(const json& j, std::string_view key) {
  static const json empty = json::array();
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : empty;
}

// The object `key` of `j` by reference (an empty one when absent or not an object).
const json& object_at(const json& j, std::string_view key) {
  static const json empty = json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : empty;
}

// true / false / unknown (null or absent).
enum class Tri { yes, no, unknown };
Tri tri(const json& j, std::string_view key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return Tri::unknown;
  return it->get<bool>() ? Tri::yes : Tri::no;
}

std::string words(std::string text) {
  std::replace(text.begin(), text.end(), '_', ' ');
  return text;
}

constexpr std::string_view kStyle = R"css(
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f4f6f9; }
header { background: #1d2430; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 2px 0; color: #cfd6e2; }
main { padding: 8px 28px 28px; }
.notes { background: #fff; border-radius: 8px; padding: 10px 18px; margin: 16px 0; }
.notes ul { margin: 4px 0; padding-left: 20px; }
.error { background: #fde8e8; border-left: 6px solid #c62828; padding: 14px 18px; border-radius: 8px; margin: 16px 0; }
section.protocol { background: #fff; border-radius: 8px; margin: 16px 0; padding: 14px 18px;
                   border-left: 6px solid #9aa3b1; }
section.verdict-pass { border-left-color: #2e7d32; }
section.verdict-restricted, section.verdict-outbound_only, section.verdict-modified { border-left-color: #e0a100; }
section.verdict-blocked { border-left-color: #c62828; }
h2 { margin: 0 0 10px; font-size: 18px; }
.badge { display: inline-block; font-size: 13px; padding: 2px 10px; border-radius: 12px; margin-left: 8px;
         color: #fff; background: #6b7380; vertical-align: middle; }
.badge.pass { background: #2e7d32; }
.badge.restricted, .badge.outbound_only, .badge.modified { background: #b07d00; }
.badge.blocked { background: #c62828; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.path { flex: 0 0 auto; }
.facts { flex: 1 1 320px; min-width: 280px; }
.summary { margin: 0 0 8px; }
.advice { margin: 0 0 8px; padding-left: 20px; }
.advice li { margin: 3px 0; }
.family { margin: 4px 0; color: #394150; }
details { margin-top: 6px; }
.evidence { font-size: 13px; padding-left: 18px; color: #394150; }
.evidence code { font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: #1d2430; }
svg .node { fill: #eef1f6; stroke: #8592a6; }
svg .title { font-weight: 600; }
svg .ok { stroke: #2e7d32; fill: none; stroke-width: 2.5; }
svg .lost { stroke: #c62828; fill: none; stroke-width: 2.5; }
svg .unknown { stroke: #9aa3b1; fill: none; stroke-width: 2; stroke-dasharray: 5 4; }
svg .stop { fill: #c62828; font-weight: 700; font-size: 14px; }
svg .note { fill: #5b6472; }
)css";

struct Node {
  std::vector<std::string> lines;  // first line is the title
};

// The boxes of the path: this computer, the router(s) as far as this run saw
// them, the reflector.
std::vector<Node> path_nodes(const json& report) {
  const json& client = object_at(report, "client");
  const json& nat = object_at(report, "nat");
  const json& reflector = object_at(report, "reflector");
  std::vector<Node> nodes;
  Node computer{{"This computer"}};
  if (auto local = str(client, "local_address"); !local.empty()) computer.lines.push_back(local);
  nodes.push_back(computer);
  const json& nat64 = object_at(client, "nat64");
  if (tri(nat64, "detected") == Tri::yes) {
    Node translator{{"NAT64"}};
    if (auto prefix = str(nat64, "prefix"); !prefix.empty()) translator.lines.push_back(prefix);
    nodes.push_back(translator);
  }

  const json& port_mapping = object_at(nat, "port_mapping");
  auto nat_facts = [&](Node& n) {
    // RFC 4787 terms on lines of their own: they are longer than a box is wide.
    if (auto m = str(nat, "mapping"); !m.empty()) {
      n.lines.emplace_back("mapping:");
      n.lines.push_back("  " + words(m));
    }
    if (auto f = str(nat, "filtering"); !f.empty()) {
      n.lines.emplace_back("filtering:");
      n.lines.push_back("  " + words(f));
    }
    if (auto p = tri(nat, "port_preservation"); p != Tri::unknown)
      n.lines.push_back(p == Tri::yes ? "source ports kept" : "source ports rewritten");
  };
  const Tri behind_nat = tri(client, "behind_nat");
  if (tri(nat, "double_nat") == Tri::yes) {
    Node home{{"Your router (NAT)"}};
    if (auto g = str(port_mapping, "gateway"); !g.empty()) home.lines.push_back("LAN " + g);
    if (auto e = str(port_mapping, "external_address"); !e.empty()) home.lines.push_back("WAN " + e);
    nodes.push_back(home);
    Node carrier{{"Second NAT"}};
    if (auto pub = str(client, "public_address"); !pub.empty()) carrier.lines.push_back("public " + pub);
    nat_facts(carrier);
    nodes.push_back(carrier);
  } else {
    Node router{{behind_nat == Tri::yes ? "Router (NAT)" : behind_nat == Tri::no ? "Network (no NAT)" : "Network"}};
    if (auto g = str(port_mapping, "gateway"); !g.empty()) router.lines.push_back("LAN " + g);
    if (auto pub = str(client, "public_address"); !pub.empty() && behind_nat == Tri::yes)
      router.lines.push_back("public " + pub);
    if (behind_nat == Tri::yes) nat_facts(router);
    nodes.push_back(router);
  }
  Node far{{"Reflector"}};
  if (auto host = str(reflector, "host"); !host.empty()) far.lines.push_back(host);
  if (auto address = str(reflector, "address"); !address.empty() && address != str(reflector, "host"))
    far.lines.push_back(address);
  nodes.push_back(far);
  return nodes;
}

// SVG text is cut to what fits its box; the full text is in the page beside it.
std::string fit(const std::string& text, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars++ == max_chars) return text.substr(0, i) + "…";
  }
  return text;
}

std::string probe_label(const json& probe) {
  std::string label;
  if (auto piece = str(probe, "piece"); !piece.empty()) label = piece + ": ";
  auto transport = str(probe, "transport");
  std::transform(transport.begin(), transport.end(), transport.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const auto port = probe.contains("port") && probe["port"].is_number_integer() ? probe["port"].get<int>() : 0;
  if (transport == "IP") {
    const auto* raw = port >= 0 && port <= 0xff ? probes::ip::raw_protocol(static_cast<std::uint16_t>(port)) : nullptr;
    label += raw ? std::string(raw->display) : "IP " + std::to_string(port);
  } else {
    label += transport + " " + std::to_string(port);
  }
  if (auto family = str(probe, "family"); family == "ipv6") label += " · IPv6";
  else label += " · IPv4";
  return label;
}

void write_path_svg(std::ostream& out, const std::vector<Node>& nodes, const json& protocol) {
  std::vector<const json*> rows;
  for (const auto& p : array_at(protocol, "probes"))
    if (p.is_object() && str(p, "kind") == "genuine") rows.push_back(&p);

  constexpr int box_w = 170, gap = 34, top = 8, row_h = 40;
  const int width = static_cast<int>(nodes.size()) * box_w + (static_cast<int>(nodes.size()) - 1) * gap + 16;
  std::size_t max_lines = 1;
  for (const auto& n : nodes) max_lines = std::max(max_lines, n.lines.size());
  const int box_h = 12 + 14 * static_cast<int>(max_lines);
  const int rows_top = top + box_h + 22;
  const int height = rows_top + row_h * static_cast<int>(std::max<std::size_t>(rows.size(), 1)) + 6;
  auto centre = [&](std::size_t i) { return 8 + static_cast<int>(i) * (box_w + gap) + box_w / 2; };

  out << "<svg class=\"path-diagram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\""
      << height << "\" viewBox=\"0 0 " << width << " " << height << "\" role=\"img\">\n";
  out << "<defs><marker id=\"arrow-ok\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" "
         "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"#2e7d32\"/></marker>"
         "</defs>\n";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const int x = centre(i) - box_w / 2;
    out << "<rect class=\"node\" x=\"" << x << "\" y=\"" << top << "\" width=\"" << box_w << "\" height=\"" << box_h
        << "\" rx=\"6\"/>\n";
    for (std::size_t l = 0; l < nodes[i].lines.size(); ++l) {
      // A line starting with two spaces continues the one above: indented.
      std::string_view line = nodes[i].lines[l];
      const bool indented = line.starts_with("  ");
      if (indented) line.remove_prefix(2);
      out << "<text" << (l == 0 ? " class=\"title\"" : "") << " x=\"" << x + (indented ? 16 : 6) << "\" y=\""
          << top + 16 + 14 * static_cast<int>(l) << "\">" << html_escape(fit(std::string(line), 26)) << "</text>\n";
    }
    // The vertical line each row's arrows start from or end at.
    out << "<line x1=\"" << centre(i) << "\" y1=\"" << top + box_h << "\" x2=\"" << centre(i) << "\" y2=\""
        << height - 4 << "\" stroke=\"#d5dae3\" stroke-width=\"1\"/>\n";
  }
  const int from = centre(0), to = centre(nodes.size() - 1);
  // Where a lost packet is drawn to stop: past the last router, before the
  // reflector (this run cannot see further which hop dropped it).
  const int stop_at = centre(nodes.size() - 2) + (box_w + gap) / 2;
  if (rows.empty())
    out << "<text class=\"note\" x=\"" << from << "\" y=\"" << rows_top + 12 << "\">no probe of its own</text>\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const json& p = *rows[r];
    const int y = rows_top + row_h * static_cast<int>(r);
    out << "<text x=\"" << from + 6 << "\" y=\"" << y << "\">" << html_escape(probe_label(p)) << "</text>\n";
    const Tri outbound = tri(p, "outbound");
    const Tri inbound = tri(p, "inbound");
    const int out_y = y + 9, back_y = y + 20;
    if (outbound == Tri::yes) {
      out << "<line class=\"ok\" x1=\"" << from << "\" y1=\"" << out_y << "\" x2=\"" << to - 4 << "\" y2=\""
          << out_y << "\" marker-end=\"url(#arrow-ok)\"><title>arrived at the reflector</title></line>\n";
    } else if (outbound == Tri::no) {
      out << "<line class=\"lost\" x1=\"" << from << "\" y1=\"" << out_y << "\" x2=\"" << stop_at << "\" y2=\""
          << out_y << "\"><title>never arrived at the reflector</title></line>\n"
          << "<text class=\"stop\" x=\"" << stop_at + 2 << "\" y=\"" << out_y + 5 << "\">✕</text>"
          << "<text class=\"note\" x=\"" << stop_at + 16 << "\" y=\"" << out_y + 4
          << "\">did not reach the reflector</text>\n";
    } else {
      const bool not_run = str(p, "outcome") == "not_run" || str(p, "outcome") == "not_permitted";
      out << "<line class=\"unknown\" x1=\"" << from << "\" y1=\"" << out_y << "\" x2=\"" << to << "\" y2=\""
          << out_y << "\"/><text class=\"note\" x=\"" << (from + to) / 2 - 30 << "\" y=\"" << back_y + 2 << "\">"
          << (not_run ? "not run" : "not known") << "</text>\n";
    }
    if (outbound == Tri::yes && inbound == Tri::yes) {
      out << "<line class=\"ok\" x1=\"" << to << "\" y1=\"" << back_y << "\" x2=\"" << from + 4 << "\" y2=\""
          << back_y << "\" marker-end=\"url(#arrow-ok)\"><title>the answer came back</title></line>\n";
    } else if (outbound == Tri::yes && inbound == Tri::no) {
      out << "<line class=\"lost\" x1=\"" << to << "\" y1=\"" << back_y << "\" x2=\"" << stop_at << "\" y2=\""
          << back_y << "\"><title>the answer never came back</title></line>\n"
          << "<text class=\"stop\" x=\"" << stop_at - 14 << "\" y=\"" << back_y + 5 << "\">✕</text>"
          << "<text class=\"note\" x=\"" << from + 6 << "\" y=\"" << back_y + 4 << "\">answer lost on the way back</text>\n";
    }
  }
  out << "</svg>\n";
}

void write_list(std::ostream& out, std::string_view cls, const json& items) {
  if (!items.is_array() || items.empty()) return;
  out << "<ul class=\"" << cls << "\">";
  for (const auto& item : items)
    if (item.is_string()) out << "<li>" << html_escape(item.get<std::string>()) << "</li>";
  out << "</ul>\n";
}

}  // namespace

// The XML escaper serves HTML too: the same five characters, and invalid
// UTF-8 or control bytes from the network replaced rather than passed on.
std::string html_escape(std::string_view text) { return xml_escape(text, XmlContext::attribute); }

std::string render_html_report(const json& report) {
  std::ostringstream out;
  const json& reflector = object_at(report, "reflector");
  const json& tool = object_at(report, "tool");
  const std::string host = str(reflector, "host");
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      // Nothing may be fetched: no scripts, styles, images or frames from anywhere.
      << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
      << "<title>vpncheck report: " << html_escape(host) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  out << "<header><h1>Which VPN protocols pass this network</h1>\n<p>vpncheck " << html_escape(str(tool, "version"))
      << " · reflector <b>" << html_escape(host) << "</b>";
  if (auto address = str(reflector, "address"); !address.empty() && address != host)
    out << " (" << html_escape(address) << ")";
  out << " · " << html_escape(str(report, "started_at"));
  if (report.contains("duration_ms") && report["duration_ms"].is_number())
    out << " · " << report["duration_ms"].get<std::int64_t>() << " ms";
  out << "</p></header>\n<main>\n";

  if (auto error = str(report, "error"); !error.empty()) {
    out << "<div class=\"error\"><h2>Could not test</h2><p>" << html_escape(error)
        << "</p><p>Nothing was concluded about VPN protocols on this network.</p></div>\n</main>\n</body>\n</html>\n";
    return out.str();
  }

  const json& nat = object_at(report, "nat");
  json notes = json::array();
  // NAT64 first: the network's most basic fact, then the NAT's.
  const json& nat64 = object_at(object_at(report, "client"), "nat64");
  if (nat64.contains("summary") && nat64["summary"].is_array())
    for (const auto& line : nat64["summary"]) notes.push_back(line);
  if (nat.contains("summary") && nat["summary"].is_array())
    for (const auto& line : nat["summary"]) notes.push_back(line);
  if (tri(report, "redacted") == Tri::yes)
    notes.push_back("Public addresses are redacted (same address, same redacted-<hash> token).");
  if (!notes.empty()) {
    out << "<div class=\"notes\"><b>The network</b>\n";
    write_list(out, "nat", notes);
    out << "</div>\n";
  }

  const auto nodes = path_nodes(report);
  for (const auto& protocol : array_at(report, "protocols")) {
    if (!protocol.is_object()) continue;
    const std::string verdict = str(protocol, "verdict");
    out << "<section class=\"protocol verdict-" << html_escape(verdict) << "\" id=\"protocol-"
        << html_escape(str(protocol, "protocol")) << "\">\n<h2>" << html_escape(str(protocol, "title"))
        << "<span class=\"badge " << html_escape(verdict) << "\">" << html_escape(verdict) << "</span></h2>\n";
    out << "<div class=\"row\">\n<div class=\"path\">\n";
    write_path_svg(out, nodes, protocol);
    out << "</div>\n<div class=\"facts\">\n<p class=\"summary\">" << html_escape(str(protocol, "summary")) << "</p>\n";
    json dropped = json::array();
    for (const auto& d : array_at(protocol, "dropped_at"))
      if (d.is_object()) dropped.push_back(str(d, "variant") + ": " + str(d, "line"));
    write_list(out, "dropped", dropped);
    write_list(out, "advice", array_at(protocol, "advice"));
    if (protocol.contains("families") && protocol["families"].is_object())
      for (const auto& [family, f] : protocol["families"].items()) {
        if (!f.is_object() || str(f, "verdict") == verdict) continue;
        out << "<p class=\"family\">" << (family == "ipv6" ? "IPv6" : "IPv4") << ": <span class=\"badge "
            << html_escape(str(f, "verdict")) << "\">" << html_escape(str(f, "verdict")) << "</span> "
            << html_escape(str(f, "summary")) << "</p>\n";
      }
    out << "<details><summary>Evidence</summary>\n<ul class=\"evidence\">";
    for (const auto& p : array_at(protocol, "probes")) {
      if (!p.is_object()) continue;
      out << "<li><code>" << html_escape(str(p, "name")) << " " << html_escape(str(p, "family")) << "</code>: "
          << html_escape(str(p, "evidence")) << "</li>";
    }
    out << "</ul></details>\n</div>\n</div>\n</section>\n";
  }
  out << "</main>\n</body>\n</html>\n";
  return out.str();
}

}  // namespace vpncheck::client
