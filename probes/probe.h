// The probe interface: one ProtocolModule per VPN protocol, listed once in the
// registry. Everything here is pure: builders return bytes, parsers take a
// span and return a value or nullopt; nothing does I/O and nothing throws on
// bad input. Client and reflector share these modules, so adding a protocol
// means adding one module and one registry line.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "probes/bytes.h"
#include "probes/token.h"

namespace vpncheck::probes {

enum class Transport { udp, tcp };

std::string_view to_string(Transport t);
std::optional<Transport> transport_from_string(std::string_view s);

// Fills a buffer with random bytes. Production uses a CSPRNG; tests pass a
// deterministic source so golden bytes stay stable.
using RandomFill = std::function<void(std::span<std::uint8_t>)>;

// One place a protocol is tried: its standard transport/port or a variant
// people fall back to when the standard one is blocked.
struct ProbeVariant {
  Transport transport;
  std::uint16_t port;
  bool standard;
};

// What the reflector tells the client about itself that a builder may need
// (e.g. WireGuard's mac1 is keyed with the responder's public key).
struct ServerHints {
  std::optional<std::array<std::uint8_t, 32>> wireguard_public_key;
};

using Fields = std::map<std::string, std::string>;

// What a request parser recovers from an arrived probe.
struct ParsedRequest {
  ProbeToken token;
  Fields fields;  // decoded protocol fields, reported verbatim as observations
};

struct ProtocolModule {
  std::string_view id;           // stable report name: "wireguard"
  std::string_view title;        // "WireGuard"
  std::string_view description;  // one line for --list-probes
  std::span<const ProbeVariant> variants;

  // Client: the probe payload (unframed; stream framing is applied by frame_stream).
  Bytes (*build_request)(const ProbeToken& token, const ServerHints& hints, const RandomFill& rnd);
  // Reflector: recognise this protocol's request and recover the token.
  std::optional<ParsedRequest> (*parse_request)(ByteView payload, const ServerHints& hints);
  // Reflector: the in-protocol answer. Must never be larger than the request
  // (a reflector must not be an amplifier).
  Bytes (*build_reply)(ByteView request, const ParsedRequest& parsed, const RandomFill& rnd);
  // Client: is `reply` a valid answer to the `request` we sent?
  bool (*is_reply_to)(ByteView reply, ByteView request);
  // How the protocol frames messages on a byte stream (TCP); nullptr if it has no stream form.
  Bytes (*frame_stream)(ByteView message);

  // Advice text lives with the protocol because only it knows its configuration
  // syntax: how to move to `variant`, and what to do when its signature is blocked.
  std::string (*advice_use_variant)(const ProbeVariant& variant);
  std::string_view advice_signature_blocked;
};

}  // namespace vpncheck::probes
