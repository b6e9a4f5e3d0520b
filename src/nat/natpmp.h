// NAT-PMP (RFC 6886): asking the gateway for its external address, and
// mapping requests with their deletes. Pure codec (see port_mapping.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/nat/port_mapping.h"

namespace vpncheck::nat {

// ---------------------------------------------------------------- NAT-PMP
// RFC 6886. Client sends to the default gateway, UDP 5351 (kPortMappingServerPort);
// all fields big-endian.
constexpr std::uint8_t kNatPmpVersion = 0;              // RFC 6886 §3.2
constexpr std::uint8_t kNatPmpOpExternalAddress = 0;    // RFC 6886 §3.2
constexpr std::uint8_t kNatPmpOpMapUdp = 1;             // RFC 6886 §3.3
constexpr std::uint8_t kNatPmpOpMapTcp = 2;
constexpr std::uint8_t kNatPmpResponseBit = 128;        // response opcode = 128 + request opcode
// version 1 | opcode 1 | result 2 | epoch 4 | external IPv4 4
constexpr std::size_t kNatPmpExternalAddressResponseSize = 12;
// version 1 | opcode 1 | reserved 2 | internal port 2 | suggested external port 2 | lifetime 4
constexpr std::size_t kNatPmpMappingRequestSize = 12;
// version 1 | opcode 1 | result 2 | epoch 4 | internal port 2 | mapped external port 2 | lifetime 4
constexpr std::size_t kNatPmpMappingResponseSize = 16;
// version 1 | opcode 1 | result 2 | epoch 4: what every NAT-PMP response starts with; an
// error response may stop there (RFC 6886 §3.5: other fields undefined on error).
constexpr std::size_t kNatPmpMinResponseSize = 8;

// RFC 6886 §3.5 result codes.
enum class NatPmpResult : std::uint16_t {
  success = 0,
  unsupported_version = 1,
  not_authorized = 2,  // "Not Authorized/Refused" (e.g. the box has it switched off)
  network_failure = 3,  // e.g. no external address yet
  out_of_resources = 4,
  unsupported_opcode = 5,
};
std::string_view describe(NatPmpResult r);  // unknown codes: "unknown result code"

struct NatPmpExternalAddress {
  std::uint16_t result_code = 0;            // NatPmpResult; kept raw so unknown codes survive
  std::uint32_t seconds_since_epoch = 0;    // the gateway's mapping-table age
  std::optional<Ipv4> external_address;     // only when result_code == 0
  bool operator==(const NatPmpExternalAddress&) const = default;
};

struct NatPmpMappingRequest {
  MappingProtocol protocol = MappingProtocol::udp;
  std::uint16_t internal_port = 0;
  std::uint16_t suggested_external_port = 0;
  std::uint32_t lifetime_s = 0;  // RFC 6886 §3.3 recommends 7200 for a real mapping
};

struct NatPmpMapping {
  std::uint16_t result_code = 0;
  std::uint32_t seconds_since_epoch = 0;
  std::uint16_t internal_port = 0;
  std::uint16_t external_port = 0;  // 0 on error
  std::uint32_t lifetime_s = 0;     // granted; 0 after a delete
  bool operator==(const NatPmpMapping&) const = default;
};

// 2 bytes: 00 00.
Bytes natpmp_external_address_request();
// Accepts a 12-byte success answer or an error answer of >= 8 bytes; trailing bytes ignored.
Parsed<NatPmpExternalAddress> parse_natpmp_external_address_response(ByteView reply);
Bytes natpmp_mapping_request(const NatPmpMappingRequest& request);
// RFC 6886 §3.4: same opcode and internal port, suggested external port 0, lifetime 0.
Bytes natpmp_delete_request(MappingProtocol protocol, std::uint16_t internal_port);
// Checks the opcode against request.protocol and, on success, the internal port.
Parsed<NatPmpMapping> parse_natpmp_mapping_response(ByteView reply, const NatPmpMappingRequest& request);

}  // namespace vpncheck::nat
