// Command-line configuration of vpncheck-reflector. parse_args is pure (no
// printing, no exiting) so tests drive it in-process.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probes/ip.h"
#include "reflector/log.h"

namespace vpncheck::reflector {

std::string_view reflector_version();

// Bounded waits; the defaults suit the Internet, tests shorten them.
struct Timeouts {
  std::chrono::milliseconds http{10'000};          // whole request (headers + body) per read
  std::chrono::milliseconds probe_first_bytes{5'000};  // TCP probe: first bytes / whole frame
  std::chrono::milliseconds control_idle{100};      // TCP control probe: idle gap ending the read
  std::chrono::milliseconds control_total{1'000};   // TCP control probe: whole read
  std::chrono::milliseconds linger{1'000};          // TCP probe: wait for the peer's FIN after replying
  // A stream a module converses on (ProtocolModule::server_stream, e.g. a
  // control connection the client keeps open while it tests a data channel
  // keyed to it): the wait for its next message is longer; the whole
  // connection is bounded.
  std::chrono::milliseconds conversation_idle{30'000};
  std::chrono::milliseconds conversation_total{120'000};
};

struct Config {
  // Port 0 means "any free port" (tests); Server reports what it actually bound.
  // Default: both families (IPv6 sockets IPV6_V6ONLY so they do not clash with
  // 0.0.0.0). A host without IPv6 drops "::" with a warning, only in the default.
  std::vector<std::string> listen{"0.0.0.0", "::"};
  bool listen_is_default = true;  // false once --listen was given
  std::uint16_t control_port = 8780;
  // Control API also here: a network that lets only the web out can still be tested.
  std::vector<std::uint16_t> web_control_ports{80, 443};
  std::vector<std::uint16_t> udp_ports{51820, 1194, 53, 443, 500, 4500, 1701};
  std::vector<std::uint16_t> tcp_ports{1194, 443, 1723};
  // Raw IP listeners, by name in the raw-protocol table (probes/ip.h: "esp",
  // "ah", "gre"); they need CAP_NET_RAW and are skipped with a warning without
  // it. Over IPv4 all of them; over IPv6 (when listening on an IPv6 address)
  // those that speak IPv6, offered separately.
  std::vector<std::string> raw_protocols = probes::ip::raw_protocol_names();
  // NAT test service (issue #5): UDP primary and alternate port (RFC 5780
  // style); empty disables it. IPv4 only.
  std::vector<std::uint16_t> nat_ports{8781, 8782};
  // A second local IPv4 address for the NAT mapping/filtering tests (--alt-address).
  std::optional<std::string> alternate_address;
  int session_ttl_s = 300;
  std::size_t max_sessions = 4096;
  std::size_t max_observations = 512;      // per session; beyond, arrivals are counted as dropped
  std::size_t max_observation_bytes = 256 * 1024;              // per session's stored observations
  std::size_t max_total_observation_bytes = 64 * 1024 * 1024;  // all sessions' stored observations
  std::size_t max_sessions_per_client = 64;  // per client address or IPv6 /64 (CGNAT shares addresses)
  std::size_t max_connections = 1024;      // concurrent TCP connections, control and probe
  // ... from one client (IPv4 address, IPv6 /64). An eighth of max_connections
  // is kept for the control API's own ports.
  std::size_t max_connections_per_client = 64;
  // Replies per second per source address (token bucket, burst = one second's
  // worth); 0 = no limit. Over it, arrivals are recorded but not answered.
  double rate_limit = 200;
  // Set: the control API (but /v1/health) requires "Authorization: Bearer KEY".
  std::optional<std::string> auth_key;
  // Where the key came from, for the start-up log: "--auth-key", a file path.
  std::string auth_key_source;
  // Set (both): the TLS certificate (PEM, leaf first, then any intermediates)
  // and its private key (PEM) the operator gives. TLS-wrapped probes present
  // it instead of a self-made one, and the control API is offered inside TLS.
  std::optional<std::string> tls_certificate_file;
  std::optional<std::string> tls_key_file;
  // With the certificate above: the control API answers plain HTTP only for
  // /v1/health and /v1/challenge/ (ControlApiOptions::tls_only).
  bool control_tls_only = false;
  // Warnings parse_args found worth saying once the log is up.
  std::vector<std::string> warnings;
  // Set: after binding every socket, switch to this user (vpncheck-reflector --user).
  std::optional<std::string> user;
  LogLevel log_level = LogLevel::info;
  Timeouts timeouts;
};

// What parse_args decided. Either `config` is set (run), or the caller prints
// `message` (to stdout when exit_code == 0: --help/--version; else stderr) and
// exits with `exit_code` (2 = usage error).
struct ParseOutcome {
  std::optional<Config> config;
  int exit_code = 0;
  std::string message;
};

// `args` excludes the program name. `credentials_directory` is where systemd
// put the unit's credentials ($CREDENTIALS_DIRECTORY, systemd.exec(5)
// LoadCredential=); a file `auth-key` there is the key when no option names
// one, and files `tls-certificate` and `tls-key` there the TLS identity.
ParseOutcome parse_args(const std::vector<std::string>& args,
                        std::optional<std::string> credentials_directory = std::nullopt);

// The key in an auth-key file: its first line, surrounding blanks and the line
// end removed. An error message when the file cannot be read, is empty, is
// larger than a key could be, or holds more than one line.
struct AuthKeyFile {
  std::optional<std::string> key;
  std::string error;
  bool readable_by_others = false;  // group or world may read it: worth a warning
};
AuthKeyFile read_auth_key_file(const std::string& path);

// "80,443" -> {80, 443}; "" -> {}; duplicates removed, order kept. nullopt on
// anything that is not a port number.
std::optional<std::vector<std::uint16_t>> parse_port_list(std::string_view text);

}  // namespace vpncheck::reflector
