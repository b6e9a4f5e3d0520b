#include "probes/pptp_module.h"

#include <array>
#include <string>

#include "probes/gre.h"
#include "probes/ipv6.h"
#include "probes/observation.h"
#include "probes/pptp.h"
#include "probes/pptp_client.h"
#include "probes/pptp_server.h"

namespace vpncheck::probes::pptp {
namespace {

constexpr std::size_t kIpv4HeaderSize = 20;

constexpr std::array kVariants{
    ProbeVariant{Transport::tcp, kControlPort, true, kPieceControl},
    ProbeVariant{Transport::ip, gre::kIpProtocol, true, kPieceGre},
};

std::uint16_t ipv4_checksum(ByteView header) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < header.size(); i += 2) sum += static_cast<std::uint32_t>(header[i] << 8 | header[i + 1]);
  while (sum >> 16) sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// One whole control message (nothing before or after it).
std::optional<Message> whole_message(ByteView bytes) {
  auto result = parse(bytes);
  if (result.status != ParseStatus::complete || result.size != bytes.size()) return std::nullopt;
  return std::move(result.message);
}

std::string yes_no(bool b) { return b ? "true" : "false"; }

std::optional<ParsedRequest> parse_control(ByteView payload, const ArrivalContext& arrival) {
  auto message = whole_message(payload);
  if (!message) return std::nullopt;
  ParsedRequest parsed;
  parsed.piece = kPieceControl;
  parsed.fields = describe(*message);
  parsed.fields["piece"] = std::string(kPieceControl);
  switch (static_cast<MessageType>(message->type)) {
    case MessageType::start_control_connection_request:
      if (!message->token) return std::nullopt;
      parsed.token = *message->token;
      // Set-Link-Info and StopCCRQ carry no tag: they belong to this connection.
      parsed.opens_flow = true;
      return parsed;
    case MessageType::outgoing_call_request: {
      if (!message->token || !message->original_call_id) return std::nullopt;
      parsed.token = *message->token;
      const bool rewritten = message->call_id != *message->original_call_id;
      parsed.fields[std::string(kFieldCallIdRewritten)] = yes_no(rewritten);
      if (arrival.transport == Transport::tcp) {
        parsed.fields[std::string(kFieldSourcePort)] = std::to_string(arrival.source.port);
        // nf_nat_pptp replaces the PNS Call ID by the NATed TCP source port (PROTOCOLS.md §2.4).
        parsed.fields[std::string(kFieldLinuxHelper)] = yes_no(rewritten && message->call_id == arrival.source.port);
      }
      return parsed;
    }
    case MessageType::stop_control_connection_request:
    case MessageType::set_link_info:
      if (!arrival.flow_token) return std::nullopt;
      parsed.token = *arrival.flow_token;
      return parsed;
    default:
      return std::nullopt;
  }
}

// The client's Call ID (as its OCRQ arrived) of the call the reflector
// numbered `own_call_id` for this source; nullopt: no such call.
std::optional<std::uint16_t> client_call_id(const ArrivalContext& arrival, std::uint16_t own_call_id) {
  const auto* calls = dynamic_cast<const CallTable*>(arrival.state);
  if (calls == nullptr) return std::nullopt;
  auto call = calls->find(arrival.source.address, own_call_id, arrival.now_ms);
  if (!call) return std::nullopt;
  return call->client_call_id;
}

// The OCRP for `ocrq`, with a Call ID no live call from this client address
// has (two clients behind one NAT would otherwise share GRE keying), entered
// in the call table.
Bytes answer_ocrq(ByteView ocrq, const Message& message, const ParsedRequest& parsed, const ArrivalContext& arrival,
                  std::uint16_t own) {
  auto* calls = dynamic_cast<CallTable*>(arrival.state);
  if (calls == nullptr) return build_ocrp(ocrq, own);
  for (int tries = 0; tries < 64 && !calls->available(arrival.source.address, own, arrival.now_ms); ++tries)
    own = own == 0xffff ? 1 : static_cast<std::uint16_t>(own + 1);
  Bytes ocrp = build_ocrp(ocrq, own);
  if (ocrp.empty()) return ocrp;
  auto forgotten = calls->add(arrival.source.address, own,
                              CallTable::Call{parsed.token, message.call_id, arrival.now_ms, arrival.source.port},
                              arrival.now_ms);
  if (forgotten && arrival.evicted != nullptr) arrival.evicted->push_back(forgotten->token);
  return ocrp;
}

std::optional<ParsedRequest> parse_gre(ByteView datagram, const ArrivalContext& arrival) {
  auto payload = ip_payload(datagram, gre::kIpProtocol);
  if (!payload) return std::nullopt;
  auto probe = gre::parse_probe(*payload);
  if (!probe) return std::nullopt;
  ParsedRequest parsed;
  parsed.token = probe->token;
  parsed.piece = kPieceGre;
  parsed.fields = gre::describe(*probe);
  parsed.fields["piece"] = std::string(kPieceGre);
  std::optional<std::uint16_t> peer = client_call_id(arrival, probe->gre.header.call_id);
  parsed.fields[std::string(kFieldCallKnown)] = yes_no(peer.has_value());
  if (peer) parsed.fields[std::string(kFieldAnsweredCallId)] = std::to_string(*peer);
  return parsed;
}

Bytes module_build(const ProbeContext& context, const RandomFill& /*rnd*/) {
  if (context.variant.piece == kPieceGre)
    // Alone, the module knows no control connection: Call ID 0. The PPTP
    // exchange keys the real probe to the OCRP's Call ID (build_gre_datagram).
    return build_gre_datagram(context.token, 0, context.local, context.remote);
  return build_sccrq(context.token);
}

std::optional<ParsedRequest> module_parse(ByteView payload, const ArrivalContext& arrival) {
  if (auto control = parse_control(payload, arrival)) return control;
  return parse_gre(payload, arrival);
}

Bytes module_reply(ByteView request, const ParsedRequest& parsed, const ArrivalContext& arrival,
                   const RandomFill& rnd) {
  if (parsed.piece == kPieceGre) {
    auto payload = ip_payload(request, gre::kIpProtocol);
    auto probe = payload ? gre::parse_probe(*payload) : std::nullopt;
    if (!probe) return {};
    auto peer = client_call_id(arrival, probe->gre.header.call_id);
    if (!peer) return {};  // no call of ours: nothing to answer to
    Bytes gre_reply = gre::build_reply(*payload, *peer);
    if (gre_reply.empty()) return {};
    // From the address the probe was sent to, back to where it came from.
    return ip_datagram(arrival.destination.address, arrival.source.address, gre::kIpProtocol, gre_reply);
  }
  auto message = whole_message(request);
  if (!message) return {};
  switch (static_cast<MessageType>(message->type)) {
    case MessageType::start_control_connection_request: return build_sccrp(request);
    case MessageType::outgoing_call_request: return answer_ocrq(request, *message, parsed, arrival, random_call_id(rnd));
    case MessageType::stop_control_connection_request:
      if (auto* calls = dynamic_cast<CallTable*>(arrival.state))
        calls->end_control(arrival.source.address, arrival.source.port);
      return build_stop_ccrp(request);
    default: return {};  // Set-Link-Info has no reply
  }
}

bool module_is_reply_to(ByteView reply, ByteView request) {
  if (auto message = whole_message(request)) {
    switch (static_cast<MessageType>(message->type)) {
      case MessageType::start_control_connection_request: return is_sccrp_reply_to(reply, request);
      case MessageType::outgoing_call_request: return is_ocrp_reply_to(reply, request);
      case MessageType::stop_control_connection_request: return is_stop_ccrp_reply_to(reply, request);
      default: return false;
    }
  }
  // GRE: the module does not know which Call ID is ours (the PPTP exchange
  // checks it with is_gre_reply_datagram); any answer keyed to a Call ID.
  auto payload = ip_payload(reply, gre::kIpProtocol);
  auto packet = payload ? gre::parse(*payload) : std::nullopt;
  return packet && is_gre_reply_datagram(reply, request, packet->header.call_id);
}

std::string advice_use_variant(const ProbeVariant& variant) {
  if (variant.transport == Transport::ip)
    return "PPTP needs GRE (IP protocol " + std::to_string(variant.port) +
           ") both ways: allow it and turn on \"PPTP passthrough\" in the router.";
  return "PPTP needs its control connection on TCP " + std::to_string(variant.port) +
         ": allow outgoing TCP " + std::to_string(variant.port) + ".";
}

}  // namespace

