// WireGuard handshake initiation and a response-shaped answer.
// Layouts: PROTOCOLS.md §5.2 (wireguard-go device/noise-protocol.go).
#pragma once

#include "probes/probe.h"

namespace vpncheck::probes::wireguard {

constexpr std::size_t kInitiationSize = 148;  // handshake initiation, type 1
constexpr std::size_t kResponseSize = 92;     // handshake response, type 2
constexpr std::uint8_t kTypeInitiation = 1;
constexpr std::uint8_t kTypeResponse = 2;
constexpr std::size_t kSenderOffset = 4;      // sender index, little-endian
constexpr std::size_t kEphemeralOffset = 8;   // unencrypted ephemeral public key (32)
constexpr std::size_t kMac1Offset = 116;      // mac1 covers bytes [0, 116)
constexpr std::size_t kMac2Offset = 132;

// mac1 = BLAKE2s-128(BLAKE2s-256("mac1----" || responder public key), msg[0:116]).
std::array<std::uint8_t, 16> compute_mac1(const std::array<std::uint8_t, 32>& responder_public_key,
                                          ByteView message_before_mac1);

// The token sits in the first 8 ephemeral bytes: a real X25519 public key is
// uniformly random there, so it stays genuine-looking.
Bytes build_initiation(const ProbeToken& token, const ServerHints& hints, const RandomFill& rnd);
std::optional<ParsedRequest> parse_initiation(ByteView payload, const ServerHints& hints);
Bytes build_response(ByteView initiation, const ParsedRequest& parsed, const RandomFill& rnd);
bool is_response_to(ByteView reply, ByteView initiation);

// Transport data (type 4), what a tunnel carries after the handshake
// (wireguard-go device/noise-protocol.go MessageTransport*): type 4 |
// receiver index 4 | counter 8 (little-endian) | encrypted packet, padded to
// 16 bytes unless that would pass the MTU | Poly1305 tag 16. The data phase's
// sequence is the counter (a real one counts from 0 too); the token sits in
// the first 8 encrypted bytes, which are random to anyone without the keys.
constexpr std::uint8_t kTypeData = 4;
constexpr std::size_t kDataHeaderSize = 16;
constexpr std::size_t kDataTagSize = 16;
constexpr std::size_t kDataMinSize = kDataHeaderSize + kDataTagSize;  // a keepalive: nothing inside
constexpr std::size_t kDefaultMtu = 1420;  // wg-quick's and wireguard-go's default interface MTU
// A full packet at the default MTU: 1452 bytes of UDP payload, 1480 on the wire over IPv4, 1500 over IPv6.
constexpr std::size_t kDataFullSize = kDefaultMtu + kDataHeaderSize + kDataTagSize;
// A 84-byte ping inside, padded to 96.
constexpr std::size_t kDataSmallSize = 96 + kDataHeaderSize + kDataTagSize;
// IPv4 20 + UDP 8 + data header 16 + tag 16: the path MTU less this is the MTU to set.
constexpr int kOverheadV4 = 60;

// Empty when `size` is below kDataMinSize or above a UDP payload.
Bytes build_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, const RandomFill& rnd);
// nullopt unless type 4 with its reserved zero bytes, at least kDataMinSize
// bytes, and a counter the data phase can have sent (below 2^32).
std::optional<DataPacket> parse_data(ByteView payload);
// "WireGuard: MTU = 1220 (in [Interface]: the path MTU 1280 less 60 bytes of IPv4, UDP and WireGuard headers)"
std::string advice_mtu(int path_mtu);

extern const ProtocolModule kModule;

}  // namespace vpncheck::probes::wireguard
