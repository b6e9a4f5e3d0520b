#include "probes/pptp_module.h"

#include <array>
#include <string>

#include "probes/gre.h"
#include "probes/ip.h"
#include "probes/observation.h"
#include "probes/pptp.h"
#include "probes/pptp_client.h"
#include "probes/pptp_server.h"

namespace vpncheck::probes::pptp {
namespace {

constexpr std::array kVariants{
    ProbeVariant{Transport::tcp, kControlPort, true, kPieceControl},
    ProbeVariant{Transport::ip, gre::kIpProtocol, true, kPieceGre},
};

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
  auto payload = ip::payload(datagram, gre::kIpProtocol);
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
    auto payload = ip::payload(request, gre::kIpProtocol);
    auto probe = payload ? gre::parse_probe(*payload) : std::nullopt;
    if (!probe) return {};
    auto peer = client_call_id(arrival, probe->gre.header.call_id);
    if (!peer) return {};  // no call of ours: nothing to answer to
    Bytes gre_reply = gre::build_reply(*payload, *peer);
    if (gre_reply.empty()) return {};
    // From the address the probe was sent to, back to where it came from.
    return ip::datagram(arrival.destination.address, arrival.source.address, gre::kIpProtocol, gre_reply);
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
  auto payload = ip::payload(reply, gre::kIpProtocol);
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

// The Call ID the echo of a data packet goes to: the client's, of the call
// the packet is keyed to (the reflector's own Call ID for this client).
std::optional<std::uint32_t> echo_call_id(const DataPacket& packet, const ArrivalContext& arrival) {
  if (packet.flow_key > 0xffff) return std::nullopt;
  return client_call_id(arrival, static_cast<std::uint16_t>(packet.flow_key));
}

std::vector<std::string> advice_mtu(int path_mtu) {
  const auto mtu = std::to_string(path_mtu - gre::kDataOverheadV4);
  return {"PPTP: mtu " + mtu + " and mru " + mtu + " in the pppd options of both ends (Windows: the VPN "
          "connection's interface MTU; the path MTU " + std::to_string(path_mtu) + " less " +
          std::to_string(gre::kDataOverheadV4) + " bytes of IPv4, GRE, PPP and MPPE headers)"};
}

// After GRE's first packet is answered, the call's data: MPPE-encrypted PPP
// in GRE (gre.h), both ways, keyed to the Call IDs the control connection
// negotiated. DF: Linux's PPTP driver sets it by the socket's path-MTU
// discovery (drivers/net/ppp/pptp.c, pptp_xmit: ip_dont_fragment), and the
// userspace client's raw GRE socket (pptp-linux, pptp_gre.c) keeps the
// system default, which sets it too: nothing fragments a full-size packet.
// There is no UDP place: the data follows the raw GRE piece only.
constexpr DataPhase kDataPhase{
    .piece = "",
    .small_payload = gre::kDataSmallSize,
    .ip_piece = kPieceGre,
    .full_ip_payload_v4 = gre::kDataFullSize,
    .full_ip_payload_v6 = gre::kDataFullSize,
    .df = DontFragment::system_default,
    .build = gre::build_data,
    .parse = gre::parse_data,
    .echo_flow_key = echo_call_id,
    .advice_mtu = advice_mtu,
    .full_size_words = "PPTP's full-size data packets (MTU 1400 inside: 1440 bytes on the wire over IPv4)",
};

}  // namespace

Bytes build_gre_datagram(const ProbeToken& token, std::uint16_t peer_call_id, const IpPort& local,
                         const IpPort& remote) {
  return ip::datagram(local.address, remote.address, gre::kIpProtocol, gre::build_probe(token, peer_call_id));
}

bool is_gre_reply_datagram(ByteView reply, ByteView request, std::uint16_t own_call_id) {
  auto got = ip::payload(reply, gre::kIpProtocol);
  auto sent = ip::payload(request, gre::kIpProtocol);
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
    .advice_use_variant = advice_use_variant,
    .advice_signature_blocked =
        "PPTP's control messages carry a fixed magic cookie that DPI matches on any port, and PPTP cannot be "
        "disguised; use WireGuard, OpenVPN or IKEv2 instead (PPTP's security is broken anyway).",
    .assess = assess,
    .client_conversation = start_client,
    .server_stream = &kServerStream,
    .make_server_state = make_call_table,
    .state_limit = limit_kind::kPptpCalls,
    .state_limit_detail =
        "PPTP calls forgotten: the reflector's call table was full, so their GRE may have gone unanswered",
    .data_phase = &kDataPhase,
};

}  // namespace vpncheck::probes::pptp
