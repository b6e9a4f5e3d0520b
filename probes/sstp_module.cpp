// SSTP as a protocol module: the probe is what a Windows client sends once
// its TLS session is up ([MS-SSTP] §3.2.5.1 ff.): the HTTP request, then, after
// the server's 200, the Call Connect Request; the reflector answers both as
// an SSTP server does (§3.3.5.1), with a Crypto Binding Request nonce of its
// own. TLS itself is the runners' generic part (ProbeVariant::tls).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <string>

#include "probes/sstp.h"

namespace vpncheck::probes::sstp {
namespace {

std::string_view as_text(ByteView bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

// ---- framing: both kinds of message delimit themselves ----

// An SSTP packet starts with its version byte (§2.2.1); an HTTP head with a
// letter (a method or "HTTP/"). Nothing else belongs on an SSTP stream.
bool starts_http_head(std::uint8_t b) { return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'); }

MessageLength message_length(ByteView head) {
  if (head.empty()) return MessageLength::more();
  HeadLength length;
  if (head[0] == kVersion)
    length = packet_length(head);
  else if (starts_http_head(head[0]))
    length = http_head_length(head);
  else
    return MessageLength::bad();
  switch (length.status) {
    case HeadLength::Status::complete: return MessageLength::of(length.length);
    case HeadLength::Status::need_more: return MessageLength::more();
    case HeadLength::Status::invalid: break;
  }
  return MessageLength::bad();
}

// Each message already carries its own length: framing adds nothing.
Bytes frame(ByteView message) { return {message.begin(), message.end()}; }

// §3.2.5.1: a client's stream opens with the SSTP_DUPLEX_POST request line.
Sniff sniff(ByteView head) {
  constexpr std::string_view kStart = "SSTP_DUPLEX_POST ";
  const std::string_view seen = as_text(head.first(std::min(head.size(), kStart.size())));
  if (kStart.substr(0, seen.size()) != seen) return Sniff::not_mine;
  return seen.size() < kStart.size() ? Sniff::need_more : Sniff::mine;
}

// ---- the probe ----

// What a client puts in Host: the server's name; vpncheck knows only its
// address (an IPv6 literal in brackets, RFC 9110 §7.2 / RFC 3986 §3.2.2).
std::string host_of(const IpPort& remote) {
  char text[INET6_ADDRSTRLEN] = {};
  if (remote.address.size() == 4 && inet_ntop(AF_INET, remote.address.data(), text, sizeof text) != nullptr)
    return text;
  if (remote.address.size() == 16 && inet_ntop(AF_INET6, remote.address.data(), text, sizeof text) != nullptr)
    return "[" + std::string(text) + "]";
  return "localhost";
}

Bytes build(const ProbeContext& context, const RandomFill& rnd) {
  return build_http_request(host_of(context.remote), token_guid(context.token, rnd));
}

std::optional<ParsedRequest> parse(ByteView payload, const ArrivalContext& arrival) {
  if (auto request = parse_http_request(payload)) {
    ParsedRequest out{token_of_guid(request->correlation), {}};
    out.fields["message"] = "SSTP_DUPLEX_POST";
    out.fields["correlation_id"] = format_guid(request->correlation);
    // The Call Connect Request that follows has no free byte: it is this
    // stream's, and takes its token from here.
    out.opens_flow = true;
    return out;
  }
  if (is_call_connect_request(payload) && arrival.transport == Transport::tcp && arrival.flow_token) {
    ParsedRequest out{*arrival.flow_token, {}};
    out.fields["message"] = "CALL_CONNECT_REQUEST";
    return out;
  }
  return std::nullopt;
}

Bytes reply(ByteView request, const ParsedRequest& /*parsed*/, const ArrivalContext& /*arrival*/,
            const RandomFill& rnd) {
  if (is_call_connect_request(request)) {
    // §3.3.5.2.1: a fresh nonce per call; SHA-256 is what current servers offer.
    std::array<std::uint8_t, kNonceSize> nonce{};
    rnd(nonce);
    return build_call_connect_ack(kHashSha256, nonce);
  }
  return build_http_response();
}

bool is_reply_to(ByteView answer, ByteView request) {
  if (is_call_connect_request(request)) return parse_call_connect_ack(answer).has_value();
  // The 200 names nothing of the request: on a stream it is the answer to
  // the request just written, which is all a client can check (§3.2.5.1).
  return parse_http_request(request).has_value() && is_http_response_ok(answer);
}

std::optional<Bytes> next(const ProbeContext& /*context*/, std::size_t step, ByteView /*last_request*/,
                          ByteView /*last_reply*/, const RandomFill& /*rnd*/) {
  if (step == 0) return build_call_connect_request();
  return std::nullopt;
}

Fields inspect(ByteView answer, ByteView /*request*/, const ProbeContext& /*context*/) {
  Fields out;
  auto ack = parse_call_connect_ack(answer);
  if (!ack) return out;
  std::string hashes;
  if ((ack->hash_bitmask & kHashSha1) != 0) hashes = "sha1";
  if ((ack->hash_bitmask & kHashSha256) != 0) hashes += hashes.empty() ? "sha256" : ",sha256";
  out["crypto_binding_hashes"] = hashes;
  return out;
}

std::string advice_use_variant(const ProbeVariant& variant) {
  const auto port = std::to_string(variant.port);
  return "Use SSTP on TCP " + port + ": it is what Windows' built-in VPN client uses when only HTTPS gets out "
         "(server: an SSTP server such as Windows RRAS, SoftEther or accel-ppp on port " + port +
         ", with a certificate the clients trust).";
}

constexpr std::array kVariants{
    ProbeVariant{.transport = Transport::tcp, .port = 443, .standard = true, .framing = &kTcpFraming, .tls = true},
};

}  // namespace

const StreamFraming kTcpFraming{
    .name = "sstp",
    .preamble = {},
    .header_size = 0,
    .frame = frame,
    .message_length = message_length,
    .sniff = sniff,
    .messages_per_stream = 2,
};

const ProtocolModule kModule{
    .id = "sstp",
    .title = "SSTP",
    .description = "TLS, then SSTP_DUPLEX_POST and Call Connect Request on TCP 443; reflector answers HTTP 200 "
                   "and Call Connect Ack",
    .variants = kVariants,
    .build_request = build,
    .parse_request = parse,
    .build_reply = reply,
    .is_reply_to = is_reply_to,
    .advice_use_variant = advice_use_variant,
    .advice_signature_blocked =
        "Something on the path looks inside TLS (or at the connection's shape) and blocks SSTP while other TLS "
        "to the same port passes; SSTP is what Windows' built-in client uses when only HTTPS gets out, so try "
        "OpenVPN over TCP 443 with tls-crypt, or ask the network's administrator.",
    .inspect_reply = inspect,
    .next_request = next,
};

}  // namespace vpncheck::probes::sstp
