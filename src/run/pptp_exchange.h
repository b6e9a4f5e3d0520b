// The PPTP conversation a client (PNS) holds with the reflector, both pieces
// of the pptp module in one go, because GRE is keyed to the Call IDs the
// control connection negotiates (PROTOCOLS.md §2.4):
//
//   TCP connect 1723, SCCRQ -> SCCRP(1), OCRQ(random Call ID X) -> OCRP(Y, peer X),
//   Set-Link-Info(Y); raw GRE keyed to Y carrying the LCP Configure-Request
//   with the token -> GRE keyed to X from the reflector; StopCCRQ -> StopCCRP.
//
// The TCP connection stays open while GRE is tested, as a real client's does
// (an ALG ties the GRE expectations to it). Without CAP_NET_RAW the control
// part still runs and the GRE side is not_permitted.
#pragma once

#include <functional>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "probes/probe.h"
#include "src/run/exchange.h"
#include "src/run/result.h"

namespace vpncheck::client {

using ExchangeRunner = std::function<boost::asio::awaitable<ClientSide>(Exchange)>;

struct PptpExchange {
  boost::asio::ip::address remote;
  std::uint16_t control_port = 1723;
  probes::ProbeToken control_token;            // the control piece's probe (SCCRQ Host Name, OCRQ Subaddress)
  std::optional<probes::ProbeToken> gre_token;  // the GRE piece's probe; nullopt: GRE is not run
  Clock::time_point deadline;
  std::chrono::milliseconds retry_unit{250};  // see retry_unit() in src/run/retry.h
  probes::RandomFill random;
  // Runs the raw GRE part (run_exchange); tests inject their own.
  ExchangeRunner gre_exchange = run_exchange;
};

// Reply-field names (ClientSide::reply_fields) the control piece reports.
inline constexpr std::string_view kClientCallId = "client_call_id";        // X, sent in the OCRQ
inline constexpr std::string_view kReflectorCallId = "reflector_call_id";  // Y, from the OCRP
inline constexpr std::string_view kStopAnswered = "stop_answered";         // StopCCRP came back: "true"/"false"

struct PptpSides {
  ClientSide control;
  // Set when the exchange decided the GRE piece's fate (ran it, or could not
  // because the control connection failed); nullopt when gre_token was nullopt.
  std::optional<ClientSide> gre;
};

boost::asio::awaitable<PptpSides> run_pptp_exchange(PptpExchange exchange);

}  // namespace vpncheck::client
