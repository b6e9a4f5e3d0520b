// IKE codecs (pure: no sockets, no I/O, nothing throws on bad input).
// Layouts: PROTOCOLS.md §4.2 (IKEv2 IKE_SA_INIT, RFC 7296), §4.3 (IKEv1 Main
// Mode, RFC 2408/2409/3947) and §4.4 (NAT-T on UDP 4500, RFC 3948).
//
// Contract 1: the 8-byte ProbeToken is the initiator SPI (IKEv2) / CKY-I
// (IKEv1), so the reflector attributes a probe after NAT; replies keep it.
//
// Every parser validates strictly: header length == datagram length, every
// payload length >= 4 and inside the message, the payload chain ends (next
// payload 0) exactly at the end of the message. Anything else -> std::nullopt.
// Builders return an empty Bytes when their inputs are unusable (e.g. an
// address that is neither 4 nor 16 bytes, a reply that would be larger than
// the request).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probes/bytes.h"
#include "probes/probe.h"  // RandomFill
#include "probes/token.h"

namespace vpncheck::probes::ike {

// ---- common ---------------------------------------------------------------

constexpr std::size_t kHeaderSize = 28;          // IKEv2 / ISAKMP header, RFC 7296 §3.1
constexpr std::size_t kSpiSize = 8;
constexpr std::size_t kNatHashSize = 20;         // SHA-1
constexpr std::uint16_t kPortIke = 500;
constexpr std::uint16_t kPortNatT = 4500;

using Spi = std::array<std::uint8_t, kSpiSize>;
using NatHash = std::array<std::uint8_t, kNatHashSize>;

// An address as NAT detection hashes it: 4 bytes (IPv4) or 16 bytes (IPv6),
// network order. The one IpPort type of the probe interface.
using probes::IpPort;

// SPIi / CKY-I = token.encode(). Session tags are random, so this is never
// zero in practice; a zero token gives SPIi 0, which parsers reject (RFC 7296
// forbids it and the Broadcom ALG does not track it).
Spi spi_from_token(const ProbeToken& token);

// RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | port). SPIs in header order (SPIr is
// zero in the first request). nullopt if the address is not 4 or 16 bytes.
std::optional<NatHash> nat_detection_hash(const Spi& spi_i, const Spi& spi_r, const IpPort& endpoint);

// ---- IKEv2 -----------------------------------------------------------------

constexpr std::uint8_t kVersion2 = 0x20;            // major 2, minor 0
constexpr std::uint8_t kExchangeIkeSaInit = 34;     // RFC 7296 §3.1
constexpr std::uint8_t kExchangeIkeAuth = 35;
constexpr std::uint8_t kFlagInitiator = 0x08;
constexpr std::uint8_t kFlagVersion = 0x10;
constexpr std::uint8_t kFlagResponse = 0x20;

// Payload types, RFC 7296 §3.2.
constexpr std::uint8_t kPayloadNone = 0;
constexpr std::uint8_t kPayloadSa = 33;
constexpr std::uint8_t kPayloadKe = 34;
constexpr std::uint8_t kPayloadIdi = 35;
constexpr std::uint8_t kPayloadNonce = 40;
constexpr std::uint8_t kPayloadNotify = 41;
constexpr std::uint8_t kPayloadVendorId = 43;
constexpr std::uint8_t kPayloadSk = 46;

// Notify message types, RFC 7296 §3.10.1 / RFC 7383.
constexpr std::uint16_t kNotifyNatDetectionSourceIp = 16388;       // 0x4004
constexpr std::uint16_t kNotifyNatDetectionDestinationIp = 16389;  // 0x4005
constexpr std::uint16_t kNotifyFragmentationSupported = 16430;     // 0x402e

constexpr std::uint16_t kDhGroup14 = 14;        // 2048-bit MODP, RFC 3526
constexpr std::size_t kDhGroup14KeySize = 256;
constexpr std::size_t kNonceSize = 32;

struct Header {
  Spi spi_i{};
  Spi spi_r{};
  std::uint8_t next_payload = 0;
  std::uint8_t version = 0;
  std::uint8_t exchange = 0;
  std::uint8_t flags = 0;
  std::uint32_t message_id = 0;
  std::uint32_t length = 0;
};

// SA payload contents (RFC 7296 §3.3), decoded so a responder can pick from them.
struct Transform {
  std::uint8_t type = 0;   // 1 ENCR, 2 PRF, 3 INTEG, 4 DH, 5 ESN
  std::uint16_t id = 0;
  Bytes attributes;        // raw attribute bytes (e.g. 800e0100 = key length 256)
};
struct Proposal {
  std::uint8_t number = 0;
  std::uint8_t protocol_id = 0;  // 1 = IKE
  Bytes spi;
  std::vector<Transform> transforms;
};

// An IKE_SA_INIT request or response.
struct SaInitMessage {
  Header header;
  std::vector<std::uint8_t> payload_types;     // in message order
  std::vector<std::uint16_t> notify_types;     // in message order
  std::vector<Proposal> proposals;             // from the SA payload, if any
  std::optional<std::uint16_t> ke_group;       // from the KE payload, if any
  std::size_t ke_data_size = 0;
  std::size_t nonce_size = 0;                  // 0 = no Nonce payload
  std::vector<NatHash> nat_source_hashes;      // RFC 7296 allows several
  std::optional<NatHash> nat_destination_hash;

