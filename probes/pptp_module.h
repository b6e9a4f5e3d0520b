// The PPTP protocol module: two pieces that must both work.
//  * "control": the control connection on TCP 1723 (pptp.h). Its probe is the
//    SCCRQ; the whole conversation (SCCRQ/SCCRP, OCRQ/OCRP, Set-Link-Info,
//    StopCCRQ/StopCCRP) is the module's client conversation (pptp_client.h)
//    and server conversation (pptp_server.h), because PPTP frames itself by
//    its own Length field rather than by the 2-byte prefix the generic TCP
//    path uses.
//  * "gre": enhanced GRE (IP protocol 47, gre.h) keyed to the Call IDs the
//    control connection negotiated, as whole IPv4 or IPv6 datagrams; the
//    client conversation runs it while the control connection is open.
//
// Pure: no sockets. The reflector's Call ID table is the module's server
// state (pptp::CallTable, reached through ArrivalContext::state).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "probes/probe.h"

namespace vpncheck::probes::pptp {

extern const ProtocolModule kModule;

// PPTP's verdict rule (ProtocolModule::assess), in pptp_assess.cpp.
ProtocolAssessment assess(const ProtocolModule& module, std::vector<ProbeResult> results, bool observations_read,
                          AlternativesRule alternatives);
// Always part of PPTP's advice, whatever the verdict.
inline constexpr std::string_view kSecurityAdvice =
    "PPTP's security is broken (MS-CHAPv2 logins can be cracked offline and its MPPE encryption is weak): "
    "even where PPTP works, prefer WireGuard, OpenVPN or IKEv2.";

inline constexpr std::string_view kPieceControl = "control";
inline constexpr std::string_view kPieceGre = "gre";

// Observation field names the reflector records for an OCRQ (and the verdict reads).
inline constexpr std::string_view kFieldCallId = "call_id";                    // as it arrived
inline constexpr std::string_view kFieldOriginalCallId = "original_call_id";   // from the Subaddress tag
inline constexpr std::string_view kFieldCallIdRewritten = "call_id_rewritten"; // "true" / "false"
inline constexpr std::string_view kFieldLinuxHelper = "linux_pptp_helper";     // call id == observed TCP source port
inline constexpr std::string_view kFieldSourcePort = "tcp_source_port";        // observed TCP source port
// GRE observation: whether the key matched a call of this client, and the Call ID answered to.
inline constexpr std::string_view kFieldCallKnown = "call_known";
inline constexpr std::string_view kFieldAnsweredCallId = "answered_call_id";

// Client: the GRE probe as a whole IPv4 or IPv6 datagram from `local` to
// `remote` (addresses only; the family follows them), keyed to the
// reflector's Call ID `peer_call_id` from the OCRP.
Bytes build_gre_datagram(const ProbeToken& token, std::uint16_t peer_call_id, const IpPort& local,
                         const IpPort& remote);
// Client: is the IPv4 or IPv6 datagram `reply` the reflector's GRE answer to our
// `request` datagram, keyed to our own Call ID?
bool is_gre_reply_datagram(ByteView reply, ByteView request, std::uint16_t own_call_id);

}  // namespace vpncheck::probes::pptp
