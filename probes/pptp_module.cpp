#include "probes/pptp_module.h"

#include <array>
#include <string>

#include "probes/gre.h"
#include "probes/ip.h"
#include "probes/pptp.h"

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
  std::optional<std::uint16_t> peer;
  if (arrival.peer_call_id) peer = arrival.peer_call_id(probe->gre.header.call_id);
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

std::uint16_t random_call_id(const RandomFill& rnd) {
  std::array<std::uint8_t, 2> b{};
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (rnd) rnd(b);
    auto id = static_cast<std::uint16_t>(b[0] << 8 | b[1]);
    if (id != 0) return id;
  }
  return 1;
}

Bytes module_reply(ByteView request, const ParsedRequest& parsed, const ArrivalContext& arrival,
                   const RandomFill& rnd) {
  if (parsed.piece == kPieceGre) {
    auto payload = ip::payload(request, gre::kIpProtocol);
    auto probe = payload ? gre::parse_probe(*payload) : std::nullopt;
    if (!probe || !arrival.peer_call_id) return {};
    auto client_call_id = arrival.peer_call_id(probe->gre.header.call_id);
    if (!client_call_id) return {};  // no call of ours: nothing to answer to
    Bytes gre_reply = gre::build_reply(*payload, *client_call_id);
    if (gre_reply.empty()) return {};
    // From the address the probe was sent to, back to where it came from.
    return ip::datagram(arrival.destination.address, arrival.source.address, gre::kIpProtocol, gre_reply);
  }
  auto message = whole_message(request);
  if (!message) return {};
  switch (static_cast<MessageType>(message->type)) {
    case MessageType::start_control_connection_request: return build_sccrp(request);
    case MessageType::outgoing_call_request: return build_ocrp(request, random_call_id(rnd));
    case MessageType::stop_control_connection_request: return build_stop_ccrp(request);
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
};

}  // namespace vpncheck::probes::pptp
