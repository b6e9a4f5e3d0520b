#include "probes/ipv6.h"

#include <algorithm>

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
