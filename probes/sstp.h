// SSTP, what client and server say before PPP ([MS-SSTP]): inside TLS, the
// client's HTTP request with the SSTP_DUPLEX_POST verb and the server's 200
// (§4.1 "HTTPS Layer Establishment"), then the SSTP control packets Call
// Connect Request (§2.2.9) and Call Connect Acknowledge (§2.2.10). Nothing here
// knows about TLS: these are the bytes of the decrypted stream.
//
// Where the probe token goes: the only client-chosen bytes before PPP are the
// SSTPCORRELATIONID GUID (§4.1), which Windows makes fresh for every
// connection (a random version-4 GUID, RFC 9562 §5.4). The token fills bytes
// a random GUID leaves free (its version and variant bits stay as a real
// client's), so the request is indistinguishable from one. The Call Connect
// Request has no free byte (every field is fixed by §2.2.9): it belongs to the
// connection its HTTP request opened.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probes/probe.h"

namespace vpncheck::probes::sstp {

// [MS-SSTP] §4.1: the well-known URI, the verb, and ULONGLONG_MAX as the
// length of a body that never ends (the tunnel).
inline constexpr std::string_view kMethod = "SSTP_DUPLEX_POST";
inline constexpr std::string_view kUri = "/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/";
inline constexpr std::string_view kContentLength = "18446744073709551615";
// Bound on an HTTP head either side accepts (sstp-server reads at most 10 KiB;
// a real request is under 250 bytes, a real answer under 150).
inline constexpr std::size_t kMaxHttpHead = 2048;

// §2.2.1: version 1.0; the C bit marks a control packet (§2.2.2) rather than data (§2.2.3).
inline constexpr std::uint8_t kVersion = 0x10;
inline constexpr std::uint8_t kControlBit = 0x01;
inline constexpr std::size_t kPacketHeaderSize = 4;    // version, reserved|C, R|length
inline constexpr std::size_t kControlHeaderSize = 8;   // + message type, attribute count
inline constexpr std::size_t kAttributeHeaderSize = 4;  // reserved, id, R|length
inline constexpr std::uint16_t kLengthMask = 0x0fff;   // the 12-bit length; the top 4 bits are R

// §2.2.2 message types.
inline constexpr std::uint16_t kMsgCallConnectRequest = 0x0001;
inline constexpr std::uint16_t kMsgCallConnectAck = 0x0002;
inline constexpr std::uint16_t kMsgCallConnectNak = 0x0003;
// §2.2.4 attribute ids.
inline constexpr std::uint8_t kAttribEncapsulatedProtocolId = 0x01;
inline constexpr std::uint8_t kAttribStatusInfo = 0x02;
inline constexpr std::uint8_t kAttribCryptoBinding = 0x03;
inline constexpr std::uint8_t kAttribCryptoBindingReq = 0x04;
// §2.2.5: SSTP 1.0 carries only PPP.
inline constexpr std::uint16_t kProtocolPpp = 0x0001;
// §2.2.8: the certificate hash protocols the server offers for crypto binding.
inline constexpr std::uint8_t kHashSha1 = 0x01;
inline constexpr std::uint8_t kHashSha256 = 0x02;
inline constexpr std::size_t kNonceSize = 32;

// §2.2.9: header 8 + Encapsulated Protocol ID attribute 6.
inline constexpr std::size_t kCallConnectRequestSize = 14;
// §2.2.10: header 8 + Crypto Binding Request attribute 40 (reserved 3,
// bitmask 1, nonce 32).
inline constexpr std::size_t kCallConnectAckSize = 48;

// The correlation GUID carries the token (probes/token.h, token_guid).
using probes::Guid;

// The client's request (§4.1), `host` as the Host header carries it (a name,
// an IPv4 literal or a bracketed IPv6 literal).
Bytes build_http_request(std::string_view host, const Guid& correlation);

struct HttpRequest {
  std::string host;
  Guid correlation{};
};
// A complete request head (up to and including the blank line, nothing
// after it): method, URI and version exactly as §4.1, Content-Length
// ULONGLONG_MAX, a Host, a well-formed SSTPCORRELATIONID. Header names are
// case-insensitive (RFC 9110 §5.1).
std::optional<HttpRequest> parse_http_request(ByteView head);

// The server's answer (§4.1): 200 with the same endless Content-Length.
Bytes build_http_response();
// A complete response head saying 200 on HTTP/1.1, whose Content-Length, if
// present, is ULONGLONG_MAX (as sstp-client checks it).
bool is_http_response_ok(ByteView head);

// How far a stream has an HTTP head: its length including the blank line,
// or need_more, or invalid once kMaxHttpHead bytes hold none.
struct HeadLength {
  enum class Status { complete, need_more, invalid } status = Status::need_more;
  std::size_t length = 0;
};
HeadLength http_head_length(ByteView stream);
// The same for an SSTP packet, from its 4-byte header: version 1.0 and a
// length of at least the header; R bits ignored (§2.2.1).
HeadLength packet_length(ByteView stream);

struct Attribute {
  std::uint8_t id = 0;
  ByteView value;
};
struct ControlPacket {
  std::uint16_t message_type = 0;
  std::vector<Attribute> attributes;  // views into the parsed bytes
};
// One whole control packet: version 1.0, C bit set, the 12-bit length equal
// to the bytes given, as many well-formed attributes as announced filling it
// exactly. Reserved bits are ignored on receipt (§2.2.1, §2.2.4).
std::optional<ControlPacket> parse_control(ByteView packet);

Bytes build_call_connect_request();
bool is_call_connect_request(ByteView packet);

struct CallConnectAck {
  std::uint8_t hash_bitmask = 0;
  std::array<std::uint8_t, kNonceSize> nonce{};
};
Bytes build_call_connect_ack(std::uint8_t hash_bitmask, const std::array<std::uint8_t, kNonceSize>& nonce);
// A Call Connect Ack with one Crypto Binding Request attribute of the right
// length, offering SHA-1 and/or SHA-256 (§2.2.8: at least one).
std::optional<CallConnectAck> parse_call_connect_ack(ByteView packet);

// ---- The module (probes/sstp_module.cpp) ----

// SSTP on TCP 443 inside TLS (ProbeVariant::tls). Inside, one framing cuts
// both kinds of message: an HTTP head up to its blank line, then SSTP packets
// by their 12-bit length (§2.2.1); it claims a stream by the SSTP_DUPLEX_POST
// method, and the reflector answers the request and the Call Connect Request
// on the same stream (StreamFraming::messages_per_stream).
extern const StreamFraming kTcpFraming;
extern const ProtocolModule kModule;

}  // namespace vpncheck::probes::sstp
