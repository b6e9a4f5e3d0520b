// The fixed IPv6 header (RFC 8200 §3) for raw IP probes over IPv6. Pure.
//
// Convention (Transport::ip over IPv6): builders, parsers and is_reply_to see
// a whole IPv6 datagram (40-byte header, no extension headers, + payload), as
// they see a whole IPv4 datagram over IPv4, because AH's ICV covers the header
// (RFC 4302 §3.3.3.1.2). A Linux IPv6 raw socket never hands the header over
// and builds it itself on send, so the I/O around the modules converts:
//  - receive: rebuild the header from what the socket reports (source from
//    recvfrom, destination from IPV6_PKTINFO, hop limit and traffic class from
//    IPV6_HOPLIMIT / IPV6_TCLASS, the socket's protocol) with ipv6_datagram();
//  - send: split_ipv6() gives the payload to send and the source/destination
//    to send it between (IPV6_PKTINFO / bind), so the kernel's header equals the
//    one the builder assumed in every field AH protects.
// The flow label is not reported by the socket and is rebuilt as 0: it is a
// mutable field for AH and not compared by anything else.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "probes/bytes.h"

namespace vpncheck::probes::ip6 {

using Address = std::array<std::uint8_t, 16>;

constexpr std::size_t kHeaderSize = 40;
constexpr std::size_t kMaxPayload = 0xffff;  // no jumbograms

struct Packet {
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;
  std::uint8_t next_header = 0;
  std::uint8_t hop_limit = 0;
  Address src{};
  Address dst{};
  ByteView payload;  // points into the parsed datagram
};

// Version 6 | traffic class | flow label 0 | payload length | next header |
// hop limit | src | dst, then `payload`. Empty if payload exceeds kMaxPayload.
Bytes datagram(const Address& src, const Address& dst, std::uint8_t next_header, std::uint8_t hop_limit,
               std::uint8_t traffic_class, ByteView payload);
// Version 6, the payload length field equal to what follows the header.
std::optional<Packet> parse(ByteView datagram);
// Is this a whole IPv6 datagram (version nibble 6, at least a header)? Cheap
// dispatch for parsers that accept both families.
inline bool looks_like_ipv6(ByteView d) { return d.size() >= kHeaderSize && (d[0] >> 4) == 6; }

// The header with RFC 4302 §3.3.3.1.2's mutable fields (traffic class, flow
// label, hop limit) zeroed: what AH's ICV covers of it.
Bytes header_for_icv(ByteView datagram);

// A 16-byte address from IpPort-style bytes; nullopt unless exactly 16 bytes.
std::optional<Address> address_from(ByteView bytes);

}  // namespace vpncheck::probes::ip6
