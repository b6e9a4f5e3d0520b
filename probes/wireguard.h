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

extern const ProtocolModule kModule;

}  // namespace vpncheck::probes::wireguard
