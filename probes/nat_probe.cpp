#include "probes/nat_probe.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace vpncheck::probes::natprobe {
namespace {

constexpr std::size_t kHeaderSize = 22;  // magic .. gap_s

bool has_magic(ByteView d) { return d.size() >= 5 && std::equal(d.begin(), d.begin() + 4, kMagic) && d[4] == kVersion; }

bool known_type(std::uint8_t t) { return t >= static_cast<std::uint8_t>(Type::bind) && t <= static_cast<std::uint8_t>(Type::size); }

std::size_t max_request_size(Type type) { return type == Type::size ? kMaxSizeRequest : kMaxRequestSize; }

bool all_zero(ByteView d) {
  return std::all_of(d.begin(), d.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace

Bytes build_request(const Request& request, std::size_t size) {
  size = std::clamp(size, kMinRequestSize, max_request_size(request.type));
  probes::ByteWriter w;
  w.bytes(ByteView(kMagic, 4)).u8(kVersion).u8(static_cast<std::uint8_t>(request.type)).u8(request.flags).u8(0);
  auto token = request.token.encode();
  w.bytes(token).be32(request.nonce).be16(request.gap_s);
  w.zeros(size - kHeaderSize);
  return w.take();
}

std::optional<Request> parse_request(ByteView d) {
  if (d.size() < kMinRequestSize || d.size() > kMaxSizeRequest || !has_magic(d)) return std::nullopt;
  probes::ByteReader r(d);
  r.skip(5);
  Request q;
  auto type = r.u8();
  auto flags = r.u8();
  auto reserved = r.u8();
  auto token_bytes = r.take(probes::kProbeTokenSize);
  auto nonce = r.be32();
  auto gap = r.be16();
  if (!r.ok() || !known_type(*type) || *reserved != 0) return std::nullopt;
  q.type = static_cast<Type>(*type);
  q.flags = *flags;
  q.token = *probes::ProbeToken::decode(*token_bytes);
  q.nonce = *nonce;
  q.gap_s = *gap;
  if (d.size() > max_request_size(q.type)) return std::nullopt;
  if ((q.flags & ~(q.type == Type::size ? kKnownSizeFlags : kKnownFlags)) != 0) return std::nullopt;
  if (q.type == Type::lifetime && (q.flags != 0 || q.gap_s == 0 || q.gap_s > kMaxGapS)) return std::nullopt;
  if (q.type != Type::lifetime && q.gap_s != 0) return std::nullopt;
  if (!all_zero(d.subspan(kHeaderSize))) return std::nullopt;
  return q;
}

Bytes build_reply(const Reply& reply) {
  std::array<std::uint8_t, 16> address{};
  std::uint8_t family = 0;
  if (inet_pton(AF_INET, reply.observed.address.c_str(), address.data()) == 1) {
    family = 4;
  } else if (inet_pton(AF_INET6, reply.observed.address.c_str(), address.data()) == 1) {
    family = 6;
  } else {
    return {};
  }
  probes::ByteWriter w;
  w.bytes(ByteView(kMagic, 4))
      .u8(kVersion)
      .u8(static_cast<std::uint8_t>(static_cast<std::uint8_t>(reply.type) | kReplyBit))
      .u8(static_cast<std::uint8_t>(reply.origin))
      .u8(family);
  auto token = reply.token.encode();
  w.bytes(token).be32(reply.nonce).be16(reply.observed.port).be16(0).bytes(address);
  if (reply.origin == Origin::echo) {
    const std::size_t size = std::clamp<std::size_t>(reply.echo_size, kEchoHeaderSize, kMaxSizeRequest);
    w.be16(reply.received_size).be16(reply.largest_fragment).zeros(size - kEchoHeaderSize);
  }
  return w.take();
}

std::optional<Reply> parse_reply(ByteView d) {
  if (d.size() < kReplySize || d.size() > kMaxSizeRequest || !has_magic(d)) return std::nullopt;
  probes::ByteReader r(d);
  r.skip(5);
  auto type = r.u8();
  auto origin = r.u8();
  // Only an echo (which only a size request gets) is longer than kReplySize.
  const bool echo = origin && *origin == static_cast<std::uint8_t>(Origin::echo);
  if (echo ? d.size() < kEchoHeaderSize : d.size() != kReplySize) return std::nullopt;
  if (echo && (!type || (*type & 0x7f) != static_cast<std::uint8_t>(Type::size))) return std::nullopt;
  auto family = r.u8();
  auto token_bytes = r.take(probes::kProbeTokenSize);
  auto nonce = r.be32();
  auto port = r.be16();
  auto reserved = r.be16();
  auto address = r.take(16);
  if (!r.ok() || (*type & kReplyBit) == 0 || !known_type(static_cast<std::uint8_t>(*type & 0x7f)) ||
      *origin > static_cast<std::uint8_t>(Origin::echo) || *reserved != 0)
    return std::nullopt;
  char text[INET6_ADDRSTRLEN] = {};
  if (*family == 4) {
    if (std::any_of(address->begin() + 4, address->end(), [](std::uint8_t b) { return b != 0; })) return std::nullopt;
    inet_ntop(AF_INET, address->data(), text, sizeof text);
  } else if (*family == 6) {
    inet_ntop(AF_INET6, address->data(), text, sizeof text);
  } else {
    return std::nullopt;
  }
  Reply reply;
  reply.type = static_cast<Type>(*type & 0x7f);
  reply.origin = static_cast<Origin>(*origin);
  reply.token = *probes::ProbeToken::decode(*token_bytes);
  reply.nonce = *nonce;
  reply.observed = {text, *port};
  if (echo) {
    auto received = r.be16();
    auto fragment = r.be16();
    if (!r.ok() || !all_zero(d.subspan(kEchoHeaderSize))) return std::nullopt;
    reply.echo_size = static_cast<std::uint16_t>(d.size());
    reply.received_size = *received;
    reply.largest_fragment = *fragment;
  }
  return reply;
}

bool answers(const Reply& reply, const Request& request) {
  return reply.type == request.type && reply.token == request.token && reply.nonce == request.nonce;
}

std::vector<PlannedReply> plan_replies(const Request& request, std::size_t request_size, bool have_other_port,
                                       bool have_other_address, bool validated_source) {
  if (request.type == Type::size) {
    // The echo takes what the request brought, less the ack if one was asked for.
    std::vector<PlannedReply> planned;
    std::size_t left = std::min(request_size, kMaxSizeRequest);
    if ((request.flags & kFlagAck) != 0 && validated_source && left >= kReplySize + kEchoHeaderSize) {
      planned.push_back({Origin::primary, 0, kReplySize});
      left -= kReplySize;
    }
    if (left >= kEchoHeaderSize) planned.push_back({Origin::echo, 0, left});
    return planned;
  }
  std::vector<PlannedReply> wanted{{Origin::primary, 0}};
  if (request.type == Type::lifetime) {
    wanted.push_back({Origin::after_gap, request.gap_s});
  } else {
    if ((request.flags & kFlagOtherPort) != 0 && have_other_port) wanted.push_back({Origin::other_port, 0});
    if ((request.flags & kFlagOtherAddress) != 0 && have_other_address) wanted.push_back({Origin::other_address, 0});
  }
  const std::size_t fit = std::min<std::size_t>(request_size / kReplySize, validated_source ? wanted.size() : 1);
  if (wanted.size() > fit) wanted.resize(fit);
  return wanted;
}

}  // namespace vpncheck::probes::natprobe
