// Command-line options: filled by parse_args, which is a plain function over
// the argument vector so it can be tested in-process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpncheck::client {

struct Options {
  std::string reflector_host;
  std::optional<std::uint16_t> control_port;  // from HOST:PORT
  std::vector<std::string> protocols;        // empty = all registered
  std::vector<std::string> required;
  double timeout_s = 3.0;
  std::optional<std::string> json_path;      // "-" = stdout
  std::optional<std::string> junit_path;     // JUnit XML; "-" = stdout
  std::optional<std::string> markdown_path;  // GitHub-flavoured Markdown; "-" = stdout
  std::optional<std::string> html_path;      // one self-contained HTML page; "-" = stdout
  bool redact = false;                       // public addresses replaced in every report form
  bool verbose = false;
  bool no_color = false;
  bool list_probes = false;
  // -4 / -6: test only that family (mutually exclusive). Neither: every family
  // the reflector host has an address in.
  bool ipv4_only = false;
  bool ipv6_only = false;
  std::string auth_key;  // empty: send none (a public reflector needs none)
  // The control API inside TLS (--control-tls; implied by the two below): the
  // certificate checked against the system's CAs and the reflector's name,
  // against the CAs in `reflector_ca`, or pinned by its SHA-256 (canonical
  // form, probes/tls.h) in `reflector_pin`.
  bool control_tls = false;
  std::string reflector_ca;
  std::string reflector_pin;
  // --nat-lifetime: measure the UDP binding lifetime (idle gaps, seconds, ascending).
  // Empty: not measured.
  std::vector<int> nat_lifetime_gaps;
  // Ask the default gateway for NAT-PMP / PCP / UPnP IGD (--no-gateway-query: don't).
  bool query_gateway = true;
  // --hairpin: test hairpinning (opt-in: hairpin packets can look like attacks to some firewalls).
  bool hairpin = false;
};

// The idle gaps --nat-lifetime tries with at most `max_s` seconds: the
// default gaps up to max_s, and max_s itself.
std::vector<int> default_lifetime_gaps(int max_s);

struct ParseOutcome {
  std::optional<Options> options;  // nullopt: exit with exit_code after printing message
  int exit_code = 0;               // 0 for --help/--version, 2 for usage errors
  std::string message;             // help, version or the usage error
};

ParseOutcome parse_args(const std::vector<std::string>& args);

// What `vpncheck` without --reflector says (exit 2): what a reflector is, how
// to run one and how to see vpncheck work without one.
inline constexpr std::string_view kNoReflectorHelp =
    "vpncheck: no reflector given: vpncheck --reflector HOST[:PORT]\n"
    "A reflector is vpncheck's other end: vpncheck-reflector, a small server on a\n"
    "host with a public address. It records how each protocol's packets arrived\n"
    "(and how NAT changed them) and answers in-protocol, so both ways are tested.\n"
    "Run one there:\n"
    "  vpncheck-reflector                      (from the source or the .deb)\n"
    "  systemctl enable --now vpncheck-reflector    (the .deb's systemd unit)\n"
    "  podman build -f packaging/Containerfile -t vpncheck-reflector .\n"
    "                                          (a container; podman run: its header)\n"
    "See a whole run without a server, as root in the source tree (a lab of\n"
    "network namespaces with its own reflector): packaging/try-vpncheck.sh\n"
    "Run with --help for every option.";

// "host", "host:port", "[v6]:port", "v6" -> host and optional port; nullopt if malformed.
std::optional<std::pair<std::string, std::optional<std::uint16_t>>> split_host_port(const std::string& text);

}  // namespace vpncheck::client
