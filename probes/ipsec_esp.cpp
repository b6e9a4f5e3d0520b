#include "probes/ipsec_esp.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "probes/crypto.h"

namespace vpncheck::probes::esp {
namespace {

constexpr std::string_view kEspRequestLabel = "vpncheck esp request";
constexpr std::string_view kEspReplyLabel = "vpncheck esp reply";
constexpr std::string_view kAhRequestLabel = "vpncheck ah request";
constexpr std::string_view kAhReplyLabel = "vpncheck ah reply";
constexpr std::size_t kLongestLabel = std::max({kEspRequestLabel.size(), kEspReplyLabel.size(),
                                                kAhRequestLabel.size(), kAhReplyLabel.size()});

std::uint32_t derive_spi(std::string_view label, const ProbeToken& token) {
  // On the stack: the reflector derives one for every datagram that could be ESP data.
  std::array<std::uint8_t, kLongestLabel + kProbeTokenSize> input{};
  const auto encoded = token.encode();
  const std::size_t n = std::min(label.size(), kLongestLabel);  // one of the labels above
  std::copy_n(label.begin(), n, input.begin());
  std::copy(encoded.begin(), encoded.end(), input.begin() + static_cast<std::ptrdiff_t>(n));
  auto d = sha256(ByteView(input).first(n + encoded.size()));
  std::uint32_t spi = (std::uint32_t{d[0]} << 24) | (std::uint32_t{d[1]} << 16) |
                      (std::uint32_t{d[2]} << 8) | std::uint32_t{d[3]};
  return spi < kMinSpi ? spi + kMinSpi : spi;
}

Role role_of(std::uint32_t spi, const ProbeToken& token, bool ah) {
  if (spi == request_spi(token, ah)) return Role::request;
  if (spi == reply_spi(token, ah)) return Role::reply;
  return Role::unknown;
}

std::uint32_t read_be32(ByteView v, std::size_t offset) {
  return (std::uint32_t{v[offset]} << 24) | (std::uint32_t{v[offset + 1]} << 16) |
         (std::uint32_t{v[offset + 2]} << 8) | std::uint32_t{v[offset + 3]};
}

constexpr std::uint8_t kProtoNoNextHeader = 59;  // RFC 8200 §4.7 / IANA
constexpr std::uint8_t kAhPayloadLen = 4;        // (24 bytes / 4) - 2, RFC 4302 §2.2

// The AH datagram with the ICV filled in.
Bytes build_ah(const ip::Ipv4Address& src, const ip::Ipv4Address& dst, std::uint16_t ip_id, std::uint8_t ttl,
               const ProbeToken& token, std::uint32_t spi, const RandomFill& rnd) {
  ByteWriter inner_payload;
  inner_payload.bytes(token.encode());
  std::array<std::uint8_t, 12> tail{};
  rnd(tail);
  inner_payload.bytes(tail);
  ByteWriter ah;
  ah.u8(kAhNextHeaderIpip).u8(kAhPayloadLen).be16(0).be32(spi).be32(1).zeros(kAhIcvSize);
  ah.bytes(ip::ipv4_datagram(src, dst, kProtoNoNextHeader, inner_payload.view(), ip_id, 64));
  Bytes d = ip::ipv4_datagram(src, dst, ip::kAh, ah.view(), ip_id, ttl);
  auto icv = ah_icv(d, token);
  if (!icv) return {};
  std::copy(icv->begin(), icv->end(), d.begin() + ip::kIpv4HeaderSize + kAhIcvOffset);
  return d;
}

}  // namespace

std::uint32_t request_spi(const ProbeToken& token, bool ah) {
  return derive_spi(ah ? kAhRequestLabel : kEspRequestLabel, token);
}

std::uint32_t reply_spi(const ProbeToken& token, bool ah) {
  return derive_spi(ah ? kAhReplyLabel : kEspReplyLabel, token);
}

// ---- ESP ----

Bytes build_esp(const ProbeToken& token, const RandomFill& rnd, std::size_t size) {
  if (size < kEspMinSize || size > kEspMaxSize) return {};
  Bytes p(size);
  rnd(p);
  ByteWriter h;
  h.be32(request_spi(token, false)).be32(1);  // RFC 4303 §3.3.3: the first packet has sequence 1
  std::copy(h.view().begin(), h.view().end(), p.begin());
  auto t = token.encode();
  std::copy(t.begin(), t.end(), p.begin() + kEspTokenOffset);
  return p;
}

std::optional<EspPacket> parse_esp(ByteView packet) {
  if (packet.size() < kEspMinSize || packet.size() > kEspMaxSize) return std::nullopt;
  EspPacket e;
  e.spi = read_be32(packet, 0);
  e.sequence = read_be32(packet, 4);
  if (e.spi < kMinSpi || e.sequence == 0) return std::nullopt;
  auto token = ProbeToken::decode(packet.subspan(kEspTokenOffset, kProbeTokenSize));
  if (!token) return std::nullopt;
  e.token = *token;
  e.role = role_of(e.spi, e.token, false);
  return e;
}

Bytes build_esp_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, const RandomFill& rnd) {
  if (sequence > 0xffffffffu - 2) return {};
  Bytes p = build_esp(token, rnd, size);
  if (p.empty()) return p;
  ByteWriter h;
  h.be32(sequence + 2);
  std::copy(h.view().begin(), h.view().end(), p.begin() + 4);
  return p;
}

