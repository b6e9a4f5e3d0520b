#include "probes/gre.h"

#include <algorithm>
#include <limits>

namespace vpncheck::probes::gre {
namespace {

constexpr std::uint16_t kMustBeZero =
    kFlagChecksum | kFlagRouting | kFlagStrictRoute | kRecursionMask | kReservedMask;
constexpr std::uint8_t kPppAddress = 0xFF;
constexpr std::uint8_t kPppControl = 0x03;
constexpr std::size_t kLcpHeaderSize = 4;     // code, identifier, length
constexpr std::uint8_t kLcpMaxKnownCode = 13;  // RFC 1661 codes 1-11, RFC 1570 12-13

std::uint32_t nonzero(std::uint32_t v) { return v == 0 ? 1 : v; }

void endpoint_discriminator(ByteWriter& w, const ProbeToken& token) {
  auto encoded = token.encode();
  w.u8(kLcpOptionEndpointDiscriminator)
      .u8(static_cast<std::uint8_t>(3 + encoded.size()))
      .u8(kEndpointClassLocal)
      .bytes(encoded);
}

// FF 03 C0 21 code id length, then `options`.
Bytes lcp_frame(std::uint8_t code, std::uint8_t identifier, ByteView options) {
  ByteWriter w;
  w.u8(kPppAddress)
      .u8(kPppControl)
      .be16(kPppLcp)
      .u8(code)
      .u8(identifier)
      .be16(static_cast<std::uint16_t>(kLcpHeaderSize + options.size()))
      .bytes(options);
  return w.take();
}

bool parse_options(ByteView data, LcpPacket& lcp) {
  ByteReader r(data);
  while (r.remaining() > 0) {
    auto type = r.u8();
    auto length = r.u8();
    if (!type || !length || *length < 2) return false;
    auto value = r.take(*length - 2U);
    if (!value) return false;
    lcp.options.push_back({*type, *value});
    if (*type == kLcpOptionMru && value->size() == 2) {
      lcp.mru = static_cast<std::uint16_t>(((*value)[0] << 8) | (*value)[1]);
    } else if (*type == kLcpOptionMagicNumber && value->size() == 4) {
      lcp.magic_number = *ByteReader(*value).be32();
    } else if (*type == kLcpOptionEndpointDiscriminator && value->size() == 1 + kProbeTokenSize &&
               (*value)[0] == kEndpointClassLocal) {
      lcp.token = ProbeToken::decode(value->subspan(1));
    }
  }
  return true;
}

}  // namespace

Bytes build(const Header& header, ByteView payload) {
  if (payload.size() > std::numeric_limits<std::uint16_t>::max()) return {};
  std::uint16_t flags = kFlagKey | kVersionEnhanced;
  if (header.sequence) flags |= kFlagSequence;
  if (header.ack) flags |= kFlagAck;
  ByteWriter w;
  w.be16(flags).be16(kProtocolPpp).be16(static_cast<std::uint16_t>(payload.size())).be16(header.call_id);
  if (header.sequence) w.be32(*header.sequence);
  if (header.ack) w.be32(*header.ack);
  w.bytes(payload);
  return w.take();
}

std::optional<Packet> parse(ByteView datagram) {
  ByteReader r(datagram);
  auto flags = r.be16();
  auto protocol = r.be16();
  auto payload_length = r.be16();
  auto call_id = r.be16();
  if (!call_id) return std::nullopt;
  if ((*flags & kMustBeZero) != 0 || (*flags & kFlagKey) == 0 ||
      (*flags & kVersionMask) != kVersionEnhanced || *protocol != kProtocolPpp)
    return std::nullopt;
  Packet packet;
  packet.header.call_id = *call_id;
  packet.payload_length = *payload_length;
  if ((*flags & kFlagSequence) != 0) {
    packet.header.sequence = r.be32();
    if (!packet.header.sequence) return std::nullopt;
  }
  if ((*flags & kFlagAck) != 0) {
    packet.header.ack = r.be32();
    if (!packet.header.ack) return std::nullopt;
  }
  packet.header_size = r.position();
  auto payload = r.take(*payload_length);
  if (!payload) return std::nullopt;
  packet.payload = *payload;
  packet.trailing = r.remaining();
  return packet;
}

std::uint32_t magic_number_for(const ProbeToken& token) {
  auto encoded = token.encode();
  ByteReader r(encoded);
  return nonzero(*r.be32() ^ *r.be32());
}

Bytes build_lcp_configure_request(const ProbeToken& token, std::uint8_t identifier, std::uint16_t mru) {
  // pppd's usual first request over PPTP: mru, asyncmap 0, magic, pcomp, accomp
  // (+ the endpoint discriminator Windows sends).
  ByteWriter options;
  options.u8(kLcpOptionMru).u8(4).be16(mru);
  options.u8(kLcpOptionAccm).u8(6).be32(0);
  options.u8(kLcpOptionMagicNumber).u8(6).be32(magic_number_for(token));
  options.u8(kLcpOptionPfc).u8(2);
  options.u8(kLcpOptionAcfc).u8(2);
  endpoint_discriminator(options, token);
  return lcp_frame(kLcpConfigureRequest, identifier, options.view());
}

std::optional<LcpPacket> parse_lcp(ByteView ppp_frame) {
  LcpPacket lcp;
  ByteView rest = ppp_frame;
  if (rest.size() >= 2 && rest[0] == kPppAddress && rest[1] == kPppControl) {
    lcp.address_control = true;
    rest = rest.subspan(2);
  }
  ByteReader r(rest);
  auto protocol = r.be16();
  auto code = r.u8();
  auto identifier = r.u8();
  auto length = r.be16();
  if (!length || *protocol != kPppLcp || *code == 0 || *code > kLcpMaxKnownCode ||
      *length < kLcpHeaderSize)
    return std::nullopt;
  auto data = r.take(*length - kLcpHeaderSize);
  if (!data) return std::nullopt;
  lcp.code = *code;
  lcp.identifier = *identifier;
  if (*code <= 4 && !parse_options(*data, lcp)) return std::nullopt;
  return lcp;
}

Bytes build_probe(const ProbeToken& token, std::uint16_t peer_call_id, std::uint32_t sequence) {
  return build(Header{peer_call_id, sequence, std::nullopt}, build_lcp_configure_request(token));
}

std::optional<ParsedProbe> parse_probe(ByteView datagram) {
  auto packet = parse(datagram);
  if (!packet || !packet->header.sequence || packet->header.ack) return std::nullopt;
  auto lcp = parse_lcp(packet->payload);
  if (!lcp || lcp->code != kLcpConfigureRequest || !lcp->token) return std::nullopt;
  ProbeToken token = *lcp->token;
  return ParsedProbe{*packet, std::move(*lcp), token};
}

std::map<std::string, std::string> describe(const ParsedProbe& probe) {
  std::map<std::string, std::string> f;
  f["call_id"] = std::to_string(probe.gre.header.call_id);
  if (probe.gre.header.sequence) f["sequence"] = std::to_string(*probe.gre.header.sequence);
  f["payload_length"] = std::to_string(probe.gre.payload_length);
  f["lcp_code"] = std::to_string(probe.lcp.code);
  f["lcp_identifier"] = std::to_string(probe.lcp.identifier);
  if (probe.lcp.mru) f["mru"] = std::to_string(*probe.lcp.mru);
  if (probe.lcp.magic_number) {
    ByteWriter magic;
    magic.be32(*probe.lcp.magic_number);
    f["magic_number"] = to_hex(magic.view());
  }
  return f;
}

Bytes build_reply(ByteView request, std::uint16_t client_call_id, std::uint32_t sequence) {
  auto probe = parse_probe(request);
  if (!probe) return {};
  std::uint32_t client_magic = probe->lcp.magic_number.value_or(0);
  ByteWriter options;
  options.u8(kLcpOptionMru).u8(4).be16(kDefaultMru);
  options.u8(kLcpOptionMagicNumber).u8(6).be32(nonzero(~client_magic));
  endpoint_discriminator(options, probe->token);
  Bytes reply = build(Header{client_call_id, sequence, probe->gre.header.sequence},
                      lcp_frame(kLcpConfigureRequest, 1, options.view()));
  if (reply.size() > request.size()) return {};
  return reply;
}

bool is_reply_to(ByteView reply, ByteView request, std::uint16_t own_call_id) {
  auto sent = parse_probe(request);
  auto got = parse(reply);
  if (!sent || !got || got->header.call_id != own_call_id || got->header.ack != sent->gre.header.sequence)
    return false;
  auto lcp = parse_lcp(got->payload);
  return lcp && (lcp->code == kLcpConfigureRequest || lcp->code == kLcpConfigureAck) &&
         lcp->token == sent->token;
}

Bytes build_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, std::uint32_t call_id,
                 const RandomFill& rnd) {
  if (size < kDataMinSize || size - kDataHeaderSize > std::numeric_limits<std::uint16_t>::max() ||
      sequence == std::numeric_limits<std::uint32_t>::max())
    return {};
  Bytes encrypted(size - kDataHeaderSize - kDataPppHeaderSize);
  rnd(encrypted);
  const auto encoded = token.encode();
  std::copy(encoded.begin(), encoded.end(), encrypted.begin());
  const auto coherency = static_cast<std::uint16_t>(sequence & 0x0FFF);
  ByteWriter ppp;
  ppp.u8(kPppAddress)
      .u8(kPppControl)
      .be16(kPppCompressedDatagram)
      .u8(static_cast<std::uint8_t>(kMppeFlushedEncrypted | (coherency >> 8)))
      .u8(static_cast<std::uint8_t>(coherency))
      .bytes(encrypted);
  return build(Header{static_cast<std::uint16_t>(call_id), sequence + 1, std::nullopt}, ppp.take());
}

std::optional<DataPacket> parse_data(ByteView packet) {
  auto gre = parse(packet);
  if (!gre || gre->header_size != kDataHeaderSize || !gre->header.sequence || gre->header.ack ||
      *gre->header.sequence == 0 || gre->trailing != 0)
    return std::nullopt;
  ByteReader r(gre->payload);
  auto address = r.u8();
  auto control = r.u8();
  auto protocol = r.be16();
  auto mppe = r.be16();
  if (!mppe || *address != kPppAddress || *control != kPppControl || *protocol != kPppCompressedDatagram)
    return std::nullopt;
  const std::uint32_t sequence = *gre->header.sequence - 1;
  if ((*mppe >> 12) != (kMppeFlushedEncrypted >> 4) || (*mppe & 0x0FFF) != (sequence & 0x0FFF)) return std::nullopt;
  auto encoded = r.take(kProbeTokenSize);
  if (!encoded) return std::nullopt;
  auto token = ProbeToken::decode(*encoded);
  if (!token) return std::nullopt;
  return DataPacket{*token, sequence, gre->header.call_id};
}

}  // namespace vpncheck::probes::gre
