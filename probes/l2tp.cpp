#include "probes/l2tp.h"

#include <algorithm>
#include <array>

#include "probes/ip.h"
#include "probes/pptp.h"

namespace vpncheck::probes::l2tp {
namespace {

constexpr std::string_view kVendor = "vpncheck";
constexpr std::uint32_t kFramingAsyncSync = 0x3;  // L2TP: 0x2 async, 0x1 sync
constexpr std::uint32_t kBearerNone = 0x0;
constexpr std::uint16_t kFirmwareRevision = 0x0690;  // as xl2tpd 1.3.x reports itself
constexpr std::uint16_t kReceiveWindow = 4;
constexpr std::uint32_t kFramingTypeSync = 0x1;  // Framing Type AVP: bit 0 synchronous, bit 1 asynchronous
// The (Tx) Connect Speed an LAC without a physical line reports, in bits per second.
constexpr std::uint32_t kConnectSpeed = 100'000'000;

constexpr std::uint16_t as_u16(MessageType t) { return static_cast<std::uint16_t>(t); }
constexpr std::uint16_t as_u16(AvpType t) { return static_cast<std::uint16_t>(t); }

// Builds AVPs then prepends the header with the right Length.
class MessageWriter {
 public:
  MessageWriter& avp(AvpType type, ByteView value, bool mandatory = true) {
    auto length = static_cast<std::uint16_t>(kAvpHeaderSize + value.size());
    body_.be16(static_cast<std::uint16_t>((mandatory ? kAvpMandatory : 0) | length))
        .be16(0)  // IETF
        .be16(as_u16(type))
        .bytes(value);
    return *this;
  }
  MessageWriter& avp16(AvpType type, std::uint16_t v, bool mandatory = true) {
    std::array<std::uint8_t, 2> b{static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    return avp(type, b, mandatory);
  }
  MessageWriter& avp32(AvpType type, std::uint32_t v) {
    ByteWriter b;
    b.be32(v);
    return avp(type, b.view());
  }
  // session_id 0: a tunnel-level message.
  Bytes finish(std::uint16_t tunnel_id, std::uint16_t ns, std::uint16_t nr, std::uint16_t session_id = 0) {
    ByteWriter w;
    w.be16(kControlFlags)
        .be16(static_cast<std::uint16_t>(kHeaderSize + body_.size()))
        .be16(tunnel_id)
        .be16(session_id)
        .be16(ns)
        .be16(nr)
        .bytes(body_.view());
    return w.take();
  }

 private:
  ByteWriter body_;
};

std::uint16_t be16_of(ByteView v) { return static_cast<std::uint16_t>((v[0] << 8) | v[1]); }
std::uint32_t be32_of(ByteView v) { return *ByteReader(v).be32(); }

// Decodes one IETF, non-hidden AVP into `m`; false if its size is wrong for its type.
bool decode_avp(const Avp& avp, Message& m) {
  const auto size = avp.value.size();
  auto u16 = [&](std::optional<std::uint16_t>& field) {
    if (size != 2) return false;
    field = be16_of(avp.value);
    return true;
  };
  auto u32 = [&](std::optional<std::uint32_t>& field) {
    if (size != 4) return false;
    field = be32_of(avp.value);
    return true;
  };
  switch (static_cast<AvpType>(avp.type)) {
    case AvpType::message_type:
      return !m.message_type && u16(m.message_type);  // once, and first (checked by parse)
    case AvpType::protocol_version:
      return u16(m.protocol_version);
    case AvpType::framing_capabilities:
      return u32(m.framing_capabilities);
    case AvpType::bearer_capabilities:
      return u32(m.bearer_capabilities);
    case AvpType::firmware_revision:
      return u16(m.firmware_revision);
    case AvpType::assigned_tunnel_id:
      return u16(m.assigned_tunnel_id);
    case AvpType::receive_window_size:
      return u16(m.receive_window_size);
    case AvpType::assigned_session_id:
      return u16(m.assigned_session_id);
    case AvpType::call_serial_number:
      return u32(m.call_serial_number);
    case AvpType::framing_type:
      return u32(m.framing_type);
    case AvpType::tx_connect_speed:
      return u32(m.tx_connect_speed);
    case AvpType::tie_breaker:
      return size == 8;
    case AvpType::host_name:
      if (size == 0) return false;
      m.host_name = std::string(avp.value.begin(), avp.value.end());
      m.token = token_from_host_name(*m.host_name);
      return true;
    case AvpType::vendor_name:
      m.vendor_name = std::string(avp.value.begin(), avp.value.end());
      return true;
    case AvpType::result_code:
      if (size < 2) return false;
      m.result_code = be16_of(avp.value);
      if (size >= 4) m.error_code = be16_of(avp.value.subspan(2));
      return size != 3;  // result, or result + error (+ message)
    default:
      return true;
  }
}

bool parses_as(ByteView bytes, MessageType type, Message& out) {
  auto m = parse(bytes);
  if (!m || m->message_type != as_u16(type)) return false;
  out = std::move(*m);
  return true;
}

}  // namespace

std::string_view type_name(std::uint16_t type) {
  static constexpr std::array<std::string_view, 17> kNames{
      "unknown", "SCCRQ", "SCCRP", "SCCCN", "StopCCN", "unknown", "HELLO", "OCRQ", "OCRP",
      "OCCN",    "ICRQ",  "ICRP",  "ICCN",  "unknown", "CDN",     "WEN",   "SLI"};
  return type < kNames.size() ? kNames[type] : kNames[0];
}

std::map<std::string, std::string> describe(const Message& m) {
  std::map<std::string, std::string> f;
  f["message_type"] = m.zlb ? "ZLB" : std::string(type_name(m.message_type.value_or(0)));
  auto num = [&](const char* name, auto value) { f[name] = std::to_string(value); };
  auto opt = [&](const char* name, const auto& value) {
    if (value) num(name, *value);
  };
  num("length", m.length);
  num("tunnel_id", m.tunnel_id);
  num("session_id", m.session_id);
  num("ns", m.ns);
  num("nr", m.nr);
  num("avp_count", m.avps.size());
  opt("protocol_version", m.protocol_version);
  opt("framing_capabilities", m.framing_capabilities);
  opt("bearer_capabilities", m.bearer_capabilities);
  opt("firmware_revision", m.firmware_revision);
  opt("assigned_tunnel_id", m.assigned_tunnel_id);
  opt("receive_window_size", m.receive_window_size);
  opt("assigned_session_id", m.assigned_session_id);
  opt("call_serial_number", m.call_serial_number);
  opt("framing_type", m.framing_type);
  opt("tx_connect_speed", m.tx_connect_speed);
  opt("result_code", m.result_code);
  opt("error_code", m.error_code);
  if (m.host_name) f["host_name"] = pptp::escape_text(*m.host_name);
  if (m.vendor_name) f["vendor_name"] = pptp::escape_text(*m.vendor_name);
  return f;
}

std::string tagged_host_name(const ProbeToken& token) { return pptp::tagged_host_name(token); }

std::optional<ProbeToken> token_from_host_name(std::string_view host_name) {
  return pptp::token_from_host_name(host_name);
}

std::optional<Message> parse(ByteView datagram) {
  ByteReader r(datagram);
  auto flags = r.be16();
  auto length = r.be16();
  Message m;
  auto tunnel = r.be16();
  auto session = r.be16();
  auto ns = r.be16();
  auto nr = r.be16();
  if (!nr || *flags != kControlFlags || *length != datagram.size()) return std::nullopt;
  m.length = *length;
  m.tunnel_id = *tunnel;
  m.session_id = *session;
  m.ns = *ns;
  m.nr = *nr;
  while (r.remaining() > 0) {
    auto word = r.be16();
    auto vendor = r.be16();
    auto type = r.be16();
    if (!type) return std::nullopt;
    const std::size_t avp_length = *word & kAvpLengthMask;
    if ((*word & kAvpReservedMask) != 0 || avp_length < kAvpHeaderSize) return std::nullopt;
    auto value = r.take(avp_length - kAvpHeaderSize);
    if (!value) return std::nullopt;
    Avp avp{(*word & kAvpMandatory) != 0, (*word & kAvpHidden) != 0, *vendor, *type, *value};
    if (m.avps.empty() && (avp.vendor_id != 0 || avp.type != as_u16(AvpType::message_type) ||
                           avp.hidden || !avp.mandatory))
      return std::nullopt;
    if (avp.vendor_id == 0 && !avp.hidden && !decode_avp(avp, m)) return std::nullopt;
    m.avps.push_back(avp);
  }
  m.zlb = m.avps.empty();
  return m;
}

Bytes build_sccrq(const ProbeToken& token, std::uint16_t assigned_tunnel_id) {
  if (assigned_tunnel_id == 0) return {};
  return MessageWriter{}
      .avp16(AvpType::message_type, as_u16(MessageType::sccrq))
      .avp16(AvpType::protocol_version, kProtocolVersion)
      .avp32(AvpType::framing_capabilities, kFramingAsyncSync)
      .avp32(AvpType::bearer_capabilities, kBearerNone)
      .avp16(AvpType::firmware_revision, kFirmwareRevision, false)
      .avp(AvpType::host_name, as_bytes(tagged_host_name(token)))
      .avp(AvpType::vendor_name, as_bytes(kVendor), false)
      .avp16(AvpType::assigned_tunnel_id, assigned_tunnel_id)
      .avp16(AvpType::receive_window_size, kReceiveWindow)
      .finish(0, 0, 0);
}

Bytes build_sccrp(ByteView sccrq, std::uint16_t assigned_tunnel_id) {
  Message request;
  if (assigned_tunnel_id == 0 || !parses_as(sccrq, MessageType::sccrq, request) ||
      !request.assigned_tunnel_id || *request.assigned_tunnel_id == 0 || !request.host_name)
    return {};
  Bytes reply = MessageWriter{}
                    .avp16(AvpType::message_type, as_u16(MessageType::sccrp))
                    .avp16(AvpType::protocol_version, kProtocolVersion)
                    .avp32(AvpType::framing_capabilities, kFramingAsyncSync)
                    .avp(AvpType::host_name, as_bytes(*request.host_name))
                    .avp16(AvpType::assigned_tunnel_id, assigned_tunnel_id)
                    .finish(*request.assigned_tunnel_id, 0, 1);
  if (reply.size() > sccrq.size()) return {};
  return reply;
}

Bytes build_scccn(ByteView sccrp) {
  Message reply;
  if (!parses_as(sccrp, MessageType::sccrp, reply) || !reply.assigned_tunnel_id) return {};
  return MessageWriter{}.avp16(AvpType::message_type, as_u16(MessageType::scccn)).finish(*reply.assigned_tunnel_id, 1, 1);
}

Bytes build_zlb(std::uint16_t tunnel_id, std::uint16_t ns, std::uint16_t nr) {
  return MessageWriter{}.finish(tunnel_id, ns, nr);
}

Bytes build_zlb_ack(ByteView message, std::uint16_t peer_tunnel_id) {
  auto m = parse(message);
  if (!m || m->zlb) return {};
  return build_zlb(peer_tunnel_id, m->nr, static_cast<std::uint16_t>(m->ns + 1));
}

Bytes build_stop_ccn(std::uint16_t peer_tunnel_id, std::uint16_t own_tunnel_id, std::uint16_t ns,
                     std::uint16_t nr, std::uint16_t result) {
  ByteWriter result_value;
  result_value.be16(result).be16(0);
  return MessageWriter{}
      .avp16(AvpType::message_type, as_u16(MessageType::stop_ccn))
      .avp16(AvpType::assigned_tunnel_id, own_tunnel_id)
      .avp(AvpType::result_code, result_value.view())
      .finish(peer_tunnel_id, ns, nr);
}

Bytes build_icrq(std::uint16_t peer_tunnel_id, std::uint16_t assigned_session_id, std::uint32_t serial,
                 std::uint16_t ns, std::uint16_t nr) {
  if (assigned_session_id == 0) return {};
  return MessageWriter{}
      .avp16(AvpType::message_type, as_u16(MessageType::icrq))
      .avp16(AvpType::assigned_session_id, assigned_session_id)
      .avp32(AvpType::call_serial_number, serial)
      .finish(peer_tunnel_id, ns, nr);
}

Bytes build_icrp(ByteView icrq, std::uint16_t peer_tunnel_id, std::uint16_t assigned_session_id) {
  Message request;
  if (assigned_session_id == 0 || !parses_as(icrq, MessageType::icrq, request) ||
      request.assigned_session_id.value_or(0) == 0)
    return {};
  Bytes reply = MessageWriter{}
                    .avp16(AvpType::message_type, as_u16(MessageType::icrp))
                    .avp16(AvpType::assigned_session_id, assigned_session_id)
                    .finish(peer_tunnel_id, request.nr, static_cast<std::uint16_t>(request.ns + 1),
                            *request.assigned_session_id);
  if (reply.size() > icrq.size()) return {};
  return reply;
}

Bytes build_iccn(ByteView icrp, std::uint16_t peer_tunnel_id) {
  Message reply;
  if (!parses_as(icrp, MessageType::icrp, reply) || reply.assigned_session_id.value_or(0) == 0) return {};
  return MessageWriter{}
      .avp16(AvpType::message_type, as_u16(MessageType::iccn))
      .avp32(AvpType::tx_connect_speed, kConnectSpeed)
      .avp32(AvpType::framing_type, kFramingTypeSync)
      .finish(peer_tunnel_id, reply.nr, static_cast<std::uint16_t>(reply.ns + 1), *reply.assigned_session_id);
}

bool is_icrp_reply_to(ByteView reply, ByteView icrq) {
  Message rep;
  Message req;
  return parses_as(reply, MessageType::icrp, rep) && parses_as(icrq, MessageType::icrq, req) &&
         req.assigned_session_id && rep.session_id == *req.assigned_session_id && rep.ns == req.nr &&
         rep.nr == static_cast<std::uint16_t>(req.ns + 1) && rep.assigned_session_id.value_or(0) != 0;
}

bool is_sccrp_reply_to(ByteView reply, ByteView sccrq) {
  Message rep;
  Message req;
  return parses_as(reply, MessageType::sccrp, rep) && parses_as(sccrq, MessageType::sccrq, req) &&
         req.assigned_tunnel_id && rep.tunnel_id == *req.assigned_tunnel_id && rep.ns == 0 &&
         rep.nr == 1 && rep.assigned_tunnel_id.value_or(0) != 0 && rep.host_name && req.host_name &&
         *rep.host_name == *req.host_name;
}

bool is_zlb_ack_for(ByteView reply, ByteView message) {
  auto rep = parse(reply);
  auto msg = parse(message);
  return rep && msg && rep->zlb && !msg->zlb && rep->nr == static_cast<std::uint16_t>(msg->ns + 1);
}

namespace {

constexpr std::array<std::uint8_t, kPppHeaderSize> kPppIpv4{0xFF, 0x03, 0x00, 0x21};
constexpr ip::Ipv4Address kPingSource{10, 0, 0, 2};
constexpr ip::Ipv4Address kPingDestination{10, 0, 0, 1};
constexpr std::uint8_t kIcmpProtocol = 1;
constexpr std::uint8_t kIcmpEchoRequest = 8;
constexpr std::size_t kIcmpHeaderSize = 8;

}  // namespace

Bytes build_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, const RandomFill& rnd) {
  if (size < kDataMinSize || size > kMaxUdpPayload || sequence >= 0xffff) return {};
  // ICMP echo request: type, code, checksum, identifier (random, as ping's
  // is its own), sequence, then the echo data: token, random.
  Bytes icmp(size - kDataHeaderSize - kPppHeaderSize - ip::kIpv4HeaderSize);
  rnd(icmp);
  std::array<std::uint8_t, 2> ip_id{};
  rnd(ip_id);
  icmp[0] = kIcmpEchoRequest;
  icmp[1] = 0;
  icmp[2] = icmp[3] = 0;
  const auto ping_sequence = static_cast<std::uint16_t>(sequence + 1);
  icmp[6] = static_cast<std::uint8_t>(ping_sequence >> 8);
  icmp[7] = static_cast<std::uint8_t>(ping_sequence);
  const auto encoded = token.encode();
  std::copy(encoded.begin(), encoded.end(), icmp.begin() + kIcmpHeaderSize);
  const std::uint16_t sum = ip::ipv4_checksum(icmp);
  icmp[2] = static_cast<std::uint8_t>(sum >> 8);
  icmp[3] = static_cast<std::uint8_t>(sum);
  const Bytes ping = ip::ipv4_datagram(kPingSource, kPingDestination, kIcmpProtocol, icmp,
                                       static_cast<std::uint16_t>((ip_id[0] << 8) | ip_id[1]));
  ByteWriter w;
  w.be16(kDataFlags).be16(reflector_tunnel_id(token)).be16(data_session_id(token)).bytes(kPppIpv4).bytes(ping);
  return w.take();
}

std::optional<DataPacket> parse_data(ByteView datagram) {
  if (datagram.size() > kMaxUdpPayload) return std::nullopt;
  ByteReader r(datagram);
  auto flags = r.be16();
  if (!flags || (*flags & 0x8000) != 0 || (*flags & kDataReservedMask) != 0 || (*flags & 0x000F) != 2)
    return std::nullopt;
  if ((*flags & kDataFlagLength) != 0) {
    auto length = r.be16();
    if (!length || *length != datagram.size()) return std::nullopt;
  }
  auto tunnel = r.be16();
  auto session = r.be16();
  if ((*flags & kDataFlagSequence) != 0 && !r.skip(4)) return std::nullopt;
  if ((*flags & kDataFlagOffset) != 0) {
    auto offset = r.be16();
    if (!offset || !r.skip(*offset)) return std::nullopt;
  }
  auto ppp = r.take(kPppHeaderSize);
  if (!ppp || !std::equal(ppp->begin(), ppp->end(), kPppIpv4.begin())) return std::nullopt;
  auto ipv4 = ip::parse_ipv4(datagram.subspan(r.position()));
  if (!ipv4 || !ipv4->checksum_valid || ipv4->is_fragment() || ipv4->protocol != kIcmpProtocol) return std::nullopt;
  const ByteView icmp = ipv4->payload;
  if (icmp.size() < kIcmpHeaderSize + kProbeTokenSize || icmp[0] != kIcmpEchoRequest || icmp[1] != 0 ||
      ip::ipv4_checksum(icmp) != 0)
    return std::nullopt;
  const auto ping_sequence = static_cast<std::uint16_t>((icmp[6] << 8) | icmp[7]);
  auto token = ProbeToken::decode(icmp.subspan(kIcmpHeaderSize));
  if (ping_sequence == 0 || !token || *tunnel != reflector_tunnel_id(*token) || *session != data_session_id(*token))
    return std::nullopt;
  return DataPacket{*token, ping_sequence - 1U};
}

std::vector<std::string> advice_mtu(int path_mtu) {
  const auto mtu = std::to_string(path_mtu - kDataOverheadV4);
  return {"L2TP: mtu " + mtu + " and mru " + mtu + " in the pppd options of both ends (xl2tpd: the file its "
         "'pppoptfile' names; the path MTU " + std::to_string(path_mtu) + " less " +
         std::to_string(kDataOverheadV4) + " bytes of IPv4, UDP, L2TP and PPP headers)"};
}

}  // namespace vpncheck::probes::l2tp