// The reflector tries this on every UDP datagram before the handshake
// parsers, so it costs one SPI derivation, only where the cheap checks pass:
// a data packet is a request and never carries the reply SPI.
std::optional<DataPacket> parse_esp_data(ByteView packet) {
  if (packet.size() < kEspMinSize || packet.size() > kEspMaxSize) return std::nullopt;
  const std::uint32_t spi = read_be32(packet, 0);
  const std::uint32_t sequence = read_be32(packet, 4);
  if (spi < kMinSpi || sequence < 2) return std::nullopt;
  auto token = ProbeToken::decode(packet.subspan(kEspTokenOffset, kProbeTokenSize));
  if (!token || spi != request_spi(*token, false)) return std::nullopt;
  return DataPacket{*token, sequence - 2};
}

std::optional<ProbeToken> esp_data_token(ByteView packet) {
  if (packet.size() < kEspMinSize || packet.size() > kEspMaxSize) return std::nullopt;
  return ProbeToken::decode(packet.subspan(kEspTokenOffset, kProbeTokenSize));
}

Bytes build_esp_reply(ByteView request, const RandomFill& rnd) {
  auto rq = parse_esp(request);
  if (!rq || rq->role != Role::request) return {};
  Bytes p(request.size());
  rnd(p);
  ByteWriter h;
  h.be32(reply_spi(rq->token, false)).be32(1);
  std::copy(h.view().begin(), h.view().end(), p.begin());
  auto t = rq->token.encode();
  std::copy(t.begin(), t.end(), p.begin() + kEspTokenOffset);
  return p;
}

bool is_esp_reply_to(ByteView reply, ByteView request) {
  auto rs = parse_esp(reply);
  auto rq = parse_esp(request);
  return rs && rq && rs->role == Role::reply && rq->role == Role::request && rs->token == rq->token &&
         rs->sequence == 1 && reply.size() == request.size();
}

// ---- AH ----

std::array<std::uint8_t, 20> ah_key(const ProbeToken& token) {
  ByteWriter w;
  w.bytes(as_bytes("vpncheck ah")).bytes(token.encode());
  auto d = sha256(w.view());
  std::array<std::uint8_t, 20> key{};
  std::copy_n(d.begin(), key.size(), key.begin());
  return key;
}

std::optional<std::array<std::uint8_t, kAhIcvSize>> ah_icv(ByteView datagram, const ProbeToken& token) {
  if (datagram.size() < ip::kIpv4HeaderSize + kAhSize || datagram[0] != 0x45) return std::nullopt;
  Bytes copy(datagram.begin(), datagram.end());
  // RFC 4302 §3.3.3.1.1.1: mutable IPv4 fields are zeroed for the computation.
  copy[1] = 0;                            // TOS / DSCP+ECN
  copy[6] = copy[7] = 0;                  // flags + fragment offset
  copy[8] = 0;                            // TTL
  copy[10] = copy[11] = 0;                // header checksum
  std::fill_n(copy.begin() + ip::kIpv4HeaderSize + kAhIcvOffset, kAhIcvSize, std::uint8_t{0});
  auto key = ah_key(token);
  return hmac_sha1_96(key, copy);
}

Bytes build_ah_ipv4_datagram(const ip::Ipv4Address& src, const ip::Ipv4Address& dst, std::uint16_t ip_id,
                             std::uint8_t ttl, const ProbeToken& token, const RandomFill& rnd) {
  return build_ah(src, dst, ip_id, ttl, token, request_spi(token, true), rnd);
}

