#include "src/cli/options.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include <CLI/CLI.hpp>

#include "probes/registry.h"
#include "probes/tls.h"
#include "src/nat/behaviour.h"
#include "src/version.h"

namespace vpncheck::client {
namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::string protocol_ids() {
  std::string out;
  for (const auto* m : probes::all_protocols()) out += (out.empty() ? "" : ",") + std::string(m->id);
  return out;
}

std::string derived_ids() {
  std::string out;
  for (const auto* d : probes::derived_protocols()) out += (out.empty() ? "" : ",") + std::string(d->id);
  return out;
}

std::string joined(std::span<const std::string_view> ids, std::string_view separator) {
  std::string out;
  for (auto id : ids) out += (out.empty() ? "" : std::string(separator)) + std::string(id);
  return out;
}

}  // namespace

std::vector<int> default_lifetime_gaps(int max_s) {
  std::vector<int> gaps;
  for (int g : nat::kDefaultLifetimeGaps)
    if (g < max_s) gaps.push_back(g);
  gaps.push_back(max_s);
  return gaps;
}

std::optional<std::pair<std::string, std::optional<std::uint16_t>>> split_host_port(const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close == 1) return std::nullopt;
    std::string host = text.substr(1, close - 1);
    if (close + 1 == text.size()) return std::pair{host, std::optional<std::uint16_t>{}};
    if (text[close + 1] != ':') return std::nullopt;
    auto port = parse_port(std::string_view(text).substr(close + 2));
    if (!port) return std::nullopt;
    return std::pair{host, port};
  }
  auto colon = text.find(':');
  if (colon == std::string::npos) return std::pair{text, std::optional<std::uint16_t>{}};
  if (text.find(':', colon + 1) != std::string::npos) {
    // Several colons: only a bare IPv6 literal (optionally with %zone) is a host.
    in6_addr v6{};
    if (inet_pton(AF_INET6, text.substr(0, text.find('%')).c_str(), &v6) != 1) return std::nullopt;
    return std::pair{text, std::optional<std::uint16_t>{}};
  }
  auto port = parse_port(std::string_view(text).substr(colon + 1));
  if (!port || colon == 0) return std::nullopt;
  return std::pair{text.substr(0, colon), port};
}

