#include "probes/ipsec.h"

#include <algorithm>
#include <array>
#include <string>

#include "probes/ike.h"
#include "probes/ip.h"
#include "probes/ipsec_esp.h"

namespace vpncheck::probes::ipsec {
namespace {

constexpr std::uint8_t kTtl = 64;

// Listed in the order the client plans them; the first is what callers
// without a piece (default_context) get.
constexpr std::array kVariants{
    ProbeVariant{Transport::udp, ike::kPortIke, true, kPieceIkev2, ike::kPortIke},
    ProbeVariant{Transport::udp, ike::kPortIke, true, kPieceIkev1},
    ProbeVariant{Transport::udp, ike::kPortNatT, true, kPieceNatT},
    ProbeVariant{Transport::ip, ip::kEsp, true, kPieceEsp},
    ProbeVariant{Transport::ip, ip::kAh, true, kPieceAh},
    ProbeVariant{Transport::udp, ike::kPortIke, true, kPieceIkeLarge},
    ProbeVariant{Transport::tcp, ike::kPortNatT, false, kPieceIkeTcp, 0, &ike::kTcpFraming},
};

constexpr std::uint8_t kKeepalive = 0xff;

std::string yes_no(bool b) { return b ? "yes" : "no"; }

std::string join_hex(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& h : list) out += (out.empty() ? "" : ",") + h;
  return out;
}

// Before the socket is connected the client does not know its own address;
// the request is built with zeros of the right family (same size, so the
// control probe's size is right) and rebuilt once the address is known.
IpPort usable(const IpPort& endpoint, std::size_t family_size) {
  if (endpoint.address.size() == 4 || endpoint.address.size() == 16) return endpoint;
  return IpPort{Bytes(family_size == 16 ? 16 : 4, 0), endpoint.port};
}

ip6::Address v6(const IpPort& endpoint) {
  return ip6::address_from(endpoint.address).value_or(ip6::Address{});
}

ip::Ipv4Address v4(const IpPort& endpoint) {
  return ip::ipv4_address_from(endpoint.address).value_or(ip::Ipv4Address{});
}

std::uint16_t random_u16(const RandomFill& rnd) {
  std::array<std::uint8_t, 2> b{};
  rnd(b);
  return static_cast<std::uint16_t>(b[0] << 8 | b[1]);
}

// A non-zero responder SPI for the IKE_AUTH-shaped message.
ike::Spi nonzero_spi(const RandomFill& rnd) {
  ike::Spi spi{};
  rnd(spi);
  if (std::all_of(spi.begin(), spi.end(), [](std::uint8_t b) { return b == 0; })) spi[7] = 1;
  return spi;
}

Bytes sa_init_request(const ProbeContext& context, const RandomFill& rnd) {
  IpPort remote = usable(context.remote, context.remote.address.size());
  IpPort local = usable(context.local, remote.address.size());
  return ike::build_sa_init_request(context.token, local, remote, rnd);
}

// ---- client ----

Bytes build_request(const ProbeContext& context, const RandomFill& rnd) {
  const auto piece = context.variant.piece;
  if (piece == kPieceIkev2 || piece.empty()) return sa_init_request(context, rnd);
  if (piece == kPieceIkev1) return ike::build_main_mode_1(context.token);
  // Behind the non-ESP marker on UDP 4500 (RFC 3948 §2.2) and on TCP (RFC 8229 §3).
  if (piece == kPieceNatT || piece == kPieceIkeTcp) return ike::add_non_esp_marker(sa_init_request(context, rnd));
  if (piece == kPieceIkeLarge) return ike::build_ike_auth(context.token, nonzero_spi(rnd), rnd);
  // Raw pieces over IPv6: whole IPv6 datagrams (probes/ip.h), as whole IPv4 ones over IPv4.
  const bool over_ipv6 = context.remote.address.size() == 16;
  if (piece == kPieceEsp && over_ipv6)
    return ip6::datagram(v6(context.local), v6(context.remote), ip::kEsp, kTtl, 0,
                         esp::build_esp(context.token, rnd));
  if (piece == kPieceAh && over_ipv6)
    return esp::build_ah_ipv6_datagram(v6(context.local), v6(context.remote), kTtl, context.token, rnd);
  if (piece == kPieceEsp)
    return ip::ipv4_datagram(v4(context.local), v4(context.remote), ip::kEsp, esp::build_esp(context.token, rnd),
                             random_u16(rnd), kTtl);
  if (piece == kPieceAh)
    return esp::build_ah_ipv4_datagram(v4(context.local), v4(context.remote), random_u16(rnd), kTtl, context.token,
                                       rnd);
  return {};
}

std::optional<Bytes> next_request(const ProbeContext& context, std::size_t step, ByteView /*last_request*/,
                                  ByteView /*last_reply*/, const RandomFill& rnd) {
  if (context.variant.piece != kPieceNatT) return std::nullopt;
  if (step == 0) return esp::build_esp(context.token, rnd);  // ESP-in-UDP, RFC 3948 §2.1
  if (step == 1) return Bytes{kKeepalive};                   // NAT-keepalive, RFC 3948 §2.3
  return std::nullopt;
}

bool is_keepalive(ByteView b) { return b.size() == 1 && b[0] == kKeepalive; }

// The IKE_SA_INIT behind a non-ESP marker (UDP 4500), if that is what `b` is.
// An IKE message on UDP 500 whose SPIi starts with 4 zero bytes looks like a
// marker too; it then fails to parse here and is taken as plain IKE.
std::optional<ByteView> marked_sa_init(ByteView b) {
  auto inner = ike::strip_non_esp_marker(b);
  if (!inner || !ike::parse_sa_init(*inner)) return std::nullopt;
  return inner;
}

bool is_reply_to(ByteView reply, ByteView request) {
  if (is_keepalive(request)) return is_keepalive(reply);
  if (auto ike_request = marked_sa_init(request)) {
    auto ike_reply = ike::strip_non_esp_marker(reply);
    return ike_reply && ike::is_sa_init_response_to(*ike_reply, *ike_request);
  }
  if (ike::parse_sa_init(request)) return ike::is_sa_init_response_to(reply, request);
  if (ike::parse_main_mode(request)) return ike::is_mm2_reply_to(reply, request);
  if (ike::parse_ike_auth(request)) return ike::is_ike_auth_reply_to(reply, request);
  // Raw pieces: whole IPv4 or IPv6 datagrams both ways.
  if (esp::parse_ah_ipv4_datagram(request) || esp::parse_ah_ipv6_datagram(request))
    return esp::is_ah_reply_to(reply, request);
  if (auto sent = ip::payload(request, ip::kEsp); sent && esp::parse_esp(*sent)) {
    auto got = ip::payload(reply, ip::kEsp);
    return got && esp::is_esp_reply_to(*got, *sent);
  }
  return esp::is_esp_reply_to(reply, request);  // ESP-in-UDP
}

// The "ikev2" piece's answer decoded as a real initiator would: is the
// responder's NAT_DETECTION_DESTINATION_IP our own address and port?
Fields inspect_reply(ByteView reply, ByteView /*request*/, const ProbeContext& context) {
  Fields out;
  if (context.variant.piece != kPieceIkev2) return out;
  auto response = ike::parse_sa_init(reply);
  if (!response) return out;
  if (auto check = ike::check_behind_nat(*response, context.local)) {
    out[std::string(field::kBehindNat)] = yes_no(check->nat);
    out[std::string(field::kNatDExpected)] = check->expected_hex;
    out[std::string(field::kNatDReceived)] = join_hex(check->received_hex);
  }
  out[std::string(field::kSourcePort)] = std::to_string(context.local.port);
  out[std::string(field::kSourcePort500)] = context.local.port == ike::kPortIke ? "bound" : "unavailable";
  return out;
}

// ---- reflector ----

std::string spi_hex(std::uint32_t spi) {
  ByteWriter w;
  w.be32(spi);
  return to_hex(w.view());
}

// An IKE message; `piece` set: only the IKE_SA_INIT of that piece (behind the marker).
std::optional<ParsedRequest> parse_ike(ByteView message, const ArrivalContext& arrival, std::string_view piece) {
  if (auto m = ike::parse_sa_init(message)) {
    if (m->is_response() || std::any_of(m->header.spi_r.begin(), m->header.spi_r.end(), [](auto b) { return b; }))
      return std::nullopt;
    auto token = ProbeToken::decode(m->header.spi_i);
    if (!token) return std::nullopt;
    ParsedRequest p{*token, {}, piece.empty() ? kPieceIkev2 : piece};
    p.fields[std::string(field::kMessage)] = "ike_sa_init";
    p.fields[std::string(field::kSpiI)] = to_hex(m->header.spi_i);
    p.fields[std::string(field::kObservedSourcePort)] = std::to_string(arrival.source.port);
    if (auto check = ike::check_source_translated(*m, arrival.source)) {
      p.fields[std::string(field::kSourceTranslated)] = yes_no(check->nat);
      p.fields[std::string(field::kSourceExpected)] = check->expected_hex;
      p.fields[std::string(field::kSourceReceived)] = join_hex(check->received_hex);
    }
    return p;
  }
  if (!piece.empty()) return std::nullopt;  // behind the marker only IKE_SA_INIT is probed
  if (auto m = ike::parse_main_mode(message)) {
    if (!m->is_request()) return std::nullopt;
    auto token = ProbeToken::decode(m->header.spi_i);
    if (!token) return std::nullopt;
    ParsedRequest p{*token, {}, kPieceIkev1};
    p.fields[std::string(field::kMessage)] = "main_mode_1";
    p.fields[std::string(field::kSpiI)] = to_hex(m->header.spi_i);
    p.fields[std::string(field::kNatTVendorId)] = yes_no(m->nat_t_rfc3947);
    p.fields[std::string(field::kObservedSourcePort)] = std::to_string(arrival.source.port);
    return p;
  }
  if (auto m = ike::parse_ike_auth(message)) {
    if (m->is_response()) return std::nullopt;
    auto token = ProbeToken::decode(m->header.spi_i);
    if (!token) return std::nullopt;
    ParsedRequest p{*token, {}, kPieceIkeLarge};
    p.fields[std::string(field::kMessage)] = "ike_auth";
    p.fields[std::string(field::kSpiI)] = to_hex(m->header.spi_i);
    p.fields[std::string(field::kSize)] = std::to_string(message.size());
    return p;
  }
  return std::nullopt;
}

std::optional<ParsedRequest> parse_esp_request(ByteView packet, std::string_view piece, std::string_view message) {
  auto e = esp::parse_esp(packet);
  // Only our own requests: the SPI is derived from the token, so random bytes,
  // other protocols and our replies are never taken for a request.
  if (!e || e->role != esp::Role::request) return std::nullopt;
  ParsedRequest p{e->token, {}, piece};
  p.fields[std::string(field::kMessage)] = std::string(message);
  p.fields[std::string(field::kSpi)] = spi_hex(e->spi);
  p.fields[std::string(field::kSequence)] = std::to_string(e->sequence);
  return p;
}

ParsedRequest ah_request(const ProbeToken& token, std::uint32_t spi, std::uint32_t sequence, bool icv_valid) {
  ParsedRequest p{token, {}, kPieceAh};
  p.fields[std::string(field::kMessage)] = "ah";
  p.fields[std::string(field::kSpi)] = spi_hex(spi);
  p.fields[std::string(field::kSequence)] = std::to_string(sequence);
  p.fields[std::string(field::kIcvValid)] = yes_no(icv_valid);
  return p;
}

std::optional<ParsedRequest> parse_request(ByteView payload, const ArrivalContext& arrival) {
  if (arrival.transport == Transport::ip && ip6::looks_like_ipv6(payload)) {
    auto packet = ip6::parse(payload);
    if (!packet) return std::nullopt;
    if (packet->next_header == ip::kEsp) return parse_esp_request(packet->payload, kPieceEsp, "esp");
    auto ah = esp::parse_ah_ipv6_datagram(payload);
    if (!ah || ah->role != esp::Role::request) return std::nullopt;
    return ah_request(ah->token, ah->spi, ah->sequence, ah->icv_valid);
  }
  if (arrival.transport == Transport::ip) {
    auto packet = ip::parse_ipv4(payload);
    if (!packet) return std::nullopt;
    if (packet->protocol == ip::kEsp) return parse_esp_request(packet->payload, kPieceEsp, "esp");
    if (packet->protocol != ip::kAh) return std::nullopt;
    auto ah = esp::parse_ah_ipv4_datagram(payload);
    if (!ah) ah = esp::parse_ah_translated_datagram(payload);
    if (!ah || ah->role != esp::Role::request) return std::nullopt;
    return ah_request(ah->token, ah->spi, ah->sequence, ah->icv_valid);
  }
  if (arrival.transport == Transport::tcp) {
    // The message inside the RFC 8229 frame: only an IKE_SA_INIT is probed.
    auto inner = marked_sa_init(payload);
    if (!inner) return std::nullopt;
    return parse_ike(*inner, arrival, kPieceIkeTcp);
  }
  if (arrival.transport != Transport::udp) return std::nullopt;
  if (is_keepalive(payload)) {
    // Untagged by nature: it belongs to the NAT-T flow that sent the tagged IKE/ESP.
    if (!arrival.flow_token) return std::nullopt;
    ParsedRequest p{*arrival.flow_token, {}, kPieceNatT};
    p.fields[std::string(field::kMessage)] = "keepalive";
    return p;
  }
  if (auto inner = marked_sa_init(payload)) {
    auto p = parse_ike(*inner, arrival, kPieceNatT);
    if (p) p->opens_flow = true;
    return p;
  }
  if (auto p = parse_ike(payload, arrival, {})) return p;
  auto p = parse_esp_request(payload, kPieceNatT, "esp_in_udp");
  if (p) p->opens_flow = true;
  return p;
}

Bytes build_reply(ByteView request, const ParsedRequest& parsed, const ArrivalContext& arrival,
                  const RandomFill& rnd) {
  if (arrival.transport == Transport::ip && ip6::looks_like_ipv6(request)) {
    auto packet = ip6::parse(request);
    if (!packet) return {};
    // To the observed source, from the address the request was sent to (no NAT66 to undo here,
    // but the listener's view wins over the header as over IPv4).
    auto from = ip6::address_from(arrival.destination.address).value_or(packet->dst);
    auto to = ip6::address_from(arrival.source.address).value_or(packet->src);
    if (parsed.piece == kPieceAh) return esp::build_ah_ipv6_reply(request, from, to, kTtl, rnd);
    if (parsed.piece == kPieceEsp) {
      Bytes inner = esp::build_esp_reply(packet->payload, rnd);
      if (inner.empty()) return {};
      return ip6::datagram(from, to, ip::kEsp, kTtl, 0, inner);
    }
    return {};
  }
  if (arrival.transport == Transport::ip) {
    auto packet = ip::parse_ipv4(request);
    if (!packet) return {};
    // To the observed (post-NAT) source, from the address the request was sent to.
    auto from = ip::ipv4_address_from(arrival.destination.address).value_or(packet->dst);
    auto to = ip::ipv4_address_from(arrival.source.address).value_or(packet->src);
    if (parsed.piece == kPieceAh)
      return esp::parse_ah_translated_datagram(request)
                 ? esp::build_ah_translated_reply(request, from, to, random_u16(rnd), kTtl, rnd)
                 : esp::build_ah_ipv4_reply(request, from, to, random_u16(rnd), kTtl, rnd);
    if (parsed.piece == kPieceEsp) {
      Bytes inner = esp::build_esp_reply(packet->payload, rnd);
      if (inner.empty()) return {};
      return ip::ipv4_datagram(from, to, ip::kEsp, inner, random_u16(rnd), kTtl);
    }
    return {};
  }
  if (arrival.transport == Transport::tcp && !marked_sa_init(request)) return {};
  if (is_keepalive(request)) return Bytes{kKeepalive};
  auto inner = marked_sa_init(request);
  const bool marker = inner.has_value();
  ByteView ike_request = marker ? *inner : request;
  if (auto m = ike::parse_sa_init(ike_request)) {
    IpPort observed = usable(arrival.source, 4);
    IpPort responder = usable(arrival.destination, observed.address.size());
    Bytes reply = ike::build_sa_init_reply(*m, observed, responder, rnd);
    if (reply.empty()) return {};
    return marker ? ike::add_non_esp_marker(reply) : reply;
  }
  if (auto m = ike::parse_main_mode(request)) return ike::build_main_mode_2(*m, rnd);
  if (ike::parse_ike_auth(request)) return ike::build_ike_auth_reply(request, rnd);
  return esp::build_esp_reply(request, rnd);
}

std::string advice_use_variant(const ProbeVariant& variant) {
  const auto piece = variant.piece;
  if (piece == kPieceNatT)
    return "Allow UDP 4500 (IPsec NAT traversal, RFC 3948) in both directions: behind NAT, IKE and ESP move there.";
  if (piece == kPieceEsp)
    return "Allow ESP (IP protocol 50) in both directions, or force UDP encapsulation on UDP 4500 "
           "(strongSwan: encap=yes).";
  if (piece == kPieceAh)
    return "Allow AH (IP protocol 51), or better use ESP: AH cannot cross NAT.";
  if (piece == kPieceIkeTcp)
    // RFC 8229 support, as documented: libreswan's ipsec.conf(5) (enable-tcp,
    // tcp-remoteport, listen-tcp; also Red Hat's "Configuring an IPsec VPN to
    // use TCP"). strongSwan does not implement it (its maintainers, strongswan
    // issue 2186, 2024-2025).
    return "Use IKEv2 over TCP " + std::to_string(variant.port) +
           " (RFC 8229 TCP encapsulation, which carries ESP in the same connection) where both ends support it: "
           "libreswan client enable-tcp=fallback (or yes) and tcp-remoteport=" +
           std::to_string(variant.port) +
           " in the connection, server listen-tcp=yes in config setup. strongSwan does not support TCP "
           "encapsulation.";
  if (piece == kPieceIkeLarge)
    return "Let IP fragments of UDP " + std::to_string(variant.port) +
           " through, or enable IKEv2 fragmentation (RFC 7383), e.g. strongSwan fragmentation=yes.";
  return "Allow IKE on UDP " + std::to_string(variant.port) + " in both directions.";
}

std::vector<std::string> advice_mtu(int path_mtu) {
  const int inner = path_mtu - esp::kEspInUdpOverhead;
  return {"IPsec: keep ESP packets within " + std::to_string(path_mtu) + " bytes: an inner MTU of " +
          std::to_string(inner) + " (the MTU of an XFRM/VTI interface) or TCP MSS clamped to " +
          std::to_string(inner - 40) + " on the tunnel"};
}

// strongSwan's kernel IPsec copies DF from the inner packet to ESP (swanctl.opt
// copy_df = yes; kernel_netlink_ipsec.c sets XFRM_STATE_NOPMTUDISC only for
// copy_df = no), and inner TCP carries DF; its userspace ESP (kernel-libipsec)
// leaves charon's UDP socket at the system default. Either way full-size ESP
// carries DF. The data phase follows the NAT-T piece (ESP-in-UDP on UDP 4500,
// behind NAT) and the raw ESP piece (IP protocol 50, without NAT, RFC 4303
// over IP directly): the same ESP packets, in UDP or as the IP payload.
constexpr DataPhase kDataPhase{
    .piece = kPieceNatT,
    .small_payload = esp::kDataSmallSize,
    .full_payload_v4 = esp::kDataFullSizeV4,
    .full_payload_v6 = esp::kDataFullSizeV6,
    .ip_piece = kPieceEsp,
    .full_ip_payload_v4 = esp::kDataFullIpSizeV4,
    .full_ip_payload_v6 = esp::kDataFullIpSizeV6,
    .df = DontFragment::system_default,
    .build = unkeyed_data<esp::build_esp_data>,
    .parse = esp::parse_esp_data,
    .token_of = esp::esp_data_token,
    .advice_mtu = advice_mtu,
    .full_size_words = "IPsec's full-size ESP packets (filling this host's 1500-byte MTU)",
};

}  // namespace

const ProtocolModule kModule{
    .id = "ipsec",
    .title = "IPsec",
    .description = "IKEv2 IKE_SA_INIT and IKEv1 Main Mode on UDP 500, NAT-T (IKE, ESP-in-UDP, keepalive) on "
                   "UDP 4500, raw ESP and AH, an IP-fragmented IKE_AUTH-sized message, and IKEv2 over TCP 4500 "
                   "(RFC 8229), the fallback when UDP is blocked",
    .variants = kVariants,
    .build_request = build_request,
    .parse_request = parse_request,
    .build_reply = build_reply,
    .is_reply_to = is_reply_to,
    .advice_use_variant = advice_use_variant,
    .advice_signature_blocked =
        "IKE's cleartext header is recognised by DPI on any port, so IPsec cannot be hidden by moving ports; "
        "use a VPN protocol that passes here or one wrapped in TLS.",
    .inspect_reply = inspect_reply,
    .next_request = next_request,
    .assess = assess,
    .data_phase = &kDataPhase,
};

}  // namespace vpncheck::probes::ipsec
