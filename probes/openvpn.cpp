#include "probes/openvpn.h"

#include <algorithm>
#include <array>
#include <string>

namespace vpncheck::probes::openvpn {
namespace {

constexpr std::array kVariants{
    ProbeVariant{Transport::udp, 1194, true},
    ProbeVariant{Transport::tcp, 1194, false, {}, 0, &kTcpFraming},
    ProbeVariant{Transport::tcp, 443, false, {}, 0, &kTcpFraming},
};

constexpr std::size_t kPlainResetSize = 14;  // the smallest client reset

Bytes frame(ByteView packet) { return frame_be16(packet, false); }
MessageLength message_length(ByteView head) { return be16_message_length(head, false); }

Sniff sniff(ByteView head) {
  if (head.size() < 2) return Sniff::need_more;
  const std::size_t length = std::size_t{head[0]} << 8 | head[1];
  if (length < kPlainResetSize || length > kMaxControlPacket) return Sniff::not_mine;
  if (head.size() < 3) return Sniff::need_more;
  return head[2] == opcode_byte(kOpHardResetClientV2) || head[2] == opcode_byte(kOpHardResetClientV3)
             ? Sniff::mine
             : Sniff::not_mine;
}

}  // namespace

const StreamFraming kTcpFraming{
    .name = "openvpn-tcp",
    .preamble = {},
    .header_size = 2,
    .frame = frame,
    .message_length = message_length,
    .sniff = sniff,
};

Bytes build_client_reset(const ProbeToken& token, const ServerHints& /*hints*/, const RandomFill& rnd) {
  std::array<std::uint8_t, kTlsAuthSha1HmacSize> hmac{};
  rnd(hmac);  // the HMAC key is the user's secret; any value looks the same on the wire
  ByteWriter w;
  w.u8(opcode_byte(kOpHardResetClientV2))
      .bytes(token.encode())
      .bytes(hmac)
      .be32(1)           // tls-auth replay packet-id starts at 1
      .be32(0x65000000)  // net time: a fixed plausible Unix time keeps probes reproducible
      .u8(0)             // no ACKs in the first packet
      .be32(0);          // message packet-id 0
  return w.take();
}

std::optional<ParsedRequest> parse_client_reset(ByteView payload, const ServerHints& /*hints*/) {
  // Accept the plain 14-byte form and wrapped forms up to the control packet limit.
  if (payload.size() < kPlainResetSize || payload.size() > kMaxControlPacket) return std::nullopt;
  if (payload[0] != opcode_byte(kOpHardResetClientV2)) return std::nullopt;
  auto token = ProbeToken::decode(payload.subspan(1));
  if (!token) return std::nullopt;
  ParsedRequest parsed{*token, {}};
  parsed.fields["opcode"] = "P_CONTROL_HARD_RESET_CLIENT_V2";
  parsed.fields["key_id"] = "0";
  parsed.fields["session_id"] = to_hex(payload.subspan(1, kSessionIdSize));
  // Sizes of a first reset per wrapper (PROTOCOLS.md §6.2); 54 is tls-auth with
  // SHA-256 or tls-crypt, which look alike from outside.
  constexpr std::size_t kTlsAuthSha256OrTlsCryptResetSize = 54;
  parsed.fields["wrapping"] = payload.size() == kPlainResetSize                     ? "none"
                              : payload.size() == kClientResetSize                  ? "tls-auth-sha1"
                              : payload.size() == kTlsAuthSha256OrTlsCryptResetSize ? "tls-auth-sha256-or-tls-crypt"
                                                                                    : "unknown";
  return parsed;
}

Bytes build_server_reset(ByteView request, const ParsedRequest& /*parsed*/, const RandomFill& rnd) {
  if (request.size() < kServerResetSize) return {};  // answering would amplify
  std::array<std::uint8_t, kSessionIdSize> server_session{};
  rnd(server_session);
  ByteWriter w;
  w.u8(opcode_byte(kOpHardResetServerV2))
      .bytes(server_session)
      .u8(1)   // one ACK
      .be32(0)  // ... of the client's packet-id 0
      .bytes(request.subspan(1, kSessionIdSize))
      .be32(0);
  return w.take();
}

bool is_server_reset_for(ByteView reply, ByteView request) {
  ByteReader r(reply);
  auto op = r.u8();
  if (!op || *op != opcode_byte(kOpHardResetServerV2) || !r.skip(kSessionIdSize)) return false;
  auto acks = r.u8();
  if (!acks || *acks == 0 || !r.skip(std::size_t{*acks} * 4)) return false;
  auto remote = r.take(kSessionIdSize);
  auto message_packet_id = r.be32();
  return remote && message_packet_id && request.size() >= 1 + kSessionIdSize &&
         std::equal(remote->begin(), remote->end(), request.begin() + 1);
}

std::string advice_use_variant(const ProbeVariant& variant) {
  auto port = std::to_string(variant.port);
  if (variant.transport == Transport::tcp)
    return "Use OpenVPN over TCP on port " + port + " (server: proto tcp-server, port " + port +
           "; client: proto tcp-client, remote HOST " + port + ").";
  return "Run the OpenVPN server on UDP " + port + " (port " + port + ", proto udp).";
}

namespace {

// The module's entry points: this protocol needs only the token and hints.
Bytes module_build(const ProbeContext& context, const RandomFill& rnd) {
  return build_client_reset(context.token, context.hints, rnd);
}
std::optional<ParsedRequest> module_parse(ByteView payload, const ArrivalContext& arrival) {
  return parse_client_reset(payload, arrival.hints);
}
Bytes module_reply(ByteView request, const ParsedRequest& parsed, const ArrivalContext& /*arrival*/,
                   const RandomFill& rnd) {
  return build_server_reset(request, parsed, rnd);
}

}  // namespace

const ProtocolModule kModule{
    .id = "openvpn",
    .title = "OpenVPN",
    .description = "P_CONTROL_HARD_RESET_CLIENT_V2 (tls-auth form, 42 B) on UDP and TCP; reflector answers HARD_RESET_SERVER_V2",
    .variants = kVariants,
    .build_request = module_build,
    .parse_request = module_parse,
    .build_reply = module_reply,
    .is_reply_to = is_server_reset_for,
    .advice_use_variant = advice_use_variant,
    .advice_signature_blocked =
        "OpenVPN's handshake opcodes are recognisable; enable tls-crypt (or tls-crypt-v2) so the "
        "control channel is encrypted, or tunnel OpenVPN through TLS (e.g. stunnel on TCP 443).",
};

}  // namespace vpncheck::probes::openvpn
