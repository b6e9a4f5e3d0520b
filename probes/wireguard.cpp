#include "probes/wireguard.h"

#include <algorithm>
#include <array>
#include <string>

#include "probes/crypto.h"

namespace vpncheck::probes::wireguard {
namespace {

// WireGuard: UDP only, no fixed port; 51820 is the conventional one. 443 and 53
// are what people try when a network only lets web and DNS out.
constexpr std::array kVariants{
    ProbeVariant{Transport::udp, 51820, true},
    ProbeVariant{Transport::udp, 443, false},
    ProbeVariant{Transport::udp, 53, false},
};

bool has_type(ByteView msg, std::uint8_t type) {
  // The type is a little-endian u32: one byte then three zero bytes.
  return msg.size() >= 4 && msg[0] == type && msg[1] == 0 && msg[2] == 0 && msg[3] == 0;
}

}  // namespace

std::array<std::uint8_t, 16> compute_mac1(const std::array<std::uint8_t, 32>& responder_public_key,
                                          ByteView message_before_mac1) {
  static constexpr std::string_view kLabelMac1 = "mac1----";
  // The MAC key is HASH(LABEL_MAC1 || Spub_m) (the WireGuard paper, §5.4.4):
  // fixed for a responder, so a reflector checking every initiation against
  // its one key derives it once per thread rather than once per message.
  struct KeyFor {
    std::array<std::uint8_t, 32> public_key{};
    std::array<std::uint8_t, 32> key{};
    bool set = false;
  };
  thread_local KeyFor last;
  if (!last.set || last.public_key != responder_public_key) {
    ByteWriter key_input;
    key_input.bytes(as_bytes(kLabelMac1)).bytes(responder_public_key);
    last.key = blake2s256(key_input.view());
    last.public_key = responder_public_key;
    last.set = true;
  }
  return blake2s_mac128(last.key, message_before_mac1);
}

Bytes build_initiation(const ProbeToken& token, const ServerHints& hints, const RandomFill& rnd) {
  Bytes msg(kInitiationSize);
  rnd(msg);
  msg[0] = kTypeInitiation;
  msg[1] = msg[2] = msg[3] = 0;
  auto encoded = token.encode();
  std::copy(encoded.begin(), encoded.end(), msg.begin() + kEphemeralOffset);
  if (hints.wireguard_public_key) {
    auto mac1 = compute_mac1(*hints.wireguard_public_key, ByteView(msg).first(kMac1Offset));
    std::copy(mac1.begin(), mac1.end(), msg.begin() + kMac1Offset);
  }
  // mac2 is all zero unless the initiator holds a cookie: it never does on a first try.
  std::fill(msg.begin() + kMac2Offset, msg.end(), std::uint8_t{0});
  return msg;
}

std::optional<ParsedRequest> parse_initiation(ByteView payload, const ServerHints& hints) {
  if (payload.size() != kInitiationSize || !has_type(payload, kTypeInitiation)) return std::nullopt;
  auto token = ProbeToken::decode(payload.subspan(kEphemeralOffset));
  if (!token) return std::nullopt;
  ParsedRequest parsed{*token, {}};
  ByteReader sender(payload.subspan(kSenderOffset, 4));
  std::string_view mac1 = "unchecked";
  if (hints.wireguard_public_key) {
    auto expected = compute_mac1(*hints.wireguard_public_key, payload.first(kMac1Offset));
    bool valid = std::equal(expected.begin(), expected.end(), payload.begin() + kMac1Offset);
    mac1 = valid ? "valid" : "invalid";
  }
  bool mac2_zero = std::all_of(payload.begin() + kMac2Offset, payload.end(),
                               [](std::uint8_t b) { return b == 0; });
  // Inserted in key order at the end: the reflector parses every initiation
  // it is sent, and this spares the map its searches.
  auto& fields = parsed.fields;
  fields.emplace_hint(fields.end(), "mac1", mac1);
  fields.emplace_hint(fields.end(), "mac2", mac2_zero ? "zero" : "set");
  fields.emplace_hint(fields.end(), "sender_index", std::to_string(*sender.le32()));
  return parsed;
}

Bytes build_response(ByteView initiation, const ParsedRequest& /*parsed*/, const RandomFill& rnd) {
  if (initiation.size() < kResponseSize) return {};
  Bytes msg(kResponseSize);
  rnd(msg);
  msg[0] = kTypeResponse;
  msg[1] = msg[2] = msg[3] = 0;
  // receiver index = the initiator's sender index: what a peer (and a DPI box) matches on.
  std::copy_n(initiation.begin() + kSenderOffset, 4, msg.begin() + 8);
  std::fill(msg.end() - 16, msg.end(), std::uint8_t{0});  // mac2
  return msg;
}

bool is_response_to(ByteView reply, ByteView initiation) {
  return reply.size() == kResponseSize && initiation.size() == kInitiationSize &&
         has_type(reply, kTypeResponse) &&
         std::equal(reply.begin() + 8, reply.begin() + 12, initiation.begin() + kSenderOffset);
}

Bytes build_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, const RandomFill& rnd) {
  if (size < kDataMinSize || size > kMaxUdpPayload) return {};
  Bytes msg(size);
  rnd(msg);
  msg[0] = kTypeData;
  msg[1] = msg[2] = msg[3] = 0;
  for (std::size_t i = 0; i < 8; ++i) msg[8 + i] = static_cast<std::uint8_t>((std::uint64_t{sequence} >> (8 * i)) & 0xff);
  auto encoded = token.encode();
  std::copy(encoded.begin(), encoded.end(), msg.begin() + kDataHeaderSize);
  return msg;
}

