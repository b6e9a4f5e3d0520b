// Contract 2 (DESIGN.md): what the reflector reports. These types and their
// JSON form are shared by the reflector (which writes them) and the client
// (which reads them and must survive any garbage a network hands it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "probes/probe.h"

namespace vpncheck::probes {

constexpr std::string_view kControlApiVersion = "v1";

struct Endpoint {
  std::string address;
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

struct Capabilities {
  std::vector<std::uint16_t> udp_ports;
  std::vector<std::uint16_t> tcp_ports;
  std::vector<std::string> raw_protocols;        // e.g. "esp", "gre" once raw listeners exist (IPv4)
  // Raw protocols the reflector answers over IPv6 ("esp", "ah", "gre"). Absent from an
  // older reflector's answer: then no raw probe runs over IPv6.
  std::vector<std::string> raw_protocols_v6;
  std::optional<std::string> alternate_address;  // RFC 5780-style second address
  std::vector<std::uint16_t> nat_ports;          // NAT test service: primary[, alternate] (IPv4)
  std::optional<std::string> wireguard_public_key_hex;
};

// POST /v1/sessions
struct SessionInfo {
  std::string session_id;
  std::string tag_hex;
  Endpoint client;  // the control connection's source as the reflector saw it
  Capabilities capabilities;
  int expires_in_s = 0;
  std::string reflector_version;
};

struct ReplyRecord {
  bool sent = false;
  std::string kind;  // e.g. "wireguard/handshake-response", "control/echo"
  std::size_t length = 0;
  std::string reason;  // why nothing was sent, when sent == false
};

// One record per arrival (GET /v1/sessions/{id}/observations).
struct Observation {
  std::uint64_t sequence = 0;
  std::uint16_t probe_index = 0;
  std::string protocol;  // module id, or "control"
  std::string kind;      // "genuine" | "control"
  Transport transport = Transport::udp;
  std::uint16_t local_port = 0;
  Endpoint source;  // after NAT
  std::optional<int> ttl;
  std::optional<int> tos;
  std::size_t payload_length = 0;
  std::string payload_sha256;
  Fields fields;
  std::int64_t received_at_unix_ms = 0;
  ReplyRecord reply;
};

struct ObservationList {
  std::vector<Observation> observations;
  std::uint64_t dropped = 0;  // records the reflector could not keep (buffer bound)
};

nlohmann::json to_json(const SessionInfo& info);
nlohmann::json to_json(const Observation& obs);
nlohmann::json to_json(const ObservationList& list);

// Parsers of what came over the network: never throw; on failure return
// nullopt and say what was wrong in `error`.
std::optional<SessionInfo> session_info_from_json(const std::string& body, std::string& error);
std::optional<ObservationList> observations_from_json(const std::string& body, std::string& error);

}  // namespace vpncheck::probes