ParseOutcome parse_args(const std::vector<std::string>& args) {
  CLI::App app{"vpncheck: which VPN protocols does this network let through, and if not, why and what instead.",
               "vpncheck"};
  app.set_version_flag("--version", std::string(kVersion));
  Options o;
  std::string reflector;
  std::string protocols;
  std::string required;
  app.add_option("--reflector,-r", reflector, "reflector HOST[:CONTROL_PORT] (control port default 8780)");
  app.add_option("--protocols,-p", protocols, "comma-separated protocols to test (default: all: " + protocol_ids() + ")");
  app.add_option("--timeout,-t", o.timeout_s, "seconds to wait for answers (one deadline for all probes)")
      ->check(CLI::Range(0.2, 120.0));
  app.add_option("--json", o.json_path, "write the JSON report (vpncheck.report/1) to FILE, or - for stdout");
  app.add_option("--junit", o.junit_path, "write a JUnit XML report (one testcase per protocol) to FILE, or - for stdout");
  app.add_option("--markdown", o.markdown_path,
                 "write a Markdown summary (e.g. for $GITHUB_STEP_SUMMARY) to FILE, or - for stdout");
  app.add_option("--html", o.html_path,
                 "write an HTML page (self-contained, fetches nothing) drawing the path each protocol took, to FILE");
  app.add_flag("--redact", o.redact,
               "replace public IP addresses by stable tokens (redacted-<hash>) in every report form");
  app.add_option("--require", required, "comma-separated protocols that must pass (exit 1 otherwise)");
  auto* v4 = app.add_flag("-4,--ipv4", o.ipv4_only, "test over IPv4 only");
  auto* v6 = app.add_flag("-6,--ipv6", o.ipv6_only,
                          "test over IPv6 only (default: both families when the reflector has both)");
  v4->excludes(v6);
  v6->excludes(v4);
  app.add_flag("--verbose,-v", o.verbose, "show the evidence for every probe");
  app.add_flag("--no-color", o.no_color, "never colour the output (NO_COLOR is honoured too)");
  app.add_option("--auth-key", o.auth_key,
                 "key of a private reflector (vpncheck-reflector --auth-key); prefer the environment "
                 "variable, which other local users cannot read from the process list")
      ->envname("VPNCHECK_AUTH_KEY");
  app.add_flag("--control-tls", o.control_tls,
               "reach the control API inside TLS (vpncheck-reflector --tls-certificate), its certificate\n"
               "checked against the system's CAs and the reflector's name; the auth key and session\n"
               "are then not readable on the way");
  auto* ca = app.add_option("--reflector-ca", o.reflector_ca,
                            "as --control-tls, trusting the CA certificates in FILE (PEM) instead of the system's")
                 ->type_name("FILE");
  std::string pin;
  auto* pin_option = app.add_option("--reflector-pin", pin,
                                    "as --control-tls, accepting only the certificate with this SHA-256 (64 hex\n"
                                    "digits, colons allowed: the reflector logs it at start)")
                         ->type_name("SHA256");
  ca->excludes(pin_option);
  pin_option->excludes(ca);
  bool nat_lifetime = false;
  int nat_lifetime_max = 120;
  std::string nat_lifetime_gaps;
  app.add_flag("--nat-lifetime", nat_lifetime,
               "also measure how long the NAT keeps an idle UDP mapping (takes up to --nat-lifetime-max\n"
               "seconds) and advise keepalive values below it");
  auto* lifetime_max = app.add_option("--nat-lifetime-max", nat_lifetime_max,
                                      "longest idle gap --nat-lifetime tries, seconds (default 120)")
                           ->type_name("S")
                           ->check(CLI::Range(5, 240));
  auto* lifetime_gaps = app.add_option("--nat-lifetime-gaps", nat_lifetime_gaps,
                                       "exact idle gaps to try, comma-separated seconds (1-240; implies --nat-lifetime)")
                            ->type_name("LIST");
  lifetime_gaps->excludes(lifetime_max);
  app.add_flag("--hairpin", o.hairpin,
               "also test NAT hairpinning: one local socket sends to another's public address and port\n"
               "(opt-in: some firewalls treat such packets as an attack)");
  bool no_gateway_query = false;
  app.add_flag("--no-gateway-query", no_gateway_query,
               "do not ask the default gateway for NAT-PMP, PCP and UPnP IGD (port-mapping protocols,\n"
               "external address, double NAT); they are only asked, never used to create a mapping");
  app.add_flag("--list-probes", o.list_probes, "list the registered protocols and their probes, then exit");
  app.footer(
      "Exit codes: 0 run completed and every --require'd protocol passed; 1 a required protocol did not pass;\n"
      "            2 usage error; 3 could not test (reflector unreachable, no session).");

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help()};
  } catch (const CLI::CallForVersion&) {
    return {std::nullopt, 0, "vpncheck " + std::string(kVersion)};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, 2, std::string("vpncheck: ") + e.what() + "\nRun with --help for usage."};
  }

  auto split_list = [](const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
      auto comma = text.find(',', start);
      auto item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!item.empty()) out.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  };
  o.protocols = split_list(protocols);
  o.required = split_list(required);
  auto usage_error = [](const std::string& what) {
    return ParseOutcome{std::nullopt, 2, "vpncheck: " + what + "\nRun with --help for usage."};
  };
  for (const auto& id : o.protocols)
    if (!probes::find_protocol(id)) {
      const auto* derived = probes::find_derived_protocol(id);
      return usage_error("unknown protocol '" + id + "' (known: " + protocol_ids() + ")" +
                         (derived ? "; " + id + " is derived from " + joined(derived->from, " and ") + ": select those"
                                  : ""));
    }
  for (const auto& id : o.required)
    if (!probes::find_protocol(id) && !probes::find_derived_protocol(id))
      return usage_error("unknown protocol '" + id + "' (known: " + protocol_ids() + ", and " + derived_ids() + ")");
  auto selected = [&](std::string_view id) {
    return o.protocols.empty() || std::find(o.protocols.begin(), o.protocols.end(), id) != o.protocols.end();
  };
  for (const auto& id : o.required) {
    // A derived protocol has no probes of its own: its entry exists when all it is derived from is tested.
    if (const auto* derived = probes::find_derived_protocol(id)) {
      if (!std::all_of(derived->from.begin(), derived->from.end(), selected))
        return usage_error("--require " + id + " needs " + joined(derived->from, " and ") + " in --protocols");
    } else if (!selected(id)) {
      return usage_error("--require " + id + " but --protocols does not include it");
    }
  }

  // Each report form gets a destination of its own: two on stdout would be one
  // unreadable stream, two in one file would overwrite each other.
  const std::vector<std::pair<std::string, const std::optional<std::string>*>> outputs{
      {"--json", &o.json_path}, {"--junit", &o.junit_path}, {"--markdown", &o.markdown_path}, {"--html", &o.html_path}};
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto& [flag, path] = outputs[i];
    if (*path && (*path)->empty()) return usage_error(flag + " needs a FILE or -");
    for (std::size_t j = 0; j < i; ++j) {
      const auto& [other_flag, other_path] = outputs[j];
      if (!*path || !*other_path || **path != **other_path) continue;
      if (**path == "-") return usage_error(other_flag + " and " + flag + " both write to stdout (-); at most one may");
      return usage_error(other_flag + " and " + flag + " both write to '" + **path + "'");
    }
  }

  if (!nat_lifetime_gaps.empty()) {
    std::vector<int> gaps;
    for (const auto& item : split_list(nat_lifetime_gaps)) {
      int value = 0;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
      if (ec != std::errc{} || end != item.data() + item.size() || value < 1 || value > 240)
        return usage_error("--nat-lifetime-gaps: '" + item + "' is not a number of seconds between 1 and 240");
      if (std::find(gaps.begin(), gaps.end(), value) == gaps.end()) gaps.push_back(value);
    }
    if (gaps.empty()) return usage_error("--nat-lifetime-gaps needs at least one gap");
    if (gaps.size() > 32) return usage_error("--nat-lifetime-gaps: at most 32 gaps");
    std::sort(gaps.begin(), gaps.end());
    o.nat_lifetime_gaps = gaps;
  } else if (nat_lifetime || lifetime_max->count() > 0) {
    o.nat_lifetime_gaps = default_lifetime_gaps(nat_lifetime_max);
  }

  o.query_gateway = !no_gateway_query;

  if (pin_option->count() > 0) {
    auto canonical = probes::tls::normalise_fingerprint(pin);
    if (!canonical) return usage_error("--reflector-pin: '" + pin + "' is not a SHA-256 (64 hex digits)");
    o.reflector_pin = *canonical;
  }
  if (ca->count() > 0 && ::access(o.reflector_ca.c_str(), R_OK) != 0)
    return usage_error("--reflector-ca " + o.reflector_ca + ": cannot be read");
  o.control_tls = o.control_tls || !o.reflector_pin.empty() || !o.reflector_ca.empty();

  if (o.list_probes) return {o, 0, {}};
  if (reflector.empty()) return {std::nullopt, 2, std::string(kNoReflectorHelp)};
  auto host_port = split_host_port(reflector);
  if (!host_port) return usage_error("cannot read reflector '" + reflector + "' as HOST[:PORT]");
  o.reflector_host = host_port->first;
  o.control_port = host_port->second;
  return {o, 0, {}};
}

}  // namespace vpncheck::client