std::optional<DataPacket> parse_data(ByteView payload) {
  if (payload.size() < kDataMinSize || payload.size() > kMaxUdpPayload || !has_type(payload, kTypeData))
    return std::nullopt;
  std::uint64_t counter = 0;
  for (std::size_t i = 0; i < 8; ++i) counter |= std::uint64_t{payload[8 + i]} << (8 * i);
  if (counter > 0xffffffffu) return std::nullopt;
  auto token = ProbeToken::decode(payload.subspan(kDataHeaderSize));
  if (!token) return std::nullopt;
  return DataPacket{*token, static_cast<std::uint32_t>(counter)};
}

std::string advice_mtu(int path_mtu) {
  return "WireGuard: MTU = " + std::to_string(path_mtu - kOverheadV4) + " (in [Interface]: the path MTU " +
         std::to_string(path_mtu) + " less " + std::to_string(kOverheadV4) +
         " bytes of IPv4, UDP and WireGuard headers)";
}

std::string advice_use_variant(const ProbeVariant& variant) {
  auto port = std::to_string(variant.port);
  return "Run the WireGuard server on UDP " + port + " (ListenPort = " + port +
         ") and set the client's Endpoint to that port.";
}

namespace {

// The module's entry points: this protocol needs only the token and hints.
Bytes module_build(const ProbeContext& context, const RandomFill& rnd) {
  return build_initiation(context.token, context.hints, rnd);
}
std::optional<ParsedRequest> module_parse(ByteView payload, const ArrivalContext& arrival) {
  return parse_initiation(payload, arrival.hints);
}
Bytes module_reply(ByteView request, const ParsedRequest& parsed, const ArrivalContext& /*arrival*/,
                   const RandomFill& rnd) {
  return build_response(request, parsed, rnd);
}

std::vector<std::string> module_advice_mtu(int path_mtu) { return {advice_mtu(path_mtu)}; }

// wireguard-go never sets IP_MTU_DISCOVER (conn/controlfns_linux.go sets only
// IP_PKTINFO, IPV6_RECVPKTINFO and IPV6_V6ONLY), so its socket keeps the
// system default: DF on every packet that fits. (The Linux kernel module
// leaves DF clear, drivers/net/wireguard/socket.c send4; its users rely on
// routers fragmenting, which the path test's fragments check covers.)
constexpr DataPhase kDataPhase{
    .piece = "",
    .small_payload = kDataSmallSize,
    .full_payload_v4 = kDataFullSize,
    .full_payload_v6 = kDataFullSize,
    .df = DontFragment::system_default,
    .build = unkeyed_data<build_data>,
    .parse = parse_data,
    .advice_mtu = module_advice_mtu,
    .full_size_words = "WireGuard's full-size data packets (its default MTU 1420: 1480 bytes on the wire)",
};

}  // namespace

const ProtocolModule kModule{
    .id = "wireguard",
    .title = "WireGuard",
    .description = "handshake initiation (148 B) on UDP; reflector answers a 92 B handshake response",
    .variants = kVariants,
    .build_request = module_build,
    .parse_request = module_parse,
    .build_reply = module_reply,
    .is_reply_to = is_response_to,
    .advice_use_variant = advice_use_variant,
    .advice_signature_blocked =
        "WireGuard's handshake has a fixed size and cleartext header that DPI matches on any port; "
        "wrap it in an obfuscating transport (e.g. udp2raw, wstunnel) or use a protocol that passes here.",
    .data_phase = &kDataPhase,
};

}  // namespace vpncheck::probes::wireguard
