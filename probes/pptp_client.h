// The PPTP conversation a client (PNS) holds with the reflector, both pieces
// of the pptp module in one go, because GRE is keyed to the Call IDs the
// control connection negotiates (RFC 2637 §1.3, §4.1):
//
//   TCP connect 1723, SCCRQ -> SCCRP(1), OCRQ(random Call ID X) -> OCRP(Y, peer X),
//   Set-Link-Info(Y); raw GRE keyed to Y carrying the LCP Configure-Request
//   with the token -> GRE keyed to X from the reflector; then the call's data
//   (MPPE-encrypted PPP in GRE, keyed the same way; gre.h) on the same raw
//   socket, where the reflector echoes it; StopCCRQ -> StopCCRP.
//
// The TCP connection stays open while GRE is tested, as a real client's does
// (an ALG ties the GRE expectations to it). Without CAP_NET_RAW the control
// part still runs and the GRE flow fails not_permitted. Pure: a
// ClientConversation (probes/conversation.h) the client's runner drives.
#pragma once

#include <memory>
#include <string_view>

#include "probes/conversation.h"

namespace vpncheck::probes::pptp {

// Reply-field names the control piece reports.
inline constexpr std::string_view kClientCallId = "client_call_id";        // X, sent in the OCRQ
inline constexpr std::string_view kReflectorCallId = "reflector_call_id";  // Y, from the OCRP
inline constexpr std::string_view kStopAnswered = "stop_answered";         // StopCCRP came back: "true"/"false"
// ... and the GRE piece.
inline constexpr std::string_view kGreKey = "gre_key";                  // Y, the key our GRE carried
inline constexpr std::string_view kExpectedCallId = "expected_call_id";  // X, the key the answer must carry

// Time kept back from GRE for the StopCCRQ/StopCCRP that ends the connection cleanly.
inline constexpr std::int64_t kStopReserveMs = 250;

std::unique_ptr<conversation::ClientConversation> start_client(const conversation::Setup& setup);

}  // namespace vpncheck::probes::pptp
