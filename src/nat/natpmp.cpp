#include "src/nat/natpmp.h"

#include "probes/ip.h"

namespace vpncheck::nat {

using probes::ByteReader;
using probes::ByteWriter;

// ---------------------------------------------------------------- NAT-PMP

std::string_view describe(NatPmpResult r) {
  switch (r) {
    case NatPmpResult::success: return "success";
    case NatPmpResult::unsupported_version: return "unsupported version";
    case NatPmpResult::not_authorized: return "not authorized / refused";
    case NatPmpResult::network_failure: return "network failure (gateway has no external address)";
    case NatPmpResult::out_of_resources: return "out of resources";
    case NatPmpResult::unsupported_opcode: return "unsupported opcode";
  }
  return "unknown result code";
}

Bytes natpmp_external_address_request() {
  return Bytes{kNatPmpVersion, kNatPmpOpExternalAddress};
}

Parsed<NatPmpExternalAddress> parse_natpmp_external_address_response(ByteView reply) {
  ByteReader r(reply);
  auto version = r.u8();
  auto opcode = r.u8();
  auto result = r.be16();
  auto epoch = r.be32();
  if (!version) return ParseError::truncated;
  if (*version != kNatPmpVersion) return ParseError::wrong_version;
  if (!opcode) return ParseError::truncated;
  if (*opcode == kNatPmpOpExternalAddress) return ParseError::not_a_response;
  if (*opcode != kNatPmpResponseBit + kNatPmpOpExternalAddress) return ParseError::wrong_opcode;
  if (!result || !epoch) return ParseError::truncated;
  NatPmpExternalAddress out;
  out.result_code = *result;
  out.seconds_since_epoch = *epoch;
  if (out.result_code != 0) return out;
  auto address = r.take(4);
  if (!address) return ParseError::truncated;
  out.external_address = probes::ip::ipv4_address_from(*address);
  return out;
}

namespace {

std::uint8_t natpmp_map_opcode(MappingProtocol p) {
  return p == MappingProtocol::tcp ? kNatPmpOpMapTcp : kNatPmpOpMapUdp;
}

}  // namespace

Bytes natpmp_mapping_request(const NatPmpMappingRequest& request) {
  ByteWriter w;
  w.u8(kNatPmpVersion)
      .u8(natpmp_map_opcode(request.protocol))
      .be16(0)  // reserved
      .be16(request.internal_port)
      .be16(request.suggested_external_port)
      .be32(request.lifetime_s);
  return w.take();
}

Bytes natpmp_delete_request(MappingProtocol protocol, std::uint16_t internal_port) {
  return natpmp_mapping_request({protocol, internal_port, 0, 0});
}

Parsed<NatPmpMapping> parse_natpmp_mapping_response(ByteView reply, const NatPmpMappingRequest& request) {
  ByteReader r(reply);
  auto version = r.u8();
  auto opcode = r.u8();
  auto result = r.be16();
  auto epoch = r.be32();
  if (!version) return ParseError::truncated;
  if (*version != kNatPmpVersion) return ParseError::wrong_version;
  if (!opcode) return ParseError::truncated;
  const std::uint8_t want = natpmp_map_opcode(request.protocol);
  if (*opcode == want) return ParseError::not_a_response;
  if (*opcode != kNatPmpResponseBit + want) return ParseError::wrong_opcode;
  if (!result || !epoch) return ParseError::truncated;
  NatPmpMapping out;
  out.result_code = *result;
  out.seconds_since_epoch = *epoch;
  auto internal = r.be16();
  auto external = r.be16();
  auto lifetime = r.be32();
  if (!internal || !external || !lifetime) {
    if (out.result_code != 0) return out;  // short error answer
    return ParseError::truncated;
  }
  out.internal_port = *internal;
  out.external_port = *external;
  out.lifetime_s = *lifetime;
  if (out.result_code == 0 && out.internal_port != request.internal_port) return ParseError::mismatch;
  return out;
}

}  // namespace vpncheck::nat
