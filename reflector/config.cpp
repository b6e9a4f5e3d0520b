#include "reflector/config.h"

#include <boost/asio/ip/address.hpp>
#include <CLI/CLI.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "probes/ip.h"
#include "probes/registry.h"

namespace vpncheck::reflector {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string name_list_text(const std::vector<std::string>& names, std::string_view separator) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : std::string(separator)) + name;
  return out;
}

std::string port_list_text(const std::vector<std::uint16_t>& ports) {
  std::string out;
  for (auto p : ports) out += (out.empty() ? "" : ",") + std::to_string(p);
  return out;
}

}  // namespace

std::string_view reflector_version() { return VPNCHECK_VERSION; }

AuthKeyFile read_auth_key_file(const std::string& path) {
  // A bearer key is a line of text; anything much larger is the wrong file.
  constexpr std::size_t kMaxKeyFile = 4096;
  AuthKeyFile out;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    out.error = path + ": " + std::strerror(errno);
    return out;
  }
  if (!S_ISREG(st.st_mode)) {
    out.error = path + ": not a regular file";
    return out;
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxKeyFile) {
    out.error = path + ": " + std::to_string(st.st_size) + " bytes; a key file holds one line";
    return out;
  }
  out.readable_by_others = (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.error = path + ": cannot be read";
    return out;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::string_view key = trim(text);
  if (key.find_first_of("\r\n") != std::string_view::npos) {
    out.error = path + ": more than one line; a key file holds the key alone";
    return out;
  }
  if (key.empty()) {
    out.error = path + ": empty; it must hold the key";
    return out;
  }
  out.key = std::string(key);
  return out;
}

std::optional<std::vector<std::uint16_t>> parse_port_list(std::string_view text) {
  std::vector<std::uint16_t> ports;
  text = trim(text);
  if (text.empty()) return ports;
  while (true) {
    auto comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    unsigned value = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc{} || end != item.data() + item.size() || value > 65535)
      return std::nullopt;
    auto port = static_cast<std::uint16_t>(value);
    if (std::find(ports.begin(), ports.end(), port) == ports.end()) ports.push_back(port);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return ports;
}

