// PCP (RFC 6887): ANNOUNCE (is a PCP server there) and MAP with its delete.
// Pure codec (see port_mapping.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probes/probe.h"  // RandomFill
#include "src/nat/port_mapping.h"

namespace vpncheck::nat {

// ---------------------------------------------------------------- PCP
// RFC 6887. Same server port as NAT-PMP (5351).
constexpr std::uint8_t kPcpVersion = 2;            // RFC 6887 §7 / §9
constexpr std::uint8_t kPcpOpAnnounce = 0;         // RFC 6887 §14.1
constexpr std::uint8_t kPcpOpMap = 1;              // RFC 6887 §11
constexpr std::uint8_t kPcpResponseBit = 0x80;     // R bit in the opcode byte
constexpr std::size_t kPcpHeaderSize = 24;         // common request / response header
constexpr std::size_t kPcpMapDataSize = 36;        // nonce 12 | proto 1 | reserved 3 | ports 2+2 | address 16
constexpr std::size_t kPcpMapMessageSize = kPcpHeaderSize + kPcpMapDataSize;  // 60
constexpr std::size_t kPcpMaxMessageSize = 1100;   // RFC 6887 §7
constexpr std::size_t kPcpNonceSize = 12;
constexpr std::uint8_t kIpProtoTcp = 6;
constexpr std::uint8_t kIpProtoUdp = 17;

using PcpNonce = std::array<std::uint8_t, kPcpNonceSize>;
PcpNonce make_pcp_nonce(const probes::RandomFill& rnd);

// RFC 6887 §7.4 result codes.
enum class PcpResult : std::uint8_t {
  success = 0,
  unsupp_version = 1,
  not_authorized = 2,
  malformed_request = 3,
  unsupp_opcode = 4,
  unsupp_option = 5,
  malformed_option = 6,
  network_failure = 7,
  no_resources = 8,
  unsupp_protocol = 9,
  user_ex_quota = 10,
  cannot_provide_external = 11,
  address_mismatch = 12,  // the client address in the request is not what the server saw: a NAT in between
  excessive_remote_peers = 13,
};
std::string_view describe(PcpResult r);

struct PcpMapRequest {
  PcpNonce nonce{};
  MappingProtocol protocol = MappingProtocol::udp;
  Ipv4 client_address{};  // our LAN address (the source address of the request)
  std::uint16_t internal_port = 0;
  std::uint16_t suggested_external_port = 0;
  std::optional<Ipv4> suggested_external_address;  // none: ::ffff:0.0.0.0 (RFC 6887 §11.1)
  std::uint32_t lifetime_s = 0;
};

struct PcpResponseHeader {
  std::uint8_t opcode = 0;  // without the R bit
  std::uint8_t result_code = 0;
  std::uint32_t lifetime_s = 0;
  std::uint32_t epoch_s = 0;
  bool operator==(const PcpResponseHeader&) const = default;
};

struct PcpMapResponse {
  PcpResponseHeader header;
  // Present on success (and on errors whose reply carries the MAP data).
  std::uint16_t internal_port = 0;
  std::uint16_t external_port = 0;
  Ipv6 external_address{};  // IPv4-mapped for an IPv4 NAT; see from_ipv4_mapped()
  bool operator==(const PcpMapResponse&) const = default;
};

// 24 bytes, lifetime 0, no opcode data: cheapest "is there a PCP server" probe.
Bytes pcp_announce_request(const Ipv4& client_address);
Parsed<PcpResponseHeader> parse_pcp_announce_response(ByteView reply);
Bytes pcp_map_request(const PcpMapRequest& request);
// RFC 6887 §15: the same MAP (same nonce, protocol, internal port) with lifetime 0.
Bytes pcp_delete_request(const PcpMapRequest& original);
// Verifies version, R bit, opcode, the nonce (always, when MAP data is present),
// protocol and internal port; a success answer must carry the MAP data.
// Options after the MAP data are ignored. A NAT-PMP answer (version 0) is wrong_version.
Parsed<PcpMapResponse> parse_pcp_map_response(ByteView reply, const PcpMapRequest& request);

}  // namespace vpncheck::nat
