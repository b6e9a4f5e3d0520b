#include "probes/pptp.h"

#include <algorithm>
#include <array>

#include "probes/untrusted.h"

namespace vpncheck::probes::pptp {
namespace {

constexpr std::array<std::uint8_t, 4> kCookieBytes{0x1A, 0x2B, 0x3C, 0x4D};
constexpr std::string_view kHostTagPrefix = "vpncheck-";
constexpr std::string_view kVendor = "vpncheck";

// Values a Linux PNS (pptp-linux) and the PROTOCOLS.md §2.2 verified frames use.
constexpr std::uint32_t kFramingAsync = 0x1;
constexpr std::uint32_t kBearerAnalog = 0x1;
constexpr std::uint32_t kMinBps = 300;
constexpr std::uint32_t kMaxBps = 100000000;
constexpr std::uint32_t kTypeEither = 3;  // OCRQ bearer/framing type "either"
constexpr std::uint16_t kReceiveWindow = 64;

constexpr std::uint16_t as_u16(MessageType t) { return static_cast<std::uint16_t>(t); }

// 12-byte header for a message of `type` at its RFC length.
ByteWriter header(MessageType type) {
  ByteWriter w;
  w.be16(static_cast<std::uint16_t>(*expected_length(as_u16(type))))
      .be16(kPptpControlMessage)
      .be32(kMagicCookie)
      .be16(as_u16(type))
      .be16(0);
  return w;
}

// A fixed-size, NUL-padded text field; longer text is cut to the field.
void fixed_string(ByteWriter& w, std::string_view text, std::size_t size) {
  auto used = std::min(text.size(), size);
  w.bytes(as_bytes(text.substr(0, used))).zeros(size - used);
}

std::string read_string(ByteReader& r, std::size_t size) {
  auto field = r.take(size);
  if (!field) return {};
  auto end = std::find(field->begin(), field->end(), std::uint8_t{0});
  return std::string(field->begin(), end);
}

// "vpncheck-<16 hex token>-<4 hex call id>" (OCRQ subaddress).
std::string subaddress_tag(const ProbeToken& token, std::uint16_t call_id) {
  std::array<std::uint8_t, 2> id{static_cast<std::uint8_t>(call_id >> 8), static_cast<std::uint8_t>(call_id)};
  return tagged_host_name(token) + "-" + to_hex(id);
}

void decode_subaddress(Message& m) {
  const std::size_t tag_size = kHostTagPrefix.size() + 2 * kProbeTokenSize;
  std::string_view text = m.subaddress;
  if (text.size() != tag_size + 5 || text[tag_size] != '-') return;
  auto token = token_from_host_name(text.substr(0, tag_size));
  auto id = from_hex(text.substr(tag_size + 1));
  if (!token || !id) return;
  m.token = token;
  m.original_call_id = static_cast<std::uint16_t>(((*id)[0] << 8) | (*id)[1]);
}

void decode_body(ByteReader& r, Message& m) {
  switch (static_cast<MessageType>(m.type)) {
    case MessageType::start_control_connection_request:
    case MessageType::start_control_connection_reply:
      m.protocol_version = *r.be16();
      if (m.type == as_u16(MessageType::start_control_connection_request)) {
        r.skip(2);  // Reserved1
      } else {
        m.result_code = *r.u8();
        m.error_code = *r.u8();
      }
      m.framing_capabilities = *r.be32();
      m.bearer_capabilities = *r.be32();
      m.maximum_channels = *r.be16();
      m.firmware_revision = *r.be16();
      m.host_name = read_string(r, kHostNameSize);
      m.vendor = read_string(r, kHostNameSize);
      m.token = token_from_host_name(m.host_name);
      break;
    case MessageType::stop_control_connection_request:
      m.reason = *r.u8();
      break;
    case MessageType::stop_control_connection_reply:
      m.result_code = *r.u8();
      m.error_code = *r.u8();
      break;
    case MessageType::echo_request:
      m.identifier = *r.be32();
      break;
    case MessageType::echo_reply:
      m.identifier = *r.be32();
      m.result_code = *r.u8();
      m.error_code = *r.u8();
      break;
    case MessageType::outgoing_call_request:
      m.call_id = *r.be16();
      m.call_serial_number = *r.be16();
      m.minimum_bps = *r.be32();
      m.maximum_bps = *r.be32();
      m.bearer_type = *r.be32();
      m.framing_type = *r.be32();
      m.receive_window = *r.be16();
      m.processing_delay = *r.be16();
      m.phone_number_length = *r.be16();
      r.skip(2);  // Reserved1
      m.phone_number = read_string(r, kHostNameSize);
      m.subaddress = read_string(r, kHostNameSize);
      decode_subaddress(m);
      break;
    case MessageType::outgoing_call_reply:
      m.call_id = *r.be16();
      m.peer_call_id = *r.be16();
      m.result_code = *r.u8();
      m.error_code = *r.u8();
      m.cause_code = *r.be16();
      m.connect_speed = *r.be32();
      m.receive_window = *r.be16();
      m.processing_delay = *r.be16();
      m.physical_channel_id = *r.be32();
      break;
    case MessageType::call_clear_request:
      m.call_id = *r.be16();
      break;
    case MessageType::call_disconnect_notify:
      m.call_id = *r.be16();
      m.result_code = *r.u8();
      m.error_code = *r.u8();
      m.cause_code = *r.be16();
      break;
    case MessageType::set_link_info:
      m.peer_call_id = *r.be16();
      r.skip(2);  // Reserved1
      m.send_accm = *r.be32();
      m.receive_accm = *r.be32();
      break;
    default:
      break;  // valid framing, body not decoded (incoming-call and WAN-error messages)
  }
}

bool parses_as(ByteView bytes, MessageType type, Message& out) {
  auto result = parse(bytes);
  if (result.status != ParseStatus::complete || result.size != bytes.size() ||
      result.message.type != as_u16(type))
    return false;
  out = std::move(result.message);
  return true;
}

}  // namespace

std::optional<std::size_t> expected_length(std::uint16_t type) {
  // RFC 2637 §2.1-2.15: 12-byte header + body.
  static constexpr std::array<std::size_t, 16> kLengths{0,   156, 156, 16, 16, 16, 20, 168,
                                                        32,  220, 24,  28, 16, 148, 40, 24};
  if (type == 0 || type >= kLengths.size()) return std::nullopt;
  return kLengths[type];
}

std::string_view type_name(std::uint16_t type) {
  static constexpr std::array<std::string_view, 16> kNames{
      "unknown", "SCCRQ", "SCCRP", "StopCCRQ", "StopCCRP", "Echo-Request", "Echo-Reply", "OCRQ",
      "OCRP", "ICRQ", "ICRP", "ICCN", "Call-Clear-Request", "Call-Disconnect-Notify",
      "WAN-Error-Notify", "Set-Link-Info"};
  return type < kNames.size() ? kNames[type] : kNames[0];
}

std::string tagged_host_name(const ProbeToken& token) {
  return std::string(kHostTagPrefix) + to_hex(token.encode());
}

std::optional<ProbeToken> token_from_host_name(std::string_view host_name) {
  if (host_name.size() != kHostTagPrefix.size() + 2 * kProbeTokenSize ||
      host_name.substr(0, kHostTagPrefix.size()) != kHostTagPrefix)
    return std::nullopt;
  auto bytes = from_hex(host_name.substr(kHostTagPrefix.size()));
  if (!bytes) return std::nullopt;
  return ProbeToken::decode(*bytes);
}

ParseResult frame(ByteView buffered) {
  ParseResult result;
  if (buffered.size() < 2) {
    result.status = ParseStatus::need_more;
    return result;
  }
  const std::size_t length = static_cast<std::size_t>((buffered[0] << 8) | buffered[1]);
  if (length < kHeaderSize || length > kMaxMessageSize) return result;
  // Check each header byte that has arrived: garbage is rejected early.
  if (buffered.size() >= 3 && buffered[2] != 0) return result;
  if (buffered.size() >= 4 && buffered[3] != kPptpControlMessage) return result;
  for (std::size_t i = 4; i < 8 && i < buffered.size(); ++i)
    if (buffered[i] != kCookieBytes[i - 4]) return result;
  if (buffered.size() >= 10) {
    auto type = static_cast<std::uint16_t>((buffered[8] << 8) | buffered[9]);
    auto expected = expected_length(type);
    if (!expected || *expected != length) return result;
  }
  for (std::size_t i = 10; i < kHeaderSize && i < buffered.size(); ++i)
    if (buffered[i] != 0) return result;
  result.size = length;
  result.status = buffered.size() >= length ? ParseStatus::complete : ParseStatus::need_more;
  return result;
}

ParseResult parse(ByteView buffered) {
  ParseResult result = frame(buffered);
  if (result.status != ParseStatus::complete) return result;
  ByteReader r(buffered.first(result.size));
  result.message.length = *r.be16();
  r.skip(6);  // PPTP message type, cookie: checked by frame()
  result.message.type = *r.be16();
  r.skip(2);  // Reserved0
  decode_body(r, result.message);
  if (!r.ok()) {  // cannot happen: frame() checked the length; kept as a guard
    result = ParseResult{};
  }
  return result;
}

std::string escape_text(std::string_view raw) { return escape_bytes(raw); }

std::map<std::string, std::string> describe(const Message& m) {
  std::map<std::string, std::string> f;
  f["message_type"] = std::string(type_name(m.type));
  f["length"] = std::to_string(m.length);
  auto num = [&](const char* name, auto value) { f[name] = std::to_string(value); };
  switch (static_cast<MessageType>(m.type)) {
    case MessageType::start_control_connection_reply:
      num("result_code", m.result_code);
      num("error_code", m.error_code);
      [[fallthrough]];
    case MessageType::start_control_connection_request:
      num("protocol_version", m.protocol_version);
      num("framing_capabilities", m.framing_capabilities);
      num("bearer_capabilities", m.bearer_capabilities);
      num("maximum_channels", m.maximum_channels);
      num("firmware_revision", m.firmware_revision);
      f["host_name"] = escape_text(m.host_name);
      f["vendor"] = escape_text(m.vendor);
      break;
    case MessageType::stop_control_connection_request:
      num("reason", m.reason);
      break;
    case MessageType::stop_control_connection_reply:
    case MessageType::echo_reply:
      num("result_code", m.result_code);
      num("error_code", m.error_code);
      break;
    case MessageType::outgoing_call_request:
      num("call_id", m.call_id);
      num("call_serial_number", m.call_serial_number);
      num("minimum_bps", m.minimum_bps);
      num("maximum_bps", m.maximum_bps);
      num("bearer_type", m.bearer_type);
      num("framing_type", m.framing_type);
      num("receive_window", m.receive_window);
      f["phone_number"] = escape_text(m.phone_number);
      f["subaddress"] = escape_text(m.subaddress);
      if (m.original_call_id) num("original_call_id", *m.original_call_id);
      break;
    case MessageType::outgoing_call_reply:
      num("call_id", m.call_id);
      num("peer_call_id", m.peer_call_id);
      num("result_code", m.result_code);
      num("error_code", m.error_code);
      num("connect_speed", m.connect_speed);
      break;
    case MessageType::set_link_info:
      num("peer_call_id", m.peer_call_id);
      num("send_accm", m.send_accm);
      num("receive_accm", m.receive_accm);
      break;
    case MessageType::call_clear_request:
    case MessageType::call_disconnect_notify:
      num("call_id", m.call_id);
      break;
    default:
      break;
  }
  if (static_cast<MessageType>(m.type) == MessageType::echo_request ||
      static_cast<MessageType>(m.type) == MessageType::echo_reply)
    num("identifier", m.identifier);
  return f;
}

Bytes build_sccrq(const ProbeToken& token) {
  ByteWriter w = header(MessageType::start_control_connection_request);
  w.be16(kProtocolVersion).be16(0).be32(kFramingAsync).be32(kBearerAnalog).be16(0).be16(0);
  fixed_string(w, tagged_host_name(token), kHostNameSize);
  fixed_string(w, kVendor, kHostNameSize);
  return w.take();
}

Bytes build_ocrq(const ProbeToken& token, std::uint16_t call_id, std::uint16_t call_serial) {
  ByteWriter w = header(MessageType::outgoing_call_request);
  w.be16(call_id)
      .be16(call_serial)
      .be32(kMinBps)
      .be32(kMaxBps)
      .be32(kTypeEither)
      .be32(kTypeEither)
      .be16(kReceiveWindow)
      .be16(0)   // processing delay
      .be16(0)   // phone number length
      .be16(0)   // reserved
      .zeros(kHostNameSize);  // phone number: none (a VPN call dials nothing)
  fixed_string(w, subaddress_tag(token, call_id), kHostNameSize);
  return w.take();
}

Bytes build_set_link_info(std::uint16_t peer_call_id, std::uint32_t send_accm, std::uint32_t receive_accm) {
  ByteWriter w = header(MessageType::set_link_info);
  w.be16(peer_call_id).be16(0).be32(send_accm).be32(receive_accm);
  return w.take();
}

Bytes build_stop_ccrq(std::uint8_t reason) {
  ByteWriter w = header(MessageType::stop_control_connection_request);
  w.u8(reason).u8(0).be16(0);
  return w.take();
}

Bytes build_sccrp(ByteView sccrq) {
  Message request;
  if (!parses_as(sccrq, MessageType::start_control_connection_request, request)) return {};
  ByteWriter w = header(MessageType::start_control_connection_reply);
  w.be16(kProtocolVersion).u8(kResultOk).u8(0).be32(kFramingAsync).be32(kBearerAnalog).be16(1).be16(0);
  fixed_string(w, request.host_name, kHostNameSize);
  fixed_string(w, kVendor, kHostNameSize);
  return w.take();
}

Bytes build_ocrp(ByteView ocrq, std::uint16_t own_call_id) {
  Message request;
  if (!parses_as(ocrq, MessageType::outgoing_call_request, request)) return {};
  ByteWriter w = header(MessageType::outgoing_call_reply);
  w.be16(own_call_id)
      .be16(request.call_id)
      .u8(kResultOk)
      .u8(0)
      .be16(0)  // cause code
      .be32(kMaxBps)
      .be16(kReceiveWindow)
      .be16(0)   // processing delay
      .be32(0);  // physical channel id
  return w.take();
}

Bytes build_stop_ccrp(ByteView stop_ccrq) {
  Message request;
  if (!parses_as(stop_ccrq, MessageType::stop_control_connection_request, request)) return {};
  ByteWriter w = header(MessageType::stop_control_connection_reply);
  w.u8(kResultOk).u8(0).be16(0);
  return w.take();
}

bool is_sccrp_reply_to(ByteView reply, ByteView sccrq) {
  Message rep;
  Message req;
  return parses_as(reply, MessageType::start_control_connection_reply, rep) &&
         parses_as(sccrq, MessageType::start_control_connection_request, req) &&
         rep.result_code == kResultOk && rep.host_name == req.host_name;
}

bool is_ocrp_reply_to(ByteView reply, ByteView ocrq) {
  Message rep;
  Message req;
  return parses_as(reply, MessageType::outgoing_call_reply, rep) &&
         parses_as(ocrq, MessageType::outgoing_call_request, req) && rep.result_code == kResultOk &&
         rep.peer_call_id == req.call_id;
}

bool is_stop_ccrp_reply_to(ByteView reply, ByteView stop_ccrq) {
  Message rep;
  Message req;
  return parses_as(reply, MessageType::stop_control_connection_reply, rep) &&
         parses_as(stop_ccrq, MessageType::stop_control_connection_request, req);
}

}  // namespace vpncheck::probes::pptp
