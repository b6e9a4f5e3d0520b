// IP headers for raw IP probes, written once for both programs. Pure: no
// sockets, nothing throws on bad input.
//
//  - The raw-protocol table: which IP protocols the probes send as whole
//    datagrams (ESP, AH, GRE), with the number, the name reports and the
//    reflector's capabilities use, and the name people read.
//  - IPv4 (RFC 791): header length, checksum (RFC 1071), a parser and a builder.
//  - IPv6 (RFC 8200 §3): the fixed header, namespace ip6 below.
//  - Either family: a datagram from 4- or 16-byte addresses, the payload of
//    one protocol, and the digest scope: the part of a raw datagram whose hash
//    both programs record, so the report can tell whether it was modified.
//
// Convention (Transport::ip over IPv6): builders, parsers and is_reply_to see
// a whole IPv6 datagram (40-byte header, no extension headers, + payload), as
// they see a whole IPv4 datagram over IPv4, because AH's ICV covers the header
// (RFC 4302 §3.3.3.1.2). A Linux IPv6 raw socket never hands the header over
// and builds it itself on send, so the I/O around the modules converts:
//  - receive: rebuild the header from what the socket reports (source from
//    recvfrom, destination from IPV6_PKTINFO, hop limit and traffic class from
//    IPV6_HOPLIMIT / IPV6_TCLASS, the socket's protocol) with ip6::datagram();
//  - send: ip6::parse() gives the payload to send and the source/destination
//    to send it between (IPV6_PKTINFO / bind), so the kernel's header equals the
//    one the builder assumed in every field AH protects.
// The flow label is not reported by the socket and is rebuilt as 0: it is a
// mutable field for AH and not compared by anything else.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probes/bytes.h"

namespace vpncheck::probes::ip {

// ---- The raw protocols (IANA "Assigned Internet Protocol Numbers") ----------

inline constexpr std::uint8_t kGre = 47;  // RFC 2784; PPTP's enhanced GRE, RFC 2637 §4
inline constexpr std::uint8_t kEsp = 50;  // RFC 4303
inline constexpr std::uint8_t kAh = 51;   // RFC 4302

struct RawProtocol {
  std::uint8_t number;
  std::string_view name;     // in reports, capabilities and --raw-protocols: "esp"
  std::string_view display;  // for people: "ESP"
  bool over_ipv6;            // its modules build and parse whole IPv6 datagrams too
};

inline constexpr std::array kRawProtocols{
    RawProtocol{kEsp, "esp", "ESP", true},
    RawProtocol{kAh, "ah", "AH", true},
    RawProtocol{kGre, "gre", "GRE", true},
};

// nullptr for a number or name not in the table.
const RawProtocol* raw_protocol(std::uint16_t number);
const RawProtocol* raw_protocol(std::string_view name);
// The table's names in order, e.g. for defaults and usage messages.
std::vector<std::string> raw_protocol_names();

// ---- IPv4 ------------------------------------------------------------------

using Ipv4Address = std::array<std::uint8_t, 4>;

constexpr std::size_t kIpv4HeaderSize = 20;

// The header length in bytes (IHL * 4) of what starts like an IPv4 datagram:
// version 4, IHL >= 5, the header within `datagram`. nullopt otherwise. The
// total length field is not looked at (see parse_ipv4 for that).
std::optional<std::size_t> ipv4_header_length(ByteView datagram);

struct Ipv4Packet {
  std::uint8_t header_length = 0;   // bytes (IHL * 4)
  std::uint8_t tos = 0;
  std::uint16_t total_length = 0;
  std::uint16_t id = 0;
  std::uint16_t flags_fragment = 0; // DF 0x4000, MF 0x2000, offset in 8-byte units
  std::uint8_t ttl = 0;
  std::uint8_t protocol = 0;
  std::uint16_t checksum = 0;
  bool checksum_valid = false;
  Ipv4Address src{};
  Ipv4Address dst{};
  ByteView options;
  ByteView payload;                 // points into the parsed datagram

  bool is_fragment() const { return (flags_fragment & 0x3fff) != 0; }  // MF or an offset
};

// ipv4_header_length, and the total length == datagram size (as a Linux raw
// socket delivers it). A bad header checksum is reported, not rejected.
std::optional<Ipv4Packet> parse_ipv4(ByteView datagram);

// A whole IPv4 datagram: 20-byte header (no options, DF clear, correct
// checksum) + payload. ID 0 asks a Linux IP_HDRINCL socket to fill it in.
// Empty if the result would exceed 65535 bytes.
Bytes ipv4_datagram(const Ipv4Address& src, const Ipv4Address& dst, std::uint8_t protocol, ByteView payload,
                    std::uint16_t id = 0, std::uint8_t ttl = 64);

// RFC 791 / RFC 1071 one's-complement sum over `header` (checksum field included:
// returns 0 for a correct header; with the field zeroed it returns the value to put there).
std::uint16_t ipv4_checksum(ByteView header);

// A 4-byte address from IpPort-style bytes; nullopt unless exactly 4 bytes.
std::optional<Ipv4Address> ipv4_address_from(ByteView bytes);

}  // namespace vpncheck::probes::ip

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

namespace vpncheck::probes::ip {

// ---- Either family -----------------------------------------------------------

// A datagram from `source` to `destination` (addresses only): IPv6 (hop limit
// 64) when both are 16 bytes, IPv4 (ID 0, TTL 64) when both are 4. Empty
// otherwise (mixed or unknown families, or too large).
Bytes datagram(ByteView source, ByteView destination, std::uint8_t protocol, ByteView payload);

// Sets DF on an IPv4 datagram as `datagram` built it (20-byte header),
// checksum recomputed. Anything else (IPv6, which routers never fragment; a
// header of another length) is left as it is.
void set_dont_fragment(Bytes& datagram);

// The payload of a well-formed datagram of `protocol`: IPv4 as parse_ipv4 and
// not a fragment, or IPv6 as ip6::parse (no extension headers). nullopt otherwise.
std::optional<ByteView> payload(ByteView datagram, std::uint8_t protocol);

// The digest scope of a raw IP probe or arrival: the datagram after its IPv4
// or IPv6 header. A NAT rewrites the header by design and an IPv6 raw socket
// never sees it, so only what follows can show a modification. Client and
// reflector both hash exactly this; anything that does not start with a
// header of either family is digested whole. Length and protocol fields are
// not checked: a truncated datagram is still compared, and differs.
ByteView digest_scope(ByteView datagram);

}  // namespace vpncheck::probes::ip
