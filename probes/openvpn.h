// OpenVPN control-channel hard reset (PROTOCOLS.md §6; OpenVPN ssl_pkt.h).
//
// A plain P_CONTROL_HARD_RESET_CLIENT_V2 is 14 bytes and the server's reset is
// 26, so answering a plain reset would amplify. The probe is therefore the
// reset as a client with `tls-auth` (HMAC-SHA1) sends it, 42 bytes: a shape
// real deployments use widely and that signature matchers recognise the same
// way (opcode, key id, session id). The reflector answers with a plain 26-byte
// P_CONTROL_HARD_RESET_SERVER_V2 that ACKs packet-id 0 and echoes the client
// session id: exactly the bidirectional match nDPI keys on.
#pragma once

#include "probes/framing.h"
#include "probes/probe.h"

namespace vpncheck::probes::openvpn {

constexpr std::uint8_t kOpHardResetClientV2 = 7;
constexpr std::uint8_t kOpHardResetServerV2 = 8;
constexpr std::uint8_t kOpHardResetClientV3 = 10;  // tls-crypt-v2's first packet
constexpr std::size_t kSessionIdSize = 8;
constexpr std::size_t kTlsAuthSha1HmacSize = 20;
// opcode 1 | session id 8 | hmac 20 | replay packet-id 4 | net time 4 | ack count 1 | message packet-id 4
constexpr std::size_t kClientResetSize = 42;
// opcode 1 | session id 8 | ack count 1 | acked packet-id 4 | remote session id 8 | message packet-id 4
constexpr std::size_t kServerResetSize = 26;
constexpr std::size_t kMaxControlPacket = 1200;  // nDPI: resets are below 1200 bytes

constexpr std::uint8_t opcode_byte(std::uint8_t opcode, std::uint8_t key_id = 0) {
  return static_cast<std::uint8_t>((opcode << 3) | (key_id & 0x07));
}

Bytes build_client_reset(const ProbeToken& token, const ServerHints& hints, const RandomFill& rnd);
std::optional<ParsedRequest> parse_client_reset(ByteView payload, const ServerHints& hints);
Bytes build_server_reset(ByteView request, const ParsedRequest& parsed, const RandomFill& rnd);
bool is_server_reset_for(ByteView reply, ByteView request);
// OpenVPN over TCP: a 16-bit big-endian length (of the packet after it)
// before each packet, no preamble. A stream is OpenVPN's when its first packet
// is a client hard reset of plausible size, as OpenVPN's own port-share decides
// (OpenVPN src/openvpn/ps.c, is_openvpn_protocol).
extern const StreamFraming kTcpFraming;

extern const ProtocolModule kModule;

}  // namespace vpncheck::probes::openvpn
