// OpenVPN control-channel hard reset, in each wire form OpenVPN 2.6 sends it
// (OpenVPN src/openvpn/ssl_pkt.c tls_wrap_control, ssl.c tls_session_init,
// tls_crypt.c, reliable.c).
//
// A configuration without control-channel protection sends the plain 14-byte
// P_CONTROL_HARD_RESET_CLIENT_V2; `tls-auth` puts an HMAC (20 bytes with
// SHA-1, 32 with SHA-256) and a replay packet-id after the session id;
// `tls-crypt` moves the packet-id forward and encrypts the rest behind a
// 32-byte tag; `tls-crypt-v2` sends P_CONTROL_HARD_RESET_CLIENT_V3 wrapped
// like tls-crypt with the wrapped client key (WKc) appended. Signature
// matchers see different bytes in each, so each form is probed on its own
// (a piece of the module, judged by probes/openvpn_assess.cpp).
//
// The reflector answers P_CONTROL_HARD_RESET_SERVER_V2 in the request's own
// wrapping when the demux allows the size (an address the session validated);
// otherwise the plain 26-byte reset when that fits, as OpenVPN servers answer
// clients of the same form; otherwise nothing (the observation says why).
// The keys are the user's secrets, so HMACs, tags and ciphertext are random:
// from outside they look the same.
#pragma once

#include <array>
#include <optional>
#include <vector>
#include <string_view>

#include "probes/framing.h"
#include "probes/probe.h"

