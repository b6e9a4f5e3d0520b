// ESP and AH probe codecs (pure: no sockets, no I/O, nothing throws on bad input).
// Layouts: PROTOCOLS.md §4.5 (RFC 4303 ESP, RFC 4302 AH), IPv4 = RFC 791.
//
// Contract 1: the 8-byte ProbeToken travels in the payload at a fixed offset,
// and the SPI is derived from it, so the reflector attributes a packet after
// NAT (ESP/AH have no ports; a NAT can only rewrite addresses).
//
// SPI choice (decision): SPIs are derived deterministically from the token,
//   spi = first 4 bytes of SHA-256(label | token), raised to >= 0x100,
// with one label per direction ("vpncheck esp request", "vpncheck esp reply",
// "vpncheck ah request", "vpncheck ah reply"). So both sides know every SPI
// without state, the parser can tell a request from a reply (a reflector can
// never mistake its own or another reflector's reply for a request), and a
// middlebox that rewrote the SPI shows up as `role == Role::unknown` while the
// token still attributes the packet. Each probe index gives a different SPI,
// which is what an SPI-learning ALG (Broadcom, PROTOCOLS.md §4.6) expects.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "probes/bytes.h"
#include "probes/ip.h"
#include "probes/probe.h"  // RandomFill
#include "probes/token.h"

namespace vpncheck::probes::esp {

enum class Role { request, reply, unknown };  // from the SPI, see above

constexpr std::uint32_t kMinSpi = 0x100;  // RFC 4303 §2.1: 0 reserved, 1..255 IANA-reserved

std::uint32_t request_spi(const ProbeToken& token, bool ah);
std::uint32_t reply_spi(const ProbeToken& token, bool ah);

// ---- ESP (IP protocol 50, or in UDP 4500 after classify_udp4500) -------------

// SPI 4 | sequence 4 | "IV" 8 random | token 8 | random 40: like a small AES-GCM
// packet (8-byte IV, data, 16-byte ICV). 64 bytes by default.
constexpr std::size_t kEspHeaderSize = 8;
constexpr std::size_t kEspTokenOffset = 16;
constexpr std::size_t kEspMinSize = kEspTokenOffset + kProbeTokenSize;  // 24
constexpr std::size_t kEspDefaultSize = 64;
constexpr std::size_t kEspMaxSize = 65507;

struct EspPacket {
  std::uint32_t spi = 0;
  std::uint32_t sequence = 0;
  ProbeToken token;
  Role role = Role::unknown;
};

// Empty if size is outside [kEspMinSize, kEspMaxSize].
Bytes build_esp(const ProbeToken& token, const RandomFill& rnd, std::size_t size = kEspDefaultSize);
// Rejects input shorter than kEspMinSize or longer than kEspMaxSize, SPI < 0x100, sequence 0.
std::optional<EspPacket> parse_esp(ByteView packet);
// The tunnel's data after the probe's first ESP packet (the data phase,
// ProtocolModule::data_phase): the same SA, so the request SPI, and the
// sequence numbers after it (data sequence n is ESP sequence n + 2, RFC 4303
// §3.3.3 counts up from 1); the same layout as build_esp. Empty if size is
// outside [kEspMinSize, kEspMaxSize] or the sequence would wrap.
Bytes build_esp_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, const RandomFill& rnd);
// nullopt unless a request-SPI ESP packet with sequence 2 or more.
std::optional<DataPacket> parse_esp_data(ByteView packet);
// The token an ESP data packet would carry (at kEspTokenOffset), nothing
// else checked: what the reflector looks up before parse_esp_data hashes.
std::optional<ProbeToken> esp_data_token(ByteView packet);
// ESP in UDP over IPv4: IP 20 + UDP 8 + SPI/sequence 8 + IV up to 16 +
// padding up to 15 + pad length/next header 2 + ICV 16, rounded up: the path
// MTU less this is the inner MTU that fits.
constexpr int kEspInUdpOverhead = 88;
// A full ESP-in-UDP packet fills this host's 1500-byte MTU (the kernel sizes
// the inner MTU so that it does); a small one carries a ping.
constexpr std::size_t kDataFullSizeV4 = 1500 - 20 - 8;
constexpr std::size_t kDataFullSizeV6 = 1500 - 40 - 8;
// Raw ESP (IP protocol 50, routed paths without NAT): the same packets as the
// IP payload, filling the same 1500-byte MTU without the UDP header.
constexpr std::size_t kDataFullIpSizeV4 = 1500 - 20;
constexpr std::size_t kDataFullIpSizeV6 = 1500 - 40;
constexpr std::size_t kDataSmallSize = 120;

