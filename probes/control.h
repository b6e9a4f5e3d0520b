// Control probes (DESIGN.md, "control probe"): random bytes of the same size as
// a genuine probe, on the same port but on their own 5-tuple. If the genuine
// probe is dropped while its control passes, something matched the protocol's
// signature rather than the port.
//
// To stay attributable the control carries the probe token right after a
// marker byte. The marker 0xFF is chosen so that no VPN signature can match by
// accident (PROTOCOLS.md §9.6): not a WireGuard type (1-4), not an OpenVPN
// opcode (31 is unused), not L2TP (0xC8), and on TCP the first two bytes read
// as a length above 255, which OpenVPN's port-share rejects.
#pragma once

#include <optional>

#include "probes/bytes.h"
#include "probes/probe.h"
#include "probes/token.h"

namespace vpncheck::probes::control {

constexpr std::uint8_t kRequestMarker = 0xFF;
constexpr std::uint8_t kReplyMarker = 0xFE;
constexpr std::size_t kMinSize = 1 + kProbeTokenSize;

// A control request of exactly `size` bytes (size >= kMinSize).
Bytes build_request(const ProbeToken& token, std::size_t size, const RandomFill& rnd);
std::optional<ProbeToken> parse_request(ByteView payload);
// The reply has the request's size, so it never amplifies.
Bytes build_reply(ByteView request, const RandomFill& rnd);
bool is_reply_to(ByteView reply, ByteView request);

}  // namespace vpncheck::probes::control
