#include "probes/openvpn.h"

#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <string_view>

#include "probes/crypto.h"

namespace vpncheck::probes::openvpn {
namespace {

// Each form on OpenVPN's standard UDP 1194 and on TCP 1194 and 443; every
// form but tls-auth's came with this reflector version (older ones drop them).
constexpr std::array kVariants{
    ProbeVariant{Transport::udp, 1194, true, "tls-auth"},
    ProbeVariant{Transport::tcp, 1194, false, "tls-auth", 0, &kTcpFraming},
    ProbeVariant{Transport::tcp, 443, false, "tls-auth", 0, &kTcpFraming},
    ProbeVariant{.transport = Transport::udp, .port = 1194, .standard = true, .piece = "plain", .reflector_must_list = true},
    ProbeVariant{.transport = Transport::tcp, .port = 1194, .standard = false, .piece = "plain", .framing = &kTcpFraming, .reflector_must_list = true},
    ProbeVariant{.transport = Transport::tcp, .port = 443, .standard = false, .piece = "plain", .framing = &kTcpFraming, .reflector_must_list = true},
    ProbeVariant{.transport = Transport::udp, .port = 1194, .standard = true, .piece = "tls-auth-sha256", .reflector_must_list = true},
    ProbeVariant{.transport = Transport::tcp, .port = 1194, .standard = false, .piece = "tls-auth-sha256", .framing = &kTcpFraming, .reflector_must_list = true},
    ProbeVariant{.transport = Transport::tcp, .port = 443, .standard = false, .piece = "tls-auth-sha256", .framing = &kTcpFraming, .reflector_must_list = true},
    ProbeVariant{.transport = Transport::udp, .port = 1194, .standard = true, .piece = "tls-crypt", .reflector_must_list = true},
    ProbeVariant{.transport = Transport::tcp, .port = 1194, .standard = false, .piece = "tls-crypt", .framing = &kTcpFraming, .reflector_must_list = true},
    ProbeVariant{.transport = Transport::tcp, .port = 443, .standard = false, .piece = "tls-crypt", .framing = &kTcpFraming, .reflector_must_list = true},
    ProbeVariant{.transport = Transport::udp, .port = 1194, .standard = true, .piece = "tls-crypt-v2", .reflector_must_list = true},
    ProbeVariant{.transport = Transport::tcp, .port = 1194, .standard = false, .piece = "tls-crypt-v2", .framing = &kTcpFraming, .reflector_must_list = true},
    ProbeVariant{.transport = Transport::tcp, .port = 443, .standard = false, .piece = "tls-crypt-v2", .framing = &kTcpFraming, .reflector_must_list = true},
};

constexpr std::size_t kPlainResetSize = 14;  // the smallest client reset
constexpr std::uint32_t kNetTime = 0x65000000;  // a fixed plausible Unix time keeps probes reproducible
// tls-crypt's plaintext of a client reset: ack count 1 | message packet-id 4.
constexpr std::size_t kResetPlaintextSize = 5;
// ... of a server reset: ack count 1 | acked packet-id 4 | remote session id 8 | message packet-id 4.
constexpr std::size_t kServerPlaintextSize = 17;
constexpr std::size_t kEarlyNegTlvSize = 6;  // type 2 | length 2 | flags 2
// opcode | session id | packet-id | tag: what precedes tls-crypt's ciphertext.
constexpr std::size_t kTlsCryptHeaderSize = 1 + kSessionIdSize + kPacketIdSize + kTlsCryptTagSize;

std::size_t hmac_size(Form form) {
  return form == Form::tls_auth_sha1 ? kTlsAuthSha1HmacSize : form == Form::tls_auth_sha256 ? kTlsAuthSha256HmacSize : 0;
}
bool is_tls_crypt(Form form) { return form == Form::tls_crypt || form == Form::tls_crypt_v2; }

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

// The server's own session id. OpenVPN 2.6 derives it from the client's
// (an HMAC of the client's session id and address, ssl_pkt.c
// calculate_session_id_hmac) so that it keeps no state before the client's
// second packet; the reflector derives it from the client's session id alone,
// which lets the client check a reply whose echo of its session id is
// encrypted (tls-crypt).
std::array<std::uint8_t, kSessionIdSize> server_session_id(
    std::span<const std::uint8_t, kSessionIdSize> client_session_id) {
  static constexpr std::string_view kLabel = "vpncheck openvpn server session";
  std::array<std::uint8_t, kLabel.size() + kSessionIdSize> input{};
  std::copy(kLabel.begin(), kLabel.end(), input.begin());
  std::copy(client_session_id.begin(), client_session_id.end(), input.begin() + kLabel.size());
  auto digest = sha256(input);
  std::array<std::uint8_t, kSessionIdSize> id{};
  std::copy_n(digest.begin(), id.size(), id.begin());
  return id;
}

// The plain server reset: one ACK of the client's packet-id 0, the client's
// session id, and the server's own packet-id 0 (ssl_pkt.c tls_reset_standalone).
void write_server_ack_and_id(ByteWriter& w, ByteView client_session_id) {
  w.u8(1).be32(0).bytes(client_session_id).be32(0);
}

Bytes server_reset(Form form, ByteView request, const RandomFill& rnd) {
  const auto client_sid = request.subspan(1).first<kSessionIdSize>();
  ByteWriter w;
  w.u8(opcode_byte(kOpHardResetServerV2)).bytes(server_session_id(client_sid));
  if (is_tls_crypt(form)) {
    // packet-id | tag | AES-256-CTR(ack, remote session id, packet-id[, TLV]).
    Bytes sealed(kTlsCryptTagSize + kServerPlaintextSize + (form == Form::tls_crypt_v2 ? kEarlyNegTlvSize : 0));
    rnd(sealed);
    w.be32(1).be32(kNetTime).bytes(sealed);
    return w.take();
  }
  if (const std::size_t h = hmac_size(form); h > 0) {
    Bytes hmac(h);
    rnd(hmac);
    w.bytes(hmac).be32(1).be32(kNetTime);
  }
  write_server_ack_and_id(w, client_sid);
  return w.take();
}

// The plain layout after opcode and server session id: an ACK array that
// echoes the request's session id, then the message packet-id.
bool acks_and_echo(ByteReader& r, ByteView request) {
  auto acks = r.u8();
  if (!acks || *acks == 0 || !r.skip(std::size_t{*acks} * 4)) return false;
  auto remote = r.take(kSessionIdSize);
  auto message_packet_id = r.be32();
  return remote && message_packet_id && request.size() >= 1 + kSessionIdSize &&
         std::equal(remote->begin(), remote->end(), request.begin() + 1);
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

namespace {

struct FormText {
  Form form;
  std::string_view name;     // in reports and as the variants' piece
  std::string_view setting;  // how a configuration turns it on, for advice
};
constexpr std::array kFormText{
    FormText{Form::tls_auth_sha1, "tls-auth", "`tls-auth` (with the default `auth SHA1`)"},
    FormText{Form::plain, "plain", "no `tls-auth`/`tls-crypt`"},
    FormText{Form::tls_auth_sha256, "tls-auth-sha256", "`tls-auth` with `auth SHA256`"},
    FormText{Form::tls_crypt, "tls-crypt", "`tls-crypt`"},
    FormText{Form::tls_crypt_v2, "tls-crypt-v2", "`tls-crypt-v2`"},
};

const FormText& text_of(Form form) {
  return *std::find_if(kFormText.begin(), kFormText.end(), [&](const FormText& t) { return t.form == form; });
}

}  // namespace

std::string_view form_name(Form form) { return text_of(form).name; }
std::string_view form_setting(Form form) { return text_of(form).setting; }

std::optional<Form> form_from_name(std::string_view name) {
  for (const auto& t : kFormText)
    if (t.name == name) return t.form;
  return std::nullopt;
}

std::size_t client_reset_size(Form form) {
  switch (form) {
    case Form::plain: return kPlainResetSize;
    case Form::tls_auth_sha1:
    case Form::tls_auth_sha256: return kPlainResetSize + hmac_size(form) + kPacketIdSize;
    case Form::tls_crypt: return kTlsCryptHeaderSize + kResetPlaintextSize;
    case Form::tls_crypt_v2: return kTlsCryptHeaderSize + kResetPlaintextSize + kWrappedClientKeySize;
  }
  return 0;
}

std::size_t server_reset_size(Form form) {
  switch (form) {
    case Form::plain: return kServerResetSize;
    case Form::tls_auth_sha1:
    case Form::tls_auth_sha256: return kServerResetSize + hmac_size(form) + kPacketIdSize;
    case Form::tls_crypt: return kTlsCryptHeaderSize + kServerPlaintextSize;
    case Form::tls_crypt_v2: return kTlsCryptHeaderSize + kServerPlaintextSize + kEarlyNegTlvSize;
  }
  return 0;
}

Bytes build_client_reset(Form form, const ProbeToken& token, const RandomFill& rnd) {
  ByteWriter w;
  w.u8(opcode_byte(form == Form::tls_crypt_v2 ? kOpHardResetClientV3 : kOpHardResetClientV2)).bytes(token.encode());
  if (is_tls_crypt(form)) {
    // packet-id | tag | AES-256-CTR(ack count 0, message packet-id 0) (tls_crypt.c tls_crypt_wrap).
    Bytes sealed(kTlsCryptTagSize + kResetPlaintextSize);
    rnd(sealed);
    w.be32(form == Form::tls_crypt_v2 ? kEarlyNegFirstPacketId : 1).be32(kNetTime).bytes(sealed);
    if (form == Form::tls_crypt_v2) {
      // WKc: tag | AES-256-CTR(client key, metadata) | its own length (tls_crypt.c tls_crypt_v2_wrap_client_key).
      Bytes wrapped(kWrappedClientKeySize - 2);
      rnd(wrapped);
      w.bytes(wrapped).be16(static_cast<std::uint16_t>(kWrappedClientKeySize));
    }
    return w.take();
  }
  if (const std::size_t h = hmac_size(form); h > 0) {
    Bytes hmac(h);
    rnd(hmac);  // the HMAC key is the user's secret; any value looks the same on the wire
    w.bytes(hmac).be32(1).be32(kNetTime);  // tls-auth's replay packet-id starts at 1
  }
  w.u8(0)     // no ACKs in the first packet
      .be32(0);  // message packet-id 0
  return w.take();
}

Bytes build_client_reset(const ProbeToken& token, const ServerHints& /*hints*/, const RandomFill& rnd) {
  return build_client_reset(Form::tls_auth_sha1, token, rnd);
}

std::optional<Classified> classify_client_reset(ByteView payload) {
  if (payload.size() < kPlainResetSize || payload.size() > kMaxControlPacket) return std::nullopt;
  if (payload[0] == opcode_byte(kOpHardResetClientV3)) {
    // tls-crypt wrapping, then the WKc whose last two bytes are its own length.
    const std::size_t wkc = std::size_t{payload[payload.size() - 2]} << 8 | payload[payload.size() - 1];
    if (wkc < kMinWrappedClientKeySize || wkc > kMaxWrappedClientKeySize ||
        payload.size() < kTlsCryptHeaderSize + kResetPlaintextSize + wkc)
      return std::nullopt;
    return Classified{Form::tls_crypt_v2, "tls-crypt-v2"};
  }
  if (payload[0] != opcode_byte(kOpHardResetClientV2)) return std::nullopt;
  if (payload.size() == kPlainResetSize) return Classified{Form::plain, "none"};
  if (payload.size() == client_reset_size(Form::tls_auth_sha1)) return Classified{Form::tls_auth_sha1, "tls-auth-sha1"};
  if (payload.size() == client_reset_size(Form::tls_crypt)) {
    // tls-auth with SHA-256 has the same size; its last five bytes are the
    // clear ack count 0 and message packet-id 0, where tls-crypt has
    // ciphertext (all zero once in 2^40).
    const bool clear_tail = std::all_of(payload.end() - kResetPlaintextSize, payload.end(),
                                        [](std::uint8_t b) { return b == 0; });
    return clear_tail ? Classified{Form::tls_auth_sha256, "tls-auth-sha256"} : Classified{Form::tls_crypt, "tls-crypt"};
  }
  return Classified{std::nullopt, "unknown"};
}

std::optional<ParsedRequest> parse_client_reset(ByteView payload, const ServerHints& /*hints*/) {
  auto classified = classify_client_reset(payload);
  if (!classified) return std::nullopt;
  auto token = ProbeToken::decode(payload.subspan(1));
  if (!token) return std::nullopt;
  ParsedRequest parsed{*token, {}};
  parsed.fields["opcode"] =
      classified->form == Form::tls_crypt_v2 ? "P_CONTROL_HARD_RESET_CLIENT_V3" : "P_CONTROL_HARD_RESET_CLIENT_V2";
  parsed.fields["key_id"] = "0";
  parsed.fields["session_id"] = to_hex(payload.subspan(1, kSessionIdSize));
  parsed.fields["wrapping"] = std::string(classified->wrapping);
  if (classified->form) parsed.piece = form_name(*classified->form);
  return parsed;
}

Bytes build_server_reset(ByteView request, const ParsedRequest& parsed, const RandomFill& rnd,
                         std::size_t allowance) {
  if (request.size() < 1 + kSessionIdSize) return {};
  const Form form = form_from_name(parsed.piece).value_or(Form::plain);
  if (server_reset_size(form) <= allowance || form == Form::plain || allowance < kServerResetSize)
    return server_reset(form, request, rnd);
  return server_reset(Form::plain, request, rnd);
}

Bytes build_server_reset(ByteView request, const ParsedRequest& parsed, const RandomFill& rnd) {
  return build_server_reset(request, parsed, rnd, request.size());
}

bool is_server_reset_for(ByteView reply, ByteView request) {
  if (request.size() < 1 + kSessionIdSize) return false;
  ByteReader r(reply);
  auto op = r.u8();
  auto server_sid = r.take(kSessionIdSize);
  if (!op || *op != opcode_byte(kOpHardResetServerV2) || !server_sid) return false;
  // The plain reset answers every form (a reflector that may not answer in
  // the request's wrapping, or an older one).
  {
    ByteReader plain = r;
    if (acks_and_echo(plain, request)) return true;
  }
  auto classified = classify_client_reset(request);
  if (!classified || !classified->form) return false;
  const Form form = *classified->form;
  if (reply.size() != server_reset_size(form)) return false;
  if (is_tls_crypt(form)) {
    // The echo is encrypted: the server's session id, derived from the
    // client's, is what ties the answer to this request.
    const auto expected = server_session_id(request.subspan(1).first<kSessionIdSize>());
    return std::equal(expected.begin(), expected.end(), server_sid->begin());
  }
  return r.skip(hmac_size(form) + kPacketIdSize) && acks_and_echo(r, request);
}

Bytes build_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, const RandomFill& rnd) {
  if (size < kDataMinSize || size > kMaxUdpPayload || sequence == 0xffffffffu) return {};
  Bytes msg(size);
  rnd(msg);
  msg[0] = opcode_byte(kOpDataV2);
  // 0xFFFFFF is "no peer id" (ssl_pkt.h MAX_PEER_ID): a server hands out smaller ones.
  if (msg[1] == 0xff && msg[2] == 0xff && msg[3] == 0xff) msg[3] = 0;
  const std::uint32_t packet_id = sequence + 1;
  for (std::size_t i = 0; i < 4; ++i) msg[4 + i] = static_cast<std::uint8_t>(packet_id >> (8 * (3 - i)));
  auto encoded = token.encode();
  std::copy(encoded.begin(), encoded.end(), msg.begin() + kDataHeaderSize);
  return msg;
}

std::optional<DataPacket> parse_data(ByteView payload) {
  if (payload.size() < kDataMinSize || payload.size() > kMaxUdpPayload || (payload[0] >> 3) != kOpDataV2)
    return std::nullopt;
  std::uint32_t packet_id = 0;
  for (std::size_t i = 0; i < 4; ++i) packet_id = packet_id << 8 | payload[4 + i];
  if (packet_id == 0) return std::nullopt;
  auto token = ProbeToken::decode(payload.subspan(kDataHeaderSize));
  if (!token) return std::nullopt;
  return DataPacket{*token, packet_id - 1};
}

std::string advice_mtu(int path_mtu) {
  const int tun = path_mtu - kAdviceOverhead;
  return "OpenVPN: tun-mtu " + std::to_string(tun) + " and mssfix " + std::to_string(tun - 40) + " (both ends)";
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
  return build_client_reset(form_from_name(context.variant.piece).value_or(Form::tls_auth_sha1), context.token, rnd);
}
std::optional<ParsedRequest> module_parse(ByteView payload, const ArrivalContext& arrival) {
  return parse_client_reset(payload, arrival.hints);
}
Bytes module_reply(ByteView request, const ParsedRequest& parsed, const ArrivalContext& arrival,
                   const RandomFill& rnd) {
  return build_server_reset(request, parsed, rnd, reply_allowance(arrival, request));
}

std::vector<std::string> module_advice_mtu(int path_mtu) { return {advice_mtu(path_mtu)}; }

// OpenVPN touches IP_MTU_DISCOVER only with --mtu-disc: options.c sets
// mtu_discover_type = -1, and mtu.c set_mtu_discover_type skips negative
// values. Its UDP socket keeps the system default, so its packets that fit
// this host's MTU, every mssfix-sized one among them, carry DF. (Its Linux
// kernel data channel, DCO, sends with DF clear: drivers/net/ovpn/udp.c.)
// The data phase follows the standard form's handshake only: every form
// sends the same data packets.
constexpr DataPhase kDataPhase{
    .piece = "tls-auth",
    .small_payload = kDataSmallSize,
    .full_payload_v4 = kDataFullSizeV4,
    .full_payload_v6 = kDataFullSizeV6,
    .df = DontFragment::system_default,
    .build = unkeyed_data<build_data>,
    .parse = parse_data,
    .advice_mtu = module_advice_mtu,
    .full_size_words = "OpenVPN's full-size data packets (1492 bytes on the wire with its default mssfix)",
};

}  // namespace

const ProtocolModule kModule{
    .id = "openvpn",
    .title = "OpenVPN",
    .description = "P_CONTROL_HARD_RESET_CLIENT_V2/V3 in each form (plain, tls-auth SHA1/SHA256, tls-crypt, "
                   "tls-crypt-v2) on UDP and TCP; reflector answers HARD_RESET_SERVER_V2",
    .variants = kVariants,
    .build_request = module_build,
    .parse_request = module_parse,
    .build_reply = module_reply,
    .is_reply_to = is_server_reset_for,
    .advice_use_variant = advice_use_variant,
    .advice_signature_blocked =
        "OpenVPN's handshake opcodes are recognisable; enable tls-crypt (or tls-crypt-v2) so the "
        "control channel is encrypted, or tunnel OpenVPN through TLS (e.g. stunnel on TCP 443).",
    .assess = assess,
    .data_phase = &kDataPhase,
};

}  // namespace vpncheck::probes::openvpn