// Reflector: reply_spi(token), sequence 1, same size, token echoed. Empty unless
// `request` parses with role request.
Bytes build_esp_reply(ByteView request, const RandomFill& rnd);
// Client: reply parses with role reply, same token and size, sequence 1.
bool is_esp_reply_to(ByteView reply, ByteView request);

// ---- AH (IP protocol 51) in a whole IPv4 datagram -----------------------------

// IPv4 (20, no options, proto 51, DF clear) | AH (24: next header 4, payload len 4,
// SPI, seq 1, ICV 12) | inner IPv4 header (20: proto 59 "no next header", same
// addresses) | token 8 | random 12 = 84 bytes.
//
// Next header 4 (IP-in-IP, tunnel mode), as in PROTOCOLS.md §4.5 and real
// site-to-site AH: the inner header is a genuine IPv4 header, so a DPI box or an
// AH implementation that looks inside sees a well-formed tunnel packet, and a
// host that did decapsulate it would find protocol 59 and drop it harmlessly.
constexpr std::size_t kAhSize = 24;
constexpr std::size_t kAhIcvSize = 12;                 // HMAC-SHA1-96, RFC 2404
constexpr std::size_t kAhIcvOffset = 12;               // within the AH header
constexpr std::uint8_t kAhNextHeaderIpip = 4;
constexpr std::size_t kAhTokenOffset = ip::kIpv4HeaderSize + kAhSize + ip::kIpv4HeaderSize;  // 64
constexpr std::size_t kAhDatagramSize = kAhTokenOffset + kProbeTokenSize + 12;        // 84

struct AhPacket {
  ip::Ipv4Address src{};
  ip::Ipv4Address dst{};
  std::uint8_t ttl = 0;
  std::uint8_t tos = 0;
  std::uint16_t ip_id = 0;
  std::uint8_t next_header = 0;
  std::uint32_t spi = 0;
  std::uint32_t sequence = 0;
  ProbeToken token;
  Role role = Role::unknown;
  // ICV recomputed over the datagram as received (RFC 4302 §3.3.3.1). False
  // when anything immutable changed on the way, e.g. a NAT rewrote the source
  // address: that is the evidence for "AH through NAT is modified".
  bool icv_valid = false;
};

// HMAC key shared by both sides: SHA-256("vpncheck ah" | token), first 20 bytes.
std::array<std::uint8_t, 20> ah_key(const ProbeToken& token);
// HMAC-SHA1-96 over the datagram with TOS, flags+fragment offset, TTL, header
// checksum and the ICV zeroed. nullopt unless it is an IPv4 datagram with a
// 20-byte header carrying a full AH header.
std::optional<std::array<std::uint8_t, kAhIcvSize>> ah_icv(ByteView datagram, const ProbeToken& token);

// Client: the whole datagram to send with IP_HDRINCL (the caller owns the IP ID and TTL).
Bytes build_ah_ipv4_datagram(const ip::Ipv4Address& src, const ip::Ipv4Address& dst, std::uint16_t ip_id,
                             std::uint8_t ttl, const ProbeToken& token, const RandomFill& rnd);
// Rejects: not IPv4, IP options, fragments, protocol != 51, AH payload len != 4,
// SPI < 0x100, next header != 4, inner header not IPv4, size != kAhDatagramSize.
// An invalid outer header checksum is tolerated (the kernel already checked it).
std::optional<AhPacket> parse_ah_ipv4_datagram(ByteView datagram);
// Reflector: AH datagram from `reflector` to `observed_source` (the post-NAT
// address the request came from), reply SPI, sequence 1, valid ICV, same token,
// same size. Empty unless `request` parses with role request.
Bytes build_ah_ipv4_reply(ByteView request, const ip::Ipv4Address& reflector,
                          const ip::Ipv4Address& observed_source, std::uint16_t ip_id, std::uint8_t ttl,
                          const RandomFill& rnd);
// Client: reply parses with role reply, the same token, size <= request, and
// is of the request's IP version (IPv4 or IPv6, see below). The
// ICV is deliberately not required: behind NAT the reply's destination is
// rewritten back to the private address, which breaks it; check
// parse_ah_ipv4_datagram(reply)->icv_valid separately as evidence. Addresses
// are not compared for the same reason.
bool is_ah_reply_to(ByteView reply, ByteView request);