  bool is_response() const { return (header.flags & kFlagResponse) != 0; }
  bool has_payload(std::uint8_t type) const;
  bool has_notify(std::uint16_t type) const;
};

// Client: IKE_SA_INIT request. HDR(SPIi = token, SPIr = 0, flags 0x08),
// SA (3 proposals, 21 transforms), KE (group 14, 256 random bytes), Ni (32
// random), N(NAT_DETECTION_SOURCE_IP) = hash(local), N(NAT_DETECTION_
// DESTINATION_IP) = hash(remote), N(IKEV2_FRAGMENTATION_SUPPORTED) — the
// payload order strongSwan uses. Size: kSaInitRequestSize. Empty if an
// address is not 4/16 bytes.
constexpr std::size_t kSaInitRequestSize = 604;
Bytes build_sa_init_request(const ProbeToken& token, const IpPort& local, const IpPort& remote,
                            const RandomFill& rnd);

// Request or response. Checks: version 0x20, exchange 34, message id 0, only
// I/V/R flag bits, SPIi != 0, header length == datagram size, payload chain,
// SA/KE/Nonce/Notify internals (Nonce 16..256 bytes, NAT-D data exactly 20
// bytes, at most one NAT_DETECTION_DESTINATION_IP).
std::optional<SaInitMessage> parse_sa_init(ByteView datagram);

// Reflector: a genuine IKE_SA_INIT response to `request` (which must be a
// parsed request with SPIr = 0, SA, KE and Nonce): HDR(flags 0x20, SPIr random
// non-zero), SA (first proposal, first transform of each type), KE (same group
// and size, random), Nr (32 random), N(NAT_DETECTION_SOURCE_IP) =
// hash(SPIi, SPIr, responder), N(NAT_DETECTION_DESTINATION_IP) = hash(SPIi,
// SPIr, observed_source), plus N(IKEV2_FRAGMENTATION_SUPPORTED) if the request
// had it. Empty if the request is not usable or the reply would be larger
// than the request (header.length).
Bytes build_sa_init_reply(const SaInitMessage& request, const IpPort& observed_source,
                          const IpPort& responder, const RandomFill& rnd);

// Client: same SPIi, response flag set, SPIr != 0, SA + KE + Nonce present,
// both messages parse.
bool is_sa_init_response_to(ByteView reply, ByteView request);

// The outcome of one NAT detection comparison, with both hashes as hex so a
// report can show the evidence.
struct NatCheck {
  bool nat = false;                   // hash mismatch: address and/or port were translated
  std::string expected_hex;           // what an untranslated path would give
  std::vector<std::string> received_hex;
};

// Client (exactly what strongSwan / Windows do): NAT_DETECTION_DESTINATION_IP in
// the response vs hash(SPIi, SPIr, local). nat == true means "I am behind NAT".
// nullopt if the response has no such notify or `local` is malformed.
std::optional<NatCheck> check_behind_nat(const SaInitMessage& response, const IpPort& local);

// Reflector: the request's NAT_DETECTION_SOURCE_IP hashes vs hash(SPIi, 0, observed
// source). nat == true (none matches) means the source was translated.
std::optional<NatCheck> check_source_translated(const SaInitMessage& request,
                                                const IpPort& observed_source);

// ---- large IKE_AUTH (IP fragmentation probe) -------------------------------

constexpr std::size_t kIkeAuthDefaultSize = 2600;  // > 1500: IP-fragmented on any Ethernet path
constexpr std::size_t kIkeAuthMinSize = kHeaderSize + 4 + 32;  // IV 16 + ICV 16
constexpr std::size_t kIkeAuthMaxSize = 65507 - 4;             // max IPv4 UDP payload - marker

struct IkeAuthMessage {
  Header header;
  std::uint8_t sk_next_payload = 0;  // first inner payload type (35 IDi in a request)
  std::size_t sk_size = 0;           // SK payload data size (IV + ciphertext + ICV)
  bool is_response() const { return (header.flags & kFlagResponse) != 0; }
};

// Client: IKE_AUTH-shaped message: HDR(SPIi = token, SPIr = spi_r, exchange 35,
// flags 0x08, message id 1, next 46), SK payload (next payload 35 IDi) of random
// bytes, `total_size` bytes in all. Send on UDP 4500 with add_non_esp_marker.
// Empty if spi_r is zero or total_size is outside [kIkeAuthMinSize, kIkeAuthMaxSize].
Bytes build_ike_auth(const ProbeToken& token, const Spi& spi_r, const RandomFill& rnd,
                     std::size_t total_size = kIkeAuthDefaultSize);
// Version 0x20, exchange 35, message id != 0, only I/V/R flag bits,
// SPIi and SPIr != 0, only SK as first payload, SK spans the rest exactly.
std::optional<IkeAuthMessage> parse_ike_auth(ByteView datagram);
// Reflector: same size, same SPIs and message id, flags 0x20, SK next payload
// 36 (IDr), random SK data. Empty if `request` is not a request.
Bytes build_ike_auth_reply(ByteView request, const RandomFill& rnd);
bool is_ike_auth_reply_to(ByteView reply, ByteView request);

// ---- NAT-T on UDP 4500 (RFC 3948 §2.2) ---------------------------------------

constexpr std::size_t kNonEspMarkerSize = 4;

Bytes add_non_esp_marker(ByteView ike);

enum class Udp4500Kind {
  keepalive,  // exactly one byte 0xFF (RFC 3948 §2.3)
  esp,        // more than 8 bytes and the first 4 (the SPI) are not zero
  ike,        // 4 zero bytes then at least an IKE header (28 bytes)
  invalid,    // anything else (Linux would hand it to the IKE daemon, which drops it)
};
// The demux of Linux xfrm4_udp_encap_rcv (PROTOCOLS.md §4.1).
Udp4500Kind classify_udp4500(ByteView payload);
// The IKE message after the marker, if classify_udp4500 says ike.
std::optional<ByteView> strip_non_esp_marker(ByteView payload);

// ---- IKE over TCP (RFC 8229, updated by RFC 9329) -----------------------------

// The stream prefix the initiator sends once, before its first message; the
// responder never sends it (RFC 8229 §4).
inline constexpr std::array<std::uint8_t, 6> kTcpStreamPrefix{'I', 'K', 'E', 'T', 'C', 'P'};
// RFC 8229 §3: each message follows a 16-bit length that counts itself; an IKE
// message then starts with the Non-ESP marker (add_non_esp_marker), which
// tells it from ESP as on UDP 4500. A stream is this framing's when it opens
// with the prefix.
extern const StreamFraming kTcpFraming;

// ---- IKEv1 Main Mode ---------------------------------------------------------

constexpr std::uint8_t kVersion1 = 0x10;             // ISAKMP 1.0
constexpr std::uint8_t kExchangeMainMode = 2;        // Identity Protection, RFC 2408 §4.5
constexpr std::uint8_t kV1PayloadSa = 1;
constexpr std::uint8_t kV1PayloadProposal = 2;
constexpr std::uint8_t kV1PayloadTransform = 3;
constexpr std::uint8_t kV1PayloadVendorId = 13;
constexpr std::size_t kMainMode1Size = 144;          // PROTOCOLS.md §4.3

// Vendor IDs, PROTOCOLS.md §4.3.
constexpr std::array<std::uint8_t, 16> kVidRfc3947{0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45,
                                                   0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f};
constexpr std::array<std::uint8_t, 16> kVidNatTDraft02{0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e,
                                                       0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b, 0x1f};
constexpr std::array<std::uint8_t, 16> kVidDpd{0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9,
                                               0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00};

struct V1Transform {
  std::uint8_t number = 0;
  std::uint8_t id = 0;     // 1 = KEY_IKE
  Bytes attributes;        // raw data attributes
};

struct MainModeMessage {
  Header header;                        // spi_i = CKY-I, spi_r = CKY-R
  std::vector<std::uint8_t> payload_types;
  std::vector<Bytes> vendor_ids;
  bool nat_t_rfc3947 = false;           // the RFC 3947 VID was present
  std::uint8_t proposal_number = 0;     // first proposal of the SA
  std::uint8_t proposal_protocol = 0;
  std::vector<V1Transform> transforms;  // of the first proposal
  bool is_request() const;              // CKY-R == 0
};

// Client: Main Mode message 1, the exact 144-byte layout of PROTOCOLS.md §4.3
// (AES-256/SHA1/PSK/group 14/28800 s; VIDs RFC 3947, draft-02, DPD). CKY-I = token.
// Deterministic: there is nothing random in message 1.
Bytes build_main_mode_1(const ProbeToken& token);
// Version 0x10, exchange 2, message id 0, flags 0 (not encrypted), CKY-I != 0,
// length == size, payload chain, SA (DOI 1, proposals, transforms) well formed
// with at least one transform.
std::optional<MainModeMessage> parse_main_mode(ByteView datagram);
// Reflector: message 2: CKY-R random non-zero, SA with the first transform of
// the first proposal, VID RFC 3947 if the request had it. Empty if the request
// is not a message 1 (CKY-R != 0) or the reply would be larger than it.
Bytes build_main_mode_2(const MainModeMessage& request, const RandomFill& rnd);
bool is_mm2_reply_to(ByteView reply, ByteView request);

}  // namespace vpncheck::probes::ike