namespace {

// The outer IPv4 header and the AH of a datagram of `size` bytes whose AH
// says `next_header` follows, with the token at `token_offset`; the inner
// datagram is the caller's to check, and so is the ICV.
std::optional<AhPacket> parse_ah_in_ipv4(ByteView datagram, std::size_t size, std::uint8_t next_header,
                                         std::size_t token_offset) {
  if (datagram.size() != size) return std::nullopt;
  auto outer = ip::parse_ipv4(datagram);
  if (!outer || outer->header_length != ip::kIpv4HeaderSize || outer->protocol != ip::kAh ||
      outer->is_fragment())
    return std::nullopt;
  ByteView ah = outer->payload;
  if (ah[1] != kAhPayloadLen || ah[0] != next_header) return std::nullopt;
  AhPacket p;
  p.src = outer->src;
  p.dst = outer->dst;
  p.ttl = outer->ttl;
  p.tos = outer->tos;
  p.ip_id = outer->id;
  p.next_header = ah[0];
  p.spi = read_be32(ah, 4);
  p.sequence = read_be32(ah, 8);
  if (p.spi < kMinSpi || p.sequence == 0) return std::nullopt;
  auto token = ProbeToken::decode(datagram.subspan(token_offset, kProbeTokenSize));
  if (!token) return std::nullopt;
  p.token = *token;
  p.role = role_of(p.spi, p.token, true);
  return p;
}

}  // namespace

std::optional<AhPacket> parse_ah_ipv4_datagram(ByteView datagram) {
  auto p = parse_ah_in_ipv4(datagram, kAhDatagramSize, kAhNextHeaderIpip, kAhTokenOffset);
  if (!p) return std::nullopt;
  ByteView ah = datagram.subspan(ip::kIpv4HeaderSize);
  auto inner = ip::parse_ipv4(ah.subspan(kAhSize));
  if (!inner || inner->header_length != ip::kIpv4HeaderSize) return std::nullopt;
  auto icv = ah_icv(datagram, p->token);
  p->icv_valid = icv && std::equal(icv->begin(), icv->end(), ah.begin() + kAhIcvOffset);
  return p;
}

Bytes build_ah_ipv4_reply(ByteView request, const ip::Ipv4Address& reflector,
                          const ip::Ipv4Address& observed_source, std::uint16_t ip_id, std::uint8_t ttl,
                          const RandomFill& rnd) {
  auto rq = parse_ah_ipv4_datagram(request);
  if (!rq || rq->role != Role::request) return {};
  Bytes reply = build_ah(reflector, observed_source, ip_id, ttl, rq->token, reply_spi(rq->token, true), rnd);
  if (reply.size() > request.size()) return {};
  return reply;
}

bool is_ah_reply_to(ByteView reply, ByteView request) {
  if (ip6::looks_like_ipv6(request)) {
    auto rs = parse_ah_ipv6_datagram(reply);
    auto rq = parse_ah_ipv6_datagram(request);
    return rs && rq && rs->role == Role::reply && rq->role == Role::request && rs->token == rq->token &&
           reply.size() <= request.size();
  }
  auto rs = parse_ah_ipv4_datagram(reply);
  auto rq = parse_ah_ipv4_datagram(request);
  return rs && rq && rs->role == Role::reply && rq->role == Role::request && rs->token == rq->token &&
         reply.size() <= request.size();
}

// ---- AH over IPv6 ----

namespace {

Bytes build_ah6(const ip6::Address& src, const ip6::Address& dst, std::uint8_t hop_limit, const ProbeToken& token,
                std::uint32_t spi, const RandomFill& rnd) {
  ByteWriter inner_payload;
  inner_payload.bytes(token.encode());
  std::array<std::uint8_t, 12> tail{};
  rnd(tail);
  inner_payload.bytes(tail);
  Bytes inner = ip6::datagram(src, dst, kProtoNoNextHeader, 64, 0, inner_payload.view());
  ByteWriter ah;
  ah.u8(kAhNextHeaderIpv6).u8(kAhPayloadLen).be16(0).be32(spi).be32(1).zeros(kAhIcvSize).bytes(inner);
  Bytes d = ip6::datagram(src, dst, ip::kAh, hop_limit, 0, ah.view());
  auto icv = ah_icv_ipv6(d, token);
  if (!icv) return {};
  std::copy(icv->begin(), icv->end(), d.begin() + ip6::kHeaderSize + kAhIcvOffset);
  return d;
}

}  // namespace