ParseOutcome parse_args(const std::vector<std::string>& args, std::optional<std::string> credentials_directory) {
  Config config;
  // By default every port some protocol module probes on UDP or TCP
  // (ascending), so a module's new variant is served without naming its
  // port here.
  config.udp_ports = probes::variant_ports(probes::Transport::udp);
  config.tcp_ports = probes::variant_ports(probes::Transport::tcp);
  std::vector<std::string> listen;
  std::string web_ports = port_list_text(config.web_control_ports);
  std::string udp_ports = port_list_text(config.udp_ports);
  std::string tcp_ports = port_list_text(config.tcp_ports);
  std::string nat_ports = port_list_text(config.nat_ports);
  std::string alternate_address;
  std::string log_level{to_string(config.log_level)};
  std::string raw_protocols = name_list_text(config.raw_protocols, ",");

  CLI::App app{
      "vpncheck-reflector: the cooperating server vpncheck probes. It records what arrives\n"
      "(source after NAT, TTL, TOS, payload digest, protocol fields) per session and\n"
      "answers each probe in its own protocol, never with more bytes than it received.",
      "vpncheck-reflector"};
  app.set_version_flag("--version", std::string("vpncheck-reflector ") + std::string(reflector_version()));
  app.add_option("--listen", listen, "address to listen on (repeatable; default 0.0.0.0 and ::, IPv6 only if the host has it)")
      ->type_name("ADDR")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--control-port", config.control_port, "TCP port of the control API")
      ->capture_default_str();
  app.add_option("--web-control-ports", web_ports,
                 "also serve the control API on these TCP ports (shared with probe ports by\n"
                 "sniffing the first bytes); empty disables")
      ->type_name("LIST")
      ->capture_default_str();
  app.add_option("--udp-ports", udp_ports, "UDP probe ports")->type_name("LIST")->capture_default_str();
  app.add_option("--tcp-ports", tcp_ports, "TCP probe ports")->type_name("LIST")->capture_default_str();
  app.add_option("--raw-protocols", raw_protocols,
                 "raw IPv4 listeners among " + name_list_text(probes::ip::raw_protocol_names(), ",") +
                     " (need CAP_NET_RAW); empty disables")
      ->type_name("LIST")
      ->capture_default_str();
  app.add_option("--nat-ports", nat_ports,
                 "UDP ports of the NAT test service: primary[,alternate] (mapping, filtering and\n"
                 "binding-lifetime tests, IPv4); empty disables")
      ->type_name("LIST")
      ->capture_default_str();
  app.add_option("--alt-address", alternate_address,
                 "a second IPv4 address of this host for the NAT mapping and filtering tests\n"
                 "(RFC 5780 style); without it those tests run the one-address subset")
      ->type_name("ADDR");
  app.add_option("--session-ttl", config.session_ttl_s, "seconds a session lives")
      ->type_name("S")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_option("--max-sessions", config.max_sessions, "sessions kept at once")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-observations", config.max_observations, "observations kept per session")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 16))
      ->capture_default_str();
  app.add_option("--max-observation-bytes", config.max_observation_bytes,
                 "memory one session's observations may take (each about 200-900 bytes); beyond,\n"
                 "arrivals are counted, not recorded, and the client told (its verdicts: inconclusive)")
      ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--max-total-observation-bytes", config.max_total_observation_bytes,
                 "memory all sessions' observations may take together; beyond, as above")
      ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 40))
      ->capture_default_str();
  app.add_option("--max-connections", config.max_connections,
                 "TCP connections served at once (control API and probes); beyond, new ones are closed\n"
                 "and counted per source address, and that address's sessions are told")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-connections-per-client", config.max_connections_per_client,
                 "TCP connections served at once from one IPv4 address or IPv6 /64; an eighth of\n"
                 "--max-connections is kept for the control API's own ports either way")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--rate-limit", config.rate_limit,
                 "replies per second per source address (burst: one second's worth); 0 = no limit.\n"
                 "Over the limit, probes are still recorded but not answered")
      ->type_name("N")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  std::string auth_key;
  app.add_option("--auth-key", auth_key,
                 "require \"Authorization: Bearer KEY\" on the control API (all but /v1/health and\n"
                 "/v1/challenge/); other local users can read it in the process list: prefer --auth-key-file")
      ->type_name("KEY");
  std::string auth_key_file;
  app.add_option("--auth-key-file", auth_key_file,
                 "as --auth-key, the key read from FILE (one line). Under systemd, a credential\n"
                 "named auth-key (LoadCredential=auth-key:PATH) is used when neither is given")
      ->type_name("FILE");
  std::string tls_certificate;
  app.add_option("--tls-certificate", tls_certificate,
                 "TLS certificate (PEM, leaf first) for the control API and TLS-wrapped probes;\n"
                 "with --tls-key. Clients then reach the control API inside TLS (vpncheck\n"
                 "--control-tls, --reflector-ca or --reflector-pin). Under systemd, credentials\n"
                 "named tls-certificate and tls-key are used when neither option is given.\n"
                 "Without it, TLS-wrapped probes get a certificate made at start")
      ->type_name("FILE");
  std::string tls_key;
  app.add_option("--tls-key", tls_key, "the private key (PEM) of --tls-certificate")->type_name("FILE");
  app.add_flag("--control-tls-only", config.control_tls_only,
               "with --tls-certificate: refuse the control API in plain HTTP (403), so a client that\n"
               "would send its auth key and session in clear is told to use TLS (vpncheck --control-tls).\n"
               "/v1/health and /v1/challenge/ still answer in plain HTTP: they carry no secret, and a\n"
               "client's captive-portal check asks for the challenge in plain HTTP on purpose");
  std::string user;
  app.add_option("--user", user,
                 "after binding every socket, switch to this user's uid and gid (needs starting as root;\n"
                 "the systemd unit runs it as a dynamic user already). Either way, once every socket\n"
                 "is open no capability is kept; refuses to run on if the switch fails")
      ->type_name("NAME");
  app.add_option("--log-level", log_level, "debug|info|warn|error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();

  auto usage_error = [&](const std::string& what) {
    return ParseOutcome{std::nullopt, 2, "vpncheck-reflector: " + what + "\n" + app.help()};
  };

  try {
    // CLI11 2.1 rejects "--opt=" (an empty value) but accepts "--opt ''": split it.
    std::vector<std::string> split;
    for (const auto& arg : args) {
      if (arg.size() > 3 && arg.starts_with("--") && arg.back() == '=' && arg.find('=') == arg.size() - 1) {
        split.push_back(arg.substr(0, arg.size() - 1));
        split.emplace_back();
      } else {
        split.push_back(arg);
      }
    }
    std::vector<std::string> reversed(split.rbegin(), split.rend());  // CLI11 takes them reversed
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help()};
  } catch (const CLI::CallForAllHelp&) {
    return {std::nullopt, 0, app.help()};
  } catch (const CLI::CallForVersion& e) {
    return {std::nullopt, 0, std::string(e.what()) + "\n"};
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }

  auto web = parse_port_list(web_ports);
  auto udp = parse_port_list(udp_ports);
  auto tcp = parse_port_list(tcp_ports);
  if (!web) return usage_error("--web-control-ports: not a comma-separated list of ports: " + web_ports);
  if (!udp) return usage_error("--udp-ports: not a comma-separated list of ports: " + udp_ports);
  if (!tcp) return usage_error("--tcp-ports: not a comma-separated list of ports: " + tcp_ports);
  auto nat = parse_port_list(nat_ports);
  if (!nat) return usage_error("--nat-ports: not a comma-separated list of ports: " + nat_ports);
  if (nat->size() > 2) return usage_error("--nat-ports: at most two ports (primary,alternate): " + nat_ports);
  config.nat_ports = *nat;
  if (app.count("--alt-address") > 0) {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(alternate_address, ec);
    if (ec || !a.is_v4()) return usage_error("--alt-address: not an IPv4 address: " + alternate_address);
    if (config.nat_ports.empty()) return usage_error("--alt-address needs the NAT test service (--nat-ports)");
    config.alternate_address = alternate_address;
  }
  config.web_control_ports = *web;
  config.udp_ports = *udp;
  config.tcp_ports = *tcp;
  config.raw_protocols.clear();
  for (std::string_view rest = raw_protocols; !rest.empty();) {
    auto comma = rest.find(',');
    std::string name(rest.substr(0, comma));
    if (!probes::ip::raw_protocol(name))
      return usage_error("--raw-protocols: '" + name + "' is not one of " +
                         name_list_text(probes::ip::raw_protocol_names(), ", "));
    if (std::find(config.raw_protocols.begin(), config.raw_protocols.end(), name) == config.raw_protocols.end())
      config.raw_protocols.push_back(name);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }

  if (!listen.empty()) {
    config.listen.clear();
    config.listen_is_default = false;
    for (const auto& address : listen) {
      boost::system::error_code ec;
      boost::asio::ip::make_address(address, ec);
      if (ec) return usage_error("--listen: not an IP address: " + address);
      if (std::find(config.listen.begin(), config.listen.end(), address) == config.listen.end())
        config.listen.push_back(address);
    }
  }
  if (app.count("--auth-key") > 0 && app.count("--auth-key-file") > 0)
    return usage_error("--auth-key and --auth-key-file: give the key one way");
  if (app.count("--auth-key") > 0) {
    if (auth_key.empty()) return usage_error("--auth-key: the key must not be empty");
    config.auth_key = auth_key;
    config.auth_key_source = "--auth-key";
  } else if (app.count("--auth-key-file") > 0) {
    auto file = read_auth_key_file(auth_key_file);
    if (!file.key) return usage_error("--auth-key-file " + file.error);
    config.auth_key = std::move(file.key);
    config.auth_key_source = auth_key_file;
    if (file.readable_by_others)
      config.warnings.push_back("--auth-key-file " + auth_key_file +
                                ": other users may read it (chmod 600 it)");
  } else if (credentials_directory && !credentials_directory->empty()) {
    const std::string path = *credentials_directory + "/auth-key";
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      auto file = read_auth_key_file(path);
      if (!file.key) return usage_error("systemd credential auth-key: " + file.error);
      config.auth_key = std::move(file.key);
      config.auth_key_source = "systemd credential auth-key";
    }
  }
  const bool tls_given = app.count("--tls-certificate") > 0, tls_key_given = app.count("--tls-key") > 0;
  if (tls_given != tls_key_given) return usage_error("--tls-certificate and --tls-key: give both or neither");
  const auto readable = [](const std::string& path) { return ::access(path.c_str(), R_OK) == 0; };
  if (tls_given) {
    for (const auto* path : {&tls_certificate, &tls_key})
      if (!readable(*path))
        return usage_error((path == &tls_certificate ? "--tls-certificate " : "--tls-key ") + *path +
                           ": cannot be read");
    config.tls_certificate_file = tls_certificate;
    config.tls_key_file = tls_key;
  } else if (credentials_directory && !credentials_directory->empty()) {
    const std::string certificate = *credentials_directory + "/tls-certificate";
    const std::string key = *credentials_directory + "/tls-key";
    if (readable(certificate) != readable(key))
      return usage_error("systemd credentials tls-certificate and tls-key: give both or neither");
    if (readable(certificate)) {
      config.tls_certificate_file = certificate;
      config.tls_key_file = key;
    }
  }
  if (config.control_tls_only && !config.tls_certificate_file)
    return usage_error("--control-tls-only: the control API needs a certificate for TLS (--tls-certificate and --tls-key)");
  if (app.count("--user") > 0) {
    if (user.empty()) return usage_error("--user: the user name must not be empty");
    config.user = user;
  }
  config.log_level = log_level_from_string(log_level).value_or(LogLevel::info);
  return {std::move(config), 0, {}};
}

}  // namespace vpncheck::reflector
