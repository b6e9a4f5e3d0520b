// The server (PAC) side of one PPTP control connection (TCP 1723,
// PROTOCOLS.md §2.4), without I/O: the TCP listener feeds it the bytes that
// arrived and writes back what it returns.
//
//   SCCRQ            -> SCCRP (result 1)                 [recorded, tag from Host Name]
//   OCRQ             -> OCRP (result 1, own Call ID,      [recorded: Call ID as seen, original
//                        Peer's Call ID = OCRQ's as seen)   from the Subaddress, rewritten?]
//   Set-Link-Info    -> nothing
//   StopCCRQ         -> StopCCRP, then the connection ends [recorded]
//
// Each recorded message goes through ArrivalHandler (Framing::self_delimited),
// so sessions, limits and the no-amplification rule are the usual ones. After
// an OCRP the call is entered in ArrivalHandler::pptp_calls(), so GRE keyed to
// the reflector's Call ID is answered with GRE keyed to the client's Call ID
// as the reflector saw it (an ALG maps it back).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probes/bytes.h"
#include "probes/observation.h"
#include "reflector/arrival.h"

namespace vpncheck::reflector {

class PptpConnection {
 public:
  enum class State {
    wait_sccrq,  // nothing yet
    connected,   // SCCRP sent: an OCRQ may come
    in_call,     // OCRP sent (one call per connection, as Linux's helper supports)
    closed,      // StopCCRP sent or the peer broke the protocol: end the connection
  };
  static constexpr std::size_t kMaxMessages = 16;  // per connection; beyond, it is closed

  struct Step {
    std::size_t consumed = 0;  // bytes of the buffer used up (0: need more bytes)
    probes::Bytes reply;       // to write now (may be empty)
    std::optional<ArrivalOutcome> outcome;  // for reply_sent / reply_failed
    bool close = false;        // end the connection (after writing `reply`)
  };

  PptpConnection(ArrivalHandler& arrivals, std::uint16_t local_port, probes::Endpoint client,
                 std::optional<std::string> local_address = std::nullopt);

  // Looks at the start of `buffered`: a whole message is handled (consumed > 0),
  // a valid prefix asks for more (consumed == 0, close == false), anything
  // else closes the connection.
  Step on_bytes(probes::ByteView buffered, std::int64_t now_ms);

  State state() const { return state_; }
  // The reflector's Call ID of this connection's call, once it answered an OCRQ.
  std::optional<std::uint16_t> reflector_call_id() const { return reflector_call_id_; }

 private:
  Step handle_message(probes::ByteView message, std::uint16_t type, std::int64_t now_ms);
  ArrivalOutcome record(probes::ByteView message, std::int64_t now_ms);

  ArrivalHandler& arrivals_;
  std::uint16_t local_port_;
  probes::Endpoint client_;
  std::optional<std::string> local_address_;
  State state_ = State::wait_sccrq;
  std::size_t messages_ = 0;
  std::optional<std::uint16_t> reflector_call_id_;
};

std::string_view to_string(PptpConnection::State state);

// Do these first bytes of a TCP stream look like a PPTP control message
// (PPTP message type 1 at bytes 2-3, then the magic cookie as far as present)?
// Needs at least 4 bytes. OpenVPN's 2-byte length is followed by an opcode
// byte that is never 0, so the two cannot be confused.
bool looks_like_pptp(probes::ByteView head);

}  // namespace vpncheck::reflector
