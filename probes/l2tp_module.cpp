// The L2TP probe module: the control-connection exchange of RFC 2661 §5.1
// (PROTOCOLS.md §3.3) on UDP 1701, over the pure codec in probes/l2tp.cpp.
#include <array>

#include "probes/crypto.h"
#include "probes/l2tp.h"

namespace vpncheck::probes::l2tp {
namespace {

constexpr std::array<ProbeVariant, 1> kVariants{{{Transport::udp, kPort, true}}};

constexpr std::uint16_t as_u16(MessageType t) { return static_cast<std::uint16_t>(t); }

// A non-zero 16-bit id from `label` and the token: stable for a probe,
// different between probes and between the two ends.
std::uint16_t derive_id(std::string_view label, const ProbeToken& token) {
  ByteWriter input;
  input.bytes(as_bytes(label)).bytes(token.encode());
  auto digest = sha256(input.view());
  auto id = static_cast<std::uint16_t>((digest[0] << 8) | digest[1]);
  return id == 0 ? std::uint16_t{1} : id;
}

bool is_type(const Message& m, MessageType type) { return m.message_type == as_u16(type); }

Bytes module_build(const ProbeContext& context, const RandomFill& /*rnd*/) {
  return build_sccrq(context.token, client_tunnel_id(context.token));
}

// The Assigned Session ID our ICRQ carries for `token`; never 0.
std::uint16_t client_session_id(const ProbeToken& token) { return derive_id("vpncheck l2tp client session", token); }

// The first call of the tunnel.
constexpr std::uint32_t kCallSerialNumber = 1;

// Messages that follow an SCCRQ on its flow, and the Session ID their header
// must carry: tunnel-level ones 0; the ICCN the session the reflector assigned.
bool follows_sccrq(const Message& m, const ProbeToken& token) {
  if (is_type(m, MessageType::iccn)) return m.session_id == data_session_id(token);
  return m.session_id == 0 && (is_type(m, MessageType::scccn) || is_type(m, MessageType::stop_ccn) ||
                               (is_type(m, MessageType::icrq) && m.assigned_session_id.value_or(0) != 0));
}

// SCCRQ: tagged, to tunnel 0 (RFC 2661 §5.1: the peer has no tunnel id yet).
// SCCCN, ICRQ, ICCN (and StopCCN): only as follow-ups of a flow an SCCRQ
// opened, addressed to the tunnel the reflector assigned for that flow's token.
std::optional<ParsedRequest> module_parse(ByteView payload, const ArrivalContext& arrival) {
  auto m = parse(payload);
  if (!m || m->zlb) return std::nullopt;
  ParsedRequest out;
  if (is_type(*m, MessageType::sccrq)) {
    if (m->session_id != 0 || m->tunnel_id != 0 || !m->token || m->assigned_tunnel_id.value_or(0) == 0)
      return std::nullopt;
    out.token = *m->token;
    out.opens_flow = true;
  } else if (arrival.flow_token && m->tunnel_id == reflector_tunnel_id(*arrival.flow_token) &&
             follows_sccrq(*m, *arrival.flow_token)) {
    out.token = *arrival.flow_token;
  } else {
    return std::nullopt;
  }
  out.fields = describe(*m);
  return out;
}

// SCCRP to an SCCRQ; ICRP to an ICRQ, with the session the data messages
// use; a ZLB acknowledgement to SCCCN, ICCN and StopCCN, addressed to the
// client's tunnel (StopCCN names it; the others do not, so it is derived).
Bytes module_reply(ByteView request, const ParsedRequest& parsed, const ArrivalContext& /*arrival*/,
                   const RandomFill& /*rnd*/) {
  auto m = parse(request);
  if (!m || m->zlb) return {};
  if (is_type(*m, MessageType::sccrq)) return build_sccrp(request, reflector_tunnel_id(parsed.token));
  if (is_type(*m, MessageType::icrq))
    return build_icrp(request, client_tunnel_id(parsed.token), data_session_id(parsed.token));
  if (is_type(*m, MessageType::scccn) || is_type(*m, MessageType::iccn) || is_type(*m, MessageType::stop_ccn))
    return build_zlb_ack(request, m->assigned_tunnel_id.value_or(client_tunnel_id(parsed.token)));
  return {};
}

// The answer each of our messages needs: SCCRP to the SCCRQ, ICRP to the
// ICRQ; to SCCCN, ICCN and StopCCN a ZLB acknowledging it whose Ns is the
// one our message expected.
bool module_is_reply_to(ByteView reply, ByteView request) {
  auto req = parse(request);
  if (!req || req->zlb) return false;
  if (is_type(*req, MessageType::sccrq)) return is_sccrp_reply_to(reply, request);
  if (is_type(*req, MessageType::icrq)) return is_icrp_reply_to(reply, request);
  if (!is_type(*req, MessageType::scccn) && !is_type(*req, MessageType::iccn) &&
      !is_type(*req, MessageType::stop_ccn))
    return false;
  auto rep = parse(reply);
  if (!rep || !is_zlb_ack_for(reply, request) || rep->ns != req->nr) return false;
  return !req->assigned_tunnel_id || rep->tunnel_id == *req->assigned_tunnel_id;
}

// After the SCCRP (step 0): SCCCN. After its ZLB (step 1): ICRQ (Ns 2, Nr 1:
// ZLBs take no sequence number), which opens the session the data phase's
// messages travel in, as a client's call does (RFC 2661 §5.2). After the
// ICRP (step 2): ICCN. After its ZLB: done, with the tunnel and its session
// up: the data phase follows on the same socket, and no StopCCN comes before
// it, since a box that follows L2TP's control messages may stop the data of
// a tunnel that was closed.
std::optional<Bytes> module_next(const ProbeContext& context, std::size_t step, ByteView last_request,
                                 ByteView last_reply, const RandomFill& /*rnd*/) {
  if (step == 0) {
    Bytes scccn = build_scccn(last_reply);
    if (scccn.empty()) return std::nullopt;
    return scccn;
  }
  auto previous = parse(last_request);
  if (!previous) return std::nullopt;
  if (step == 1 && is_type(*previous, MessageType::scccn))
    return build_icrq(previous->tunnel_id, client_session_id(context.token), kCallSerialNumber, 2, 1);
  if (step == 2 && is_type(*previous, MessageType::icrq)) {
    Bytes iccn = build_iccn(last_reply, previous->tunnel_id);
    if (iccn.empty()) return std::nullopt;
    return iccn;
  }
  return std::nullopt;
}

std::string advice_use_variant(const ProbeVariant& variant) {
  auto port = std::to_string(variant.port);
  return "Run the L2TP server on UDP " + port + " (xl2tpd: 'port = " + port +
         "' in [global]) and point the client at that port.";
}

}  // namespace

std::uint16_t client_tunnel_id(const ProbeToken& token) { return derive_id("vpncheck l2tp client", token); }

std::uint16_t reflector_tunnel_id(const ProbeToken& token) {
  auto id = derive_id("vpncheck l2tp reflector", token);
  return id == client_tunnel_id(token) ? static_cast<std::uint16_t>(id ^ 0x8000) : id;
}

std::uint16_t data_session_id(const ProbeToken& token) { return derive_id("vpncheck l2tp session", token); }

namespace {

// DF: the kernel data path (xl2tpd uses it where the l2tp_ppp module
// exists, network.c) marks its packets ignore_df before ip_queue_xmit
// (net/l2tp/l2tp_core.c, l2tp_xmit_queue), and __ip_queue_xmit
// (net/ipv4/ip_output.c) leaves DF clear on those: routers, and the sender
// itself, fragment full-size packets. (xl2tpd's userspace data path keeps
// its socket at the system default instead.) The data phase follows the
// control exchange on the same socket, in the session its ICRQ opened.
constexpr DataPhase kDataPhase{
    .piece = "",
    .small_payload = kDataSmallSize,
    .full_payload_v4 = kDataFullSize,
    .full_payload_v6 = kDataFullSize,
    .df = DontFragment::clear,
    .build = unkeyed_data<build_data>,
    .parse = parse_data,
    .advice_mtu = advice_mtu,
    .full_size_words = "L2TP's full-size data packets (PPP's default MTU 1500 inside: 1538 bytes over IPv4, "
                       "which leave a 1500-byte link as fragments)",
};

}  // namespace

const ProtocolModule kModule{
    .id = "l2tp",
    .title = "L2TP",
    .description = "control connection and a call on UDP 1701: SCCRQ/SCCRP, SCCCN/ZLB, ICRQ/ICRP, ICCN/ZLB (tag in "
                   "Host Name)",
    .variants = kVariants,
    .build_request = module_build,
    .parse_request = module_parse,
    .build_reply = module_reply,
    .is_reply_to = module_is_reply_to,
    .advice_use_variant = advice_use_variant,
    .advice_signature_blocked =
        "L2TP's control header is cleartext and easy to match; carry it inside IPsec (L2TP/IPsec, as the "
        "built-in Windows and macOS clients do), where only IKE and ESP/NAT-T are visible, or use WireGuard "
        "or OpenVPN.",
    .inspect_reply = nullptr,
    .next_request = module_next,
    .assess = assess,
    .data_phase = &kDataPhase,
};

}  // namespace vpncheck::probes::l2tp
