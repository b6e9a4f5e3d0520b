// Runs the whole plan concurrently under one deadline: a clean network
// finishes as soon as every probe is answered; a blocked one costs one timeout.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "probes/probe.h"
#include "src/nat/drop_point.h"
#include "src/run/conversation.h"
#include "src/run/exchange.h"
#include "src/run/plan.h"
#include "src/run/result.h"

namespace vpncheck::client {

struct RunSettings {
  boost::asio::ip::address reflector;  // IPv4 probes (and any probe when reflector_v6 is unset)
  std::optional<boost::asio::ip::address> reflector_v6;  // IPv6 probes
  probes::SessionTag tag{};
  probes::ServerHints hints;
  // The reflector's certificate (Capabilities::tls_certificate_sha256), pinned
  // by genuine probes of TLS-wrapped variants.
  std::string tls_certificate_sha256;
  // Modules whose data packets the reflector recognises (Capabilities::pieces
  // "<id>/data"): their UDP genuine probes run the data phase once answered.
  std::vector<std::string> data_phase_modules;
  // Those it also recognises over raw IP ("<id>/data-ip"): their raw genuine
  // probes of DataPhase::ip_piece run it too.
  std::vector<std::string> data_phase_ip_modules;
  std::chrono::milliseconds timeout{3000};
  probes::RandomFill random;
  // The wire actions are injectable so the runner can be tested without a
  // network: single exchanges and conversations' datagram flows, and
  // conversations' streams (src/run/conversation.h).
  ExchangeFn exchange = run_exchange;
  StreamConnector connect_stream = client::connect_stream;
  // After each probe finishes: its position in the plan, how many have finished, of how many.
  std::function<void(std::size_t position, std::size_t done, std::size_t total)> on_progress;
  // Set: UDP genuine probes that go unanswered while their control is
  // answered are walked with rising TTL (src/run/path_walk.h), and each walk
  // that started is handed over here when its probe finishes.
  std::function<void(std::size_t position, std::vector<nat::WalkStep> steps)> on_walk;
};

// The exchange a planned probe runs: its bytes (framed for TCP), the reply
// check, and for genuine probes the module's optional hooks.
Exchange make_exchange(const PlannedProbe& probe, const RunSettings& settings);

boost::asio::awaitable<std::vector<ProbeResult>> run_plan(const std::vector<PlannedProbe>& plan,
                                                          const RunSettings& settings);

}  // namespace vpncheck::client