// ---- AH (next header 51) in a whole IPv6 datagram ------------------------------
//
// IPv6 (40, next header 51, no extension headers) | AH (24: next header 41,
// payload len 4, SPI, seq 1, ICV 12; 24 bytes is a multiple of 8 as IPv6
// requires, RFC 4302 §2.2) | inner IPv6 header (40: next header 59, same
// addresses) | token 8 | random 12 = 124 bytes. Tunnel mode as over IPv4,
// with an IPv6 inner header (IPv6-in-IPv6, protocol 41).
//
// The ICV (HMAC-SHA1-96, same key as over IPv4) covers the IPv6 header with
// traffic class, flow label and hop limit zeroed (RFC 4302 §3.3.3.1.2), the AH
// header with its ICV zeroed, and everything after it. A receiver that only
// has the payload (a Linux IPv6 raw socket) rebuilds that header exactly from
// source, destination, payload length and next header (probes/ip.h).
constexpr std::uint8_t kAhNextHeaderIpv6 = 41;
constexpr std::size_t kAh6TokenOffset = ip6::kHeaderSize + kAhSize + ip6::kHeaderSize;  // 104
constexpr std::size_t kAh6DatagramSize = kAh6TokenOffset + kProbeTokenSize + 12;         // 124

struct Ah6Packet {
  ip6::Address src{};
  ip6::Address dst{};
  std::uint8_t hop_limit = 0;
  std::uint8_t traffic_class = 0;
  std::uint32_t spi = 0;
  std::uint32_t sequence = 0;
  ProbeToken token;
  Role role = Role::unknown;
  bool icv_valid = false;  // as over IPv4: false when an immutable field changed on the way
};

// nullopt unless it is an IPv6 datagram of at least header + AH.
std::optional<std::array<std::uint8_t, kAhIcvSize>> ah_icv_ipv6(ByteView datagram, const ProbeToken& token);
// Client: the whole datagram; an IPv6 raw sender sends what follows the header
// from `src` to `dst` (the kernel's header then matches in every protected field).
Bytes build_ah_ipv6_datagram(const ip6::Address& src, const ip6::Address& dst, std::uint8_t hop_limit,
                             const ProbeToken& token, const RandomFill& rnd);
// Rejects: not IPv6, next header != 51, AH payload len != 4, AH next header
// != 41, SPI < 0x100, sequence 0, inner header not IPv6, size != kAh6DatagramSize.
std::optional<Ah6Packet> parse_ah_ipv6_datagram(ByteView datagram);
// Reflector: as build_ah_ipv4_reply, over IPv6.
Bytes build_ah_ipv6_reply(ByteView request, const ip6::Address& reflector, const ip6::Address& observed_source,
                          std::uint8_t hop_limit, const RandomFill& rnd);

// ---- AH over IPv6 through a NAT64 ----
//
// An IP/ICMP translator (RFC 7915) rewrites the outer header and carries AH as
// it is, so the IPv6 probe arrives at the reflector's IPv4 listener as an IPv4
// datagram whose AH still says "IPv6 follows" over the inner IPv6 datagram.
// Its ICV was computed over the IPv6 header the translator replaced: it can
// never hold again (icv_valid false), as through a NAT.
constexpr std::size_t kAh64TokenOffset = ip::kIpv4HeaderSize + kAhSize + ip6::kHeaderSize;  // 84
constexpr std::size_t kAh64DatagramSize = kAh64TokenOffset + kProbeTokenSize + 12;        // 104
// Rejects: not a 20-byte IPv4 header with protocol 51 (or a fragment), AH
// payload len != 4, AH next header != 41, SPI < 0x100, sequence 0, inner
// header not IPv6, size != kAh64DatagramSize.
std::optional<AhPacket> parse_ah_translated_datagram(ByteView datagram);
// Reflector: the answer in the same form (outer IPv4 to `observed_source`,
// the inner IPv6 datagram's addresses swapped), which the translator turns
// back into the AH-over-IPv6 reply the client expects; empty if the request
// is not a translated AH request.
Bytes build_ah_translated_reply(ByteView request, const ip::Ipv4Address& reflector,
                                const ip::Ipv4Address& observed_source, std::uint16_t ip_id, std::uint8_t ttl,
                                const RandomFill& rnd);

}  // namespace vpncheck::probes::esp
