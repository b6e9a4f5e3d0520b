#include "probes/ip.h"

#include <algorithm>

namespace vpncheck::probes::ip {

const RawProtocol* raw_protocol(std::uint16_t number) {
  auto it = std::find_if(kRawProtocols.begin(), kRawProtocols.end(),
                         [&](const RawProtocol& p) { return p.number == number; });
  return it == kRawProtocols.end() ? nullptr : &*it;
}

const RawProtocol* raw_protocol(std::string_view name) {
  auto it = std::find_if(kRawProtocols.begin(), kRawProtocols.end(),
                         [&](const RawProtocol& p) { return p.name == name; });
  return it == kRawProtocols.end() ? nullptr : &*it;
}

std::vector<std::string> raw_protocol_names() {
  std::vector<std::string> names;
  for (const auto& p : kRawProtocols) names.emplace_back(p.name);
  return names;
}

// ---- IPv4 ----

std::optional<std::size_t> ipv4_header_length(ByteView d) {
  if (d.size() < kIpv4HeaderSize || (d[0] >> 4) != 4) return std::nullopt;
  const std::size_t length = std::size_t{d[0] & 0x0fU} * 4;
  if (length < kIpv4HeaderSize || length > d.size()) return std::nullopt;
  return length;
}

std::optional<Ipv4Packet> parse_ipv4(ByteView datagram) {
  auto length = ipv4_header_length(datagram);
  if (!length) return std::nullopt;
  ByteReader r(datagram);
  r.skip(1);
  Ipv4Packet p;
  p.header_length = static_cast<std::uint8_t>(*length);
  p.tos = *r.u8();
  p.total_length = *r.be16();
  p.id = *r.be16();
  p.flags_fragment = *r.be16();
  p.ttl = *r.u8();
  p.protocol = *r.u8();
  p.checksum = *r.be16();
  auto src = r.take(4);
  auto dst = r.take(4);
  if (!r.ok() || p.total_length != datagram.size()) return std::nullopt;
  std::copy(src->begin(), src->end(), p.src.begin());
  std::copy(dst->begin(), dst->end(), p.dst.begin());
  p.checksum_valid = ipv4_checksum(datagram.first(*length)) == 0;
  p.options = datagram.subspan(kIpv4HeaderSize, *length - kIpv4HeaderSize);
  p.payload = datagram.subspan(*length);
  return p;
}

Bytes ipv4_datagram(const Ipv4Address& src, const Ipv4Address& dst, std::uint8_t protocol, ByteView payload,
                    std::uint16_t id, std::uint8_t ttl) {
  if (payload.size() > 0xffff - kIpv4HeaderSize) return {};
  ByteWriter w;
  w.u8(0x45).u8(0).be16(static_cast<std::uint16_t>(kIpv4HeaderSize + payload.size()));
  w.be16(id).be16(0).u8(ttl).u8(protocol).be16(0).bytes(src).bytes(dst);
  Bytes d = w.take();
  const std::uint16_t sum = ipv4_checksum(d);
  d[10] = static_cast<std::uint8_t>(sum >> 8);
  d[11] = static_cast<std::uint8_t>(sum);
  d.insert(d.end(), payload.begin(), payload.end());
  return d;
}

std::uint16_t ipv4_checksum(ByteView header) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < header.size(); i += 2)
    sum += (std::uint32_t{header[i]} << 8) | header[i + 1];
  if (header.size() % 2 != 0) sum += std::uint32_t{header.back()} << 8;
  while ((sum >> 16) != 0) sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffffU);
}

std::optional<Ipv4Address> ipv4_address_from(ByteView bytes) {
  if (bytes.size() != 4) return std::nullopt;
  Ipv4Address a{};
  std::copy(bytes.begin(), bytes.end(), a.begin());
  return a;
}

// ---- Either family ----

Bytes datagram(ByteView source, ByteView destination, std::uint8_t protocol, ByteView payload) {
  auto src6 = ip6::address_from(source);
  auto dst6 = ip6::address_from(destination);
  if (src6 && dst6) return ip6::datagram(*src6, *dst6, protocol, 64, 0, payload);
  auto src4 = ipv4_address_from(source);
  auto dst4 = ipv4_address_from(destination);
  if (src4 && dst4) return ipv4_datagram(*src4, *dst4, protocol, payload);
  return {};
}

void set_dont_fragment(Bytes& datagram) {
  if (ipv4_header_length(datagram) != kIpv4HeaderSize) return;
  datagram[6] |= 0x40;
  datagram[10] = 0;
  datagram[11] = 0;
  const std::uint16_t sum = ipv4_checksum(ByteView(datagram).first(kIpv4HeaderSize));
  datagram[10] = static_cast<std::uint8_t>(sum >> 8);
  datagram[11] = static_cast<std::uint8_t>(sum);
}

std::optional<ByteView> payload(ByteView datagram, std::uint8_t protocol) {
  if (ip6::looks_like_ipv6(datagram)) {
    auto p = ip6::parse(datagram);
    if (!p || p->next_header != protocol) return std::nullopt;
    return p->payload;
  }
  auto p = parse_ipv4(datagram);
  if (!p || p->protocol != protocol || p->is_fragment()) return std::nullopt;
  return p->payload;
}

ByteView digest_scope(ByteView datagram) {
  if (ip6::looks_like_ipv6(datagram)) return datagram.subspan(ip6::kHeaderSize);
  if (auto length = ipv4_header_length(datagram)) return datagram.subspan(*length);
  return datagram;
}

}  // namespace vpncheck::probes::ip

namespace vpncheck::probes::ip6 {

Bytes datagram(const Address& src, const Address& dst, std::uint8_t next_header, std::uint8_t hop_limit,
               std::uint8_t traffic_class, ByteView payload) {
  if (payload.size() > kMaxPayload) return {};
  ByteWriter w;
  // version 6 | traffic class (8 bits) | flow label (20 bits) = 0
  w.be32(std::uint32_t{6} << 28 | std::uint32_t{traffic_class} << 20);
  w.be16(static_cast<std::uint16_t>(payload.size())).u8(next_header).u8(hop_limit);
  w.bytes(src).bytes(dst).bytes(payload);
  return w.take();
}

std::optional<Packet> parse(ByteView d) {
  if (!looks_like_ipv6(d)) return std::nullopt;
  ByteReader r(d);
  std::uint32_t first = *r.be32();
  std::uint16_t length = *r.be16();
  if (length != d.size() - kHeaderSize) return std::nullopt;
  Packet p;
  p.traffic_class = static_cast<std::uint8_t>(first >> 20);
  p.flow_label = first & 0xfffffU;
  p.next_header = *r.u8();
  p.hop_limit = *r.u8();
  auto src = r.take(16);
  auto dst = r.take(16);
  if (!r.ok()) return std::nullopt;
  std::copy(src->begin(), src->end(), p.src.begin());
  std::copy(dst->begin(), dst->end(), p.dst.begin());
  p.payload = d.subspan(kHeaderSize);
  return p;
}

Bytes header_for_icv(ByteView d) {
  if (d.size() < kHeaderSize) return {};
  Bytes h(d.begin(), d.begin() + kHeaderSize);
  h[0] = 0x60;                  // version kept; traffic class (high nibble)...
  h[1] = h[2] = h[3] = 0;       // ...traffic class (low nibble) and flow label
  h[7] = 0;                     // hop limit
  return h;
}

std::optional<Address> address_from(ByteView bytes) {
  if (bytes.size() != 16) return std::nullopt;
  Address a{};
  std::copy(bytes.begin(), bytes.end(), a.begin());
  return a;
}

}  // namespace vpncheck::probes::ip6
