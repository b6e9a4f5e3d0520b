#include "src/nat/pcp.h"

#include <algorithm>

#include "probes/ip.h"

namespace vpncheck::nat {

using probes::ByteReader;
using probes::ByteWriter;

// ---------------------------------------------------------------- PCP

PcpNonce make_pcp_nonce(const probes::RandomFill& rnd) {
  PcpNonce n{};
  if (rnd) rnd(n);
  return n;
}

std::string_view describe(PcpResult r) {
  switch (r) {
    case PcpResult::success: return "success";
    case PcpResult::unsupp_version: return "unsupported version";
    case PcpResult::not_authorized: return "not authorized";
    case PcpResult::malformed_request: return "malformed request";
    case PcpResult::unsupp_opcode: return "unsupported opcode";
    case PcpResult::unsupp_option: return "unsupported option";
    case PcpResult::malformed_option: return "malformed option";
    case PcpResult::network_failure: return "network failure";
    case PcpResult::no_resources: return "no resources";
    case PcpResult::unsupp_protocol: return "unsupported protocol";
    case PcpResult::user_ex_quota: return "user exceeded quota";
    case PcpResult::cannot_provide_external: return "cannot provide external address/port";
    case PcpResult::address_mismatch: return "address mismatch (another NAT between client and server)";
    case PcpResult::excessive_remote_peers: return "excessive remote peers";
  }
  return "unknown result code";
}

namespace {

void write_pcp_header(ByteWriter& w, std::uint8_t opcode, std::uint32_t lifetime, const Ipv4& client) {
  const Ipv6 mapped = ipv4_mapped(client);
  w.u8(kPcpVersion).u8(opcode).be16(0).be32(lifetime).bytes(mapped);
}

std::uint8_t ip_proto(MappingProtocol p) { return p == MappingProtocol::tcp ? kIpProtoTcp : kIpProtoUdp; }

// RFC 6887 §8.3: drop answers shorter than 4, longer than 1100 or not a multiple of 4.
Parsed<PcpResponseHeader> parse_pcp_header(ByteReader& r, std::size_t total, std::uint8_t want_opcode) {
  auto version = r.u8();
  auto opcode = r.u8();
  if (!version) return ParseError::truncated;
  if (*version != kPcpVersion) return ParseError::wrong_version;
  if (!opcode) return ParseError::truncated;
  if ((*opcode & kPcpResponseBit) == 0) return ParseError::not_a_response;
  if ((*opcode & 0x7f) != want_opcode) return ParseError::wrong_opcode;
  if (total > kPcpMaxMessageSize) return ParseError::too_long;
  if (total % 4 != 0) return ParseError::malformed;
  r.skip(1);  // reserved
  auto result = r.u8();
  auto lifetime = r.be32();
  auto epoch = r.be32();
  if (!result || !lifetime || !epoch || !r.skip(12)) return ParseError::truncated;
  return PcpResponseHeader{want_opcode, *result, *lifetime, *epoch};
}

}  // namespace

Bytes pcp_announce_request(const Ipv4& client_address) {
  ByteWriter w;
  write_pcp_header(w, kPcpOpAnnounce, 0, client_address);
  return w.take();
}

Parsed<PcpResponseHeader> parse_pcp_announce_response(ByteView reply) {
  ByteReader r(reply);
  return parse_pcp_header(r, reply.size(), kPcpOpAnnounce);
}

Bytes pcp_map_request(const PcpMapRequest& q) {
  ByteWriter w;
  write_pcp_header(w, kPcpOpMap, q.lifetime_s, q.client_address);
  const Ipv6 suggested = ipv4_mapped(q.suggested_external_address.value_or(Ipv4{0, 0, 0, 0}));
  w.bytes(q.nonce)
      .u8(ip_proto(q.protocol))
      .zeros(3)
      .be16(q.internal_port)
      .be16(q.suggested_external_port)
      .bytes(suggested);
  return w.take();
}

Bytes pcp_delete_request(const PcpMapRequest& original) {
  PcpMapRequest q = original;
  q.lifetime_s = 0;
  return pcp_map_request(q);
}

Parsed<PcpMapResponse> parse_pcp_map_response(ByteView reply, const PcpMapRequest& request) {
  ByteReader r(reply);
  auto header = parse_pcp_header(r, reply.size(), kPcpOpMap);
  if (!header) return header.error();
  PcpMapResponse out;
  out.header = *header;
  if (r.remaining() < kPcpMapDataSize) {
    // Error answers may stop after the header (e.g. UNSUPP_VERSION); success may not.
    if (out.header.result_code != 0 && r.remaining() == 0) return out;
    return ParseError::truncated;
  }
  auto nonce = r.take(kPcpNonceSize);
  auto proto = r.u8();
  r.skip(3);
  auto internal = r.be16();
  auto external = r.be16();
  auto address = r.take(16);
  if (!nonce || !proto || !internal || !external || !address) return ParseError::truncated;
  if (!std::equal(nonce->begin(), nonce->end(), request.nonce.begin())) return ParseError::nonce_mismatch;
  if (*proto != ip_proto(request.protocol) || *internal != request.internal_port) return ParseError::mismatch;
  out.internal_port = *internal;
  out.external_port = *external;
  out.external_address = *probes::ip6::address_from(*address);
  return out;
}

}  // namespace vpncheck::nat