namespace vpncheck::probes::openvpn {

constexpr std::uint8_t kOpHardResetClientV2 = 7;
constexpr std::uint8_t kOpHardResetServerV2 = 8;
constexpr std::uint8_t kOpHardResetClientV3 = 10;  // tls-crypt-v2's first packet
constexpr std::size_t kSessionIdSize = 8;
constexpr std::size_t kTlsAuthSha1HmacSize = 20;
constexpr std::size_t kTlsAuthSha256HmacSize = 32;
constexpr std::size_t kTlsCryptTagSize = 32;  // HMAC-SHA256 (tls_crypt.h TLS_CRYPT_TAG_SIZE)
constexpr std::size_t kPacketIdSize = 8;      // replay packet-id 4 | net time 4 (long form)
// opcode 1 | session id 8 | hmac 20 | replay packet-id 4 | net time 4 | ack count 1 | message packet-id 4
constexpr std::size_t kClientResetSize = 42;
// opcode 1 | session id 8 | ack count 1 | acked packet-id 4 | remote session id 8 | message packet-id 4
constexpr std::size_t kServerResetSize = 26;
constexpr std::size_t kMaxControlPacket = 1200;  // nDPI: resets are below 1200 bytes
// tls-crypt-v2: a 2.6 client starts its wrapper's packet-id at 0x0f000000 to
// announce early negotiation (ssl_pkt.h EARLY_NEG_START); the first packet
// carries the next id. Its server then adds an EARLY_NEG_FLAGS TLV (6 bytes)
// to its reset (ssl_pkt.c tls_reset_standalone).
constexpr std::uint32_t kEarlyNegFirstPacketId = 0x0f000001;
// The WKc of a key made by `--genkey tls-crypt-v2-client` without metadata:
// tag 32 | encrypted (client key 256 | metadata: timestamp type 1 + 8) | length 2.
constexpr std::size_t kWrappedClientKeySize = 32 + 256 + 9 + 2;
constexpr std::size_t kMinWrappedClientKeySize = 32 + 256 + 1 + 2;  // metadata is at least its type byte
constexpr std::size_t kMaxWrappedClientKeySize = 1024;             // tls_crypt.h TLS_CRYPT_V2_MAX_WKC_LEN

enum class Form { tls_auth_sha1, plain, tls_auth_sha256, tls_crypt, tls_crypt_v2 };
inline constexpr std::array kForms{Form::tls_auth_sha1, Form::plain, Form::tls_auth_sha256, Form::tls_crypt,
                                   Form::tls_crypt_v2};

// The form's name in reports and its piece name: "tls-auth", "plain", ...
std::string_view form_name(Form form);
std::optional<Form> form_from_name(std::string_view name);
// How it is switched on in an OpenVPN configuration, for advice.
std::string_view form_setting(Form form);
std::size_t client_reset_size(Form form);
// The server's reset in the same wrapping.
std::size_t server_reset_size(Form form);

constexpr std::uint8_t opcode_byte(std::uint8_t opcode, std::uint8_t key_id = 0) {
  return static_cast<std::uint8_t>((opcode << 3) | (key_id & 0x07));
}

Bytes build_client_reset(Form form, const ProbeToken& token, const RandomFill& rnd);
// The tls-auth (HMAC-SHA1) form.
Bytes build_client_reset(const ProbeToken& token, const ServerHints& hints, const RandomFill& rnd);
// Which form a client reset is in, from its opcode, size and layout; nullopt
// when it is not a client reset. Sizes no form has are Form-less resets of an
// unknown wrapper (their `wrapping` field says "unknown").
struct Classified {
  std::optional<Form> form;
  std::string_view wrapping;  // "none", "tls-auth-sha1", ..., "unknown"
};
std::optional<Classified> classify_client_reset(ByteView payload);
std::optional<ParsedRequest> parse_client_reset(ByteView payload, const ServerHints& hints);
// The server's reset for `request`, in the request's own wrapping when that
// fits `allowance` bytes, else the plain reset when that fits, else the
// genuine one (which the demux then withholds).
Bytes build_server_reset(ByteView request, const ParsedRequest& parsed, const RandomFill& rnd,
                         std::size_t allowance);
// With the request's size as the allowance (the no-amplification rule).
Bytes build_server_reset(ByteView request, const ParsedRequest& parsed, const RandomFill& rnd);
bool is_server_reset_for(ByteView reply, ByteView request);
// OpenVPN over TCP: a 16-bit big-endian length (of the packet after it)
// before each packet, no preamble. A stream is OpenVPN's when its first packet
// is a client hard reset of plausible size, as OpenVPN's own port-share decides
// (OpenVPN src/openvpn/ps.c, is_openvpn_protocol).
extern const StreamFraming kTcpFraming;

// Data channel, P_DATA_V2 with an AEAD cipher (the 2.4+ default; OpenVPN
// src/openvpn/ssl_pkt.h P_DATA_V2, crypto.c openvpn_encrypt_aead): opcode and
// key id 1 | peer id 3 | packet id 4 (big-endian, from 1) | tag 16 |
// ciphertext. The data phase's sequence is the packet id less one; the token
// sits in the first 8 tag bytes, random to anyone without the keys.
constexpr std::uint8_t kOpDataV2 = 9;
constexpr std::size_t kDataHeaderSize = 8;  // opcode/peer id 4 | packet id 4
constexpr std::size_t kDataTagSize = 16;
constexpr std::size_t kDataMinSize = kDataHeaderSize + kDataTagSize;
// Its default "mssfix 1492 mtu" keeps tunnelled TCP packets within 1492
// bytes on the wire, outer IP and UDP headers included (src/openvpn/mtu.h
// MSSFIX_DEFAULT; 2.6 options.c mssfix_encap): the full-size packets real
// traffic sends. (Larger ones, up to tun-mtu 1500 inside, exceed this host's
// MTU and leave it as fragments without DF.)
constexpr std::size_t kMssfixPacket = 1492;
constexpr std::size_t kDataFullSizeV4 = kMssfixPacket - 20 - 8;
constexpr std::size_t kDataFullSizeV6 = kMssfixPacket - 40 - 8;
// A 84-byte ping inside.
constexpr std::size_t kDataSmallSize = kDataMinSize + 84;
// IP, UDP and OpenVPN overhead with room for IPv6 and options: tun-mtu is the path MTU less this.
constexpr int kAdviceOverhead = 100;

// Empty when `size` is below kDataMinSize or above a UDP payload.
Bytes build_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, const RandomFill& rnd);
// nullopt unless opcode P_DATA_V2, at least kDataMinSize bytes and a packet id from 1.
std::optional<DataPacket> parse_data(ByteView payload);
// "OpenVPN: tun-mtu 1180 and mssfix 1140 (both ends)"
std::string advice_mtu(int path_mtu);

extern const ProtocolModule kModule;

// The verdict over every form (probes/openvpn_assess.cpp).
ProtocolAssessment assess(const ProtocolModule& module, std::vector<ProbeResult> results, bool observations_read,
                          AlternativesRule alternatives);

}  // namespace vpncheck::probes::openvpn
