// What every listener coroutine shares, owned by Server. All of it is used
// from the server's single I/O thread only.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstddef>

#include "probes/observation.h"
#include "reflector/arrival.h"
#include "reflector/config.h"
#include "reflector/control_api.h"
#include "reflector/log.h"
#include "reflector/refusals.h"
#include "reflector/session_table.h"

namespace vpncheck::reflector {

struct Services {
  Logger& log;
  Timeouts timeouts;
  SessionTable& sessions;
  ArrivalHandler& arrivals;
  ControlApi& control;
  std::size_t max_connections = 1024;
  std::size_t active_connections = 0;
  // Connections refused for want of a slot, by source address (reported to
  // the sessions from there); nullptr: not recorded.
  ConnectionRefusals* refusals = nullptr;
};

// Counts one TCP connection for as long as it lives.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(Services& s) : services_(s) { ++services_.active_connections; }
  ~ConnectionSlot() { --services_.active_connections; }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  Services& services_;
};

// An address as a client would write it: IPv4-mapped IPv6 shown as IPv4.
inline probes::Endpoint to_endpoint(const boost::asio::ip::address& address, std::uint16_t port) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return {boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6()).to_string(), port};
  return {address.to_string(), port};
}

}  // namespace vpncheck::reflector
