// The IPsec protocol module: every piece a real IPsec connection needs, each
// probed on its own (PROTOCOLS.md §4, issue #3). Pieces, all standard (they
// must work together, they are not alternatives):
//   "ikev2"     UDP 500   IKEv2 IKE_SA_INIT with NAT detection notifies; the
//                         client sends from UDP 500 when it can (real clients do)
//   "ikev1"     UDP 500   IKEv1 Main Mode message 1 with the RFC 3947 VID
//   "nat-t"     UDP 4500  IKE_SA_INIT behind the non-ESP marker, then ESP-in-UDP
//                         (RFC 3948), then a NAT keepalive (0xFF), on one socket
//   "esp"       IP 50     raw ESP in a whole IPv4 datagram
//   "ah"        IP 51     raw AH in a whole IPv4 datagram (ICV over the header)
//   "ike-large" UDP 500   an IKE_AUTH-sized (2600 B, IP-fragmented) message
// and one fallback, not standard (what clients that support it use when UDP
// 500 and 4500 are blocked, carrying ESP in the same connection):
//   "ike-tcp"   TCP 4500  IKE_SA_INIT over TCP (RFC 8229): the "IKETCP" stream
//                         prefix, a self-counting length, the non-ESP marker
// The codecs live in probes/ike.h and probes/ipsec_esp.h; this file only
// dispatches between them. Pure, like every module.
#pragma once

#include <string_view>

#include "probes/probe.h"

namespace vpncheck::probes::ipsec {

inline constexpr std::string_view kPieceIkev2 = "ikev2";
inline constexpr std::string_view kPieceIkev1 = "ikev1";
inline constexpr std::string_view kPieceNatT = "nat-t";
inline constexpr std::string_view kPieceEsp = "esp";
inline constexpr std::string_view kPieceAh = "ah";
inline constexpr std::string_view kPieceIkeLarge = "ike-large";
inline constexpr std::string_view kPieceIkeTcp = "ike-tcp";

// Field names (observation fields from the reflector, reply fields on the client).
namespace field {
inline constexpr std::string_view kMessage = "message";            // which message of the piece arrived
inline constexpr std::string_view kSpiI = "spi_i";                  // IKE initiator SPI / CKY-I, hex
inline constexpr std::string_view kSpi = "spi";                     // ESP/AH SPI, hex
inline constexpr std::string_view kSequence = "sequence";           // ESP/AH sequence number
inline constexpr std::string_view kSpiRole = "spi_role";            // request | unknown (SPI rewritten)
inline constexpr std::string_view kSourceTranslated = "nat_d_source_translated";  // reflector: yes | no
inline constexpr std::string_view kSourceExpected = "nat_d_source_expected";      // hash over the observed source
inline constexpr std::string_view kSourceReceived = "nat_d_source_received";      // the client's hash(es)
inline constexpr std::string_view kObservedSourcePort = "observed_source_port";
inline constexpr std::string_view kIcvValid = "icv_valid";          // AH: yes | no
inline constexpr std::string_view kNatTVendorId = "nat_t_vendor_id";  // IKEv1: RFC 3947 VID present
inline constexpr std::string_view kSize = "size";
// Client reply fields of the "ikev2" piece.
inline constexpr std::string_view kBehindNat = "behind_nat";        // yes | no, from NAT_DETECTION_DESTINATION_IP
inline constexpr std::string_view kNatDExpected = "nat_d_destination_expected";  // hash over our local address
inline constexpr std::string_view kNatDReceived = "nat_d_destination_received";  // the responder's hash
inline constexpr std::string_view kSourcePort = "source_port";      // the local port the probe used
inline constexpr std::string_view kSourcePort500 = "source_port_500";  // bound | unavailable
}  // namespace field

// The NAT-T exchange's messages after the IKE_SA_INIT: ESP-in-UDP, then a keepalive.
inline constexpr std::size_t kNatTSteps = 3;

extern const ProtocolModule kModule;

// IPsec's verdict rule (ProtocolModule::assess), in ipsec_assess.cpp.
ProtocolAssessment assess(const ProtocolModule& module, std::vector<ProbeResult> results, bool observations_read,
                          AlternativesRule alternatives);

}  // namespace vpncheck::probes::ipsec