Bytes ipv4_datagram(ByteView source, ByteView destination, std::uint8_t protocol, ByteView payload,
                    std::uint8_t ttl) {
  if (source.size() != 4 || destination.size() != 4 || payload.size() > 0xffff - kIpv4HeaderSize) return {};
  ByteWriter w;
  w.u8(0x45)
      .u8(0)
      .be16(static_cast<std::uint16_t>(kIpv4HeaderSize + payload.size()))
      .be16(0)  // identification: the kernel fills it in (IP_HDRINCL)
      .be16(0)  // flags, fragment offset
      .u8(ttl)
      .u8(protocol)
      .be16(0)  // checksum, below
      .bytes(source)
      .bytes(destination);
  Bytes out = w.take();
  std::uint16_t sum = ipv4_checksum(out);
  out[10] = static_cast<std::uint8_t>(sum >> 8);
  out[11] = static_cast<std::uint8_t>(sum);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::optional<ByteView> ipv4_payload(ByteView d, std::uint8_t protocol) {
  if (d.size() < kIpv4HeaderSize || (d[0] >> 4) != 4) return std::nullopt;
  const std::size_t header = std::size_t{d[0] & 0x0fU} * 4;
  const std::size_t total = std::size_t{d[2]} << 8 | d[3];
  const bool fragment = (d[6] & 0x20U) != 0 || ((d[6] & 0x1fU) << 8 | d[7]) != 0;
  if (header < kIpv4HeaderSize || header > d.size() || total != d.size() || d[9] != protocol || fragment)
    return std::nullopt;
  return d.subspan(header);
}

Bytes ip_datagram(ByteView source, ByteView destination, std::uint8_t protocol, ByteView payload) {
  auto src6 = ip6::address_from(source);
  auto dst6 = ip6::address_from(destination);
  if (src6 && dst6) return ip6::datagram(*src6, *dst6, protocol, 64, 0, payload);
  return ipv4_datagram(source, destination, protocol, payload);
}

std::optional<ByteView> ip_payload(ByteView d, std::uint8_t protocol) {
  if (!ip6::looks_like_ipv6(d)) return ipv4_payload(d, protocol);
  auto ip = ip6::parse(d);
  if (!ip || ip->next_header != protocol) return std::nullopt;
  return ip->payload;
}

Bytes build_gre_datagram(const ProbeToken& token, std::uint16_t peer_call_id, const IpPort& local,
                         const IpPort& remote) {
  return ip_datagram(local.address, remote.address, gre::kIpProtocol, gre::build_probe(token, peer_call_id));
}

bool is_gre_reply_datagram(ByteView reply, ByteView request, std::uint16_t own_call_id) {
  auto got = ip_payload(reply, gre::kIpProtocol);
  auto sent = ip_payload(request, gre::kIpProtocol);
  return got && sent && gre::is_reply_to(*got, *sent, own_call_id);
}

const ProtocolModule kModule{
    .id = "pptp",
    .title = "PPTP",
    .description = "control connection on TCP 1723 (SCCRQ/OCRQ) then enhanced GRE both ways keyed to the Call IDs",
    .variants = kVariants,
    .build_request = module_build,
    .parse_request = module_parse,
    .build_reply = module_reply,
    .is_reply_to = module_is_reply_to,
    .frame_stream = nullptr,  // PPTP frames itself (its Length field); see the top of pptp_module.h
    .advice_use_variant = advice_use_variant,
    .advice_signature_blocked =
        "PPTP's control messages carry a fixed magic cookie that DPI matches on any port, and PPTP cannot be "
        "disguised; use WireGuard, OpenVPN or IKEv2 instead (PPTP's security is broken anyway).",
    .client_conversation = start_client,
    .server_stream = &kServerStream,
    .make_server_state = make_call_table,
    .state_limit = limit_kind::kPptpCalls,
};

}  // namespace vpncheck::probes::pptp