std::optional<std::array<std::uint8_t, kAhIcvSize>> ah_icv_ipv6(ByteView datagram, const ProbeToken& token) {
  if (datagram.size() < ip6::kHeaderSize + kAhSize || !ip6::looks_like_ipv6(datagram)) return std::nullopt;
  Bytes copy = ip6::header_for_icv(datagram);  // RFC 4302 §3.3.3.1.2: mutable fields zeroed
  copy.insert(copy.end(), datagram.begin() + ip6::kHeaderSize, datagram.end());
  std::fill_n(copy.begin() + ip6::kHeaderSize + kAhIcvOffset, kAhIcvSize, std::uint8_t{0});
  auto key = ah_key(token);
  return hmac_sha1_96(key, copy);
}

Bytes build_ah_ipv6_datagram(const ip6::Address& src, const ip6::Address& dst, std::uint8_t hop_limit,
                             const ProbeToken& token, const RandomFill& rnd) {
  return build_ah6(src, dst, hop_limit, token, request_spi(token, true), rnd);
}

std::optional<Ah6Packet> parse_ah_ipv6_datagram(ByteView datagram) {
  if (datagram.size() != kAh6DatagramSize) return std::nullopt;
  auto outer = ip6::parse(datagram);
  if (!outer || outer->next_header != ip::kAh) return std::nullopt;
  ByteView ah = outer->payload;
  if (ah[0] != kAhNextHeaderIpv6 || ah[1] != kAhPayloadLen) return std::nullopt;
  Ah6Packet p;
  p.src = outer->src;
  p.dst = outer->dst;
  p.hop_limit = outer->hop_limit;
  p.traffic_class = outer->traffic_class;
  p.spi = read_be32(ah, 4);
  p.sequence = read_be32(ah, 8);
  if (p.spi < kMinSpi || p.sequence == 0) return std::nullopt;
  if (!ip6::parse(ah.subspan(kAhSize))) return std::nullopt;
  auto token = ProbeToken::decode(datagram.subspan(kAh6TokenOffset, kProbeTokenSize));
  if (!token) return std::nullopt;
  p.token = *token;
  p.role = role_of(p.spi, p.token, true);
  auto icv = ah_icv_ipv6(datagram, p.token);
  p.icv_valid = icv && std::equal(icv->begin(), icv->end(), ah.begin() + kAhIcvOffset);
  return p;
}

Bytes build_ah_ipv6_reply(ByteView request, const ip6::Address& reflector, const ip6::Address& observed_source,
                          std::uint8_t hop_limit, const RandomFill& rnd) {
  auto rq = parse_ah_ipv6_datagram(request);
  if (!rq || rq->role != Role::request) return {};
  Bytes reply = build_ah6(reflector, observed_source, hop_limit, rq->token, reply_spi(rq->token, true), rnd);
  if (reply.size() > request.size()) return {};
  return reply;
}

// ---- AH over IPv6 through a NAT64 ----

std::optional<AhPacket> parse_ah_translated_datagram(ByteView datagram) {
  auto p = parse_ah_in_ipv4(datagram, kAh64DatagramSize, kAhNextHeaderIpv6, kAh64TokenOffset);
  if (!p || !ip6::parse(datagram.subspan(ip::kIpv4HeaderSize + kAhSize))) return std::nullopt;
  p->icv_valid = false;
  return p;
}

Bytes build_ah_translated_reply(ByteView request, const ip::Ipv4Address& reflector,
                                const ip::Ipv4Address& observed_source, std::uint16_t ip_id, std::uint8_t ttl,
                                const RandomFill& rnd) {
  auto rq = parse_ah_translated_datagram(request);
  if (!rq || rq->role != Role::request) return {};
  auto inner_request = ip6::parse(request.subspan(ip::kIpv4HeaderSize + kAhSize));
  if (!inner_request) return {};
  ByteWriter inner_payload;
  inner_payload.bytes(rq->token.encode());
  std::array<std::uint8_t, 12> tail{};
  rnd(tail);
  inner_payload.bytes(tail);
  Bytes inner = ip6::datagram(inner_request->dst, inner_request->src, kProtoNoNextHeader, 64, 0, inner_payload.view());
  ByteWriter ah;
  ah.u8(kAhNextHeaderIpv6).u8(kAhPayloadLen).be16(0).be32(reply_spi(rq->token, true)).be32(1).zeros(kAhIcvSize);
  ah.bytes(inner);
  Bytes reply = ip::ipv4_datagram(reflector, observed_source, ip::kAh, ah.view(), ip_id, ttl);
  // Valid as it leaves; the translator on the way back breaks it as it broke the request's.
  if (auto icv = ah_icv(reply, rq->token)) std::copy(icv->begin(), icv->end(), reply.begin() + ip::kIpv4HeaderSize + kAhIcvOffset);
  if (reply.size() > request.size()) return {};
  return reply;
}

}  // namespace vpncheck::probes::esp
