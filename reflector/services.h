// What every listener coroutine shares, owned by Server. All of it is used
// from the server's single I/O thread only.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>

#include "probes/observation.h"
#include "reflector/arrival.h"
#include "reflector/config.h"
#include "reflector/control_api.h"
#include "reflector/log.h"
#include "reflector/refusals.h"
#include "reflector/session_table.h"

namespace vpncheck::reflector {

class TlsIdentity;

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
  // Of max_connections, the slots only the control API's own listeners (not
  // a port shared with probes) may take: however many probe connections are
  // held open, an honest client can still open a session.
  std::size_t control_reserve = 0;
  // Connections at once from one client_key (IPv4 address, IPv6 /64).
  std::size_t max_connections_per_client = 64;
  std::unordered_map<std::string, std::size_t> connections_by_client{};
  // The certificate TLS-wrapped probe ports present (reflector/tls_acceptor.h);
  // nullptr: no TLS is offered.
  TlsIdentity* tls = nullptr;
  // The operator gave the certificate (--tls-certificate): the control API is
  // offered inside TLS too, on its own port and on the ports it shares with
  // probes, so the auth key and session ids need not cross the network in
  // the clear. A self-made certificate is not offered for it: no client could
  // know it before its session.
  bool control_tls = false;
};

// Counts one TCP connection, in the total and for its client, for as long as it lives.
class ConnectionSlot {
 public:
  ConnectionSlot(Services& s, std::string client) : services_(&s), client_(std::move(client)) {
    ++services_->active_connections;
    ++services_->connections_by_client[client_];
  }
  ~ConnectionSlot() {
    if (services_ == nullptr) return;
    --services_->active_connections;
    auto it = services_->connections_by_client.find(client_);
    if (it != services_->connections_by_client.end() && --it->second == 0) services_->connections_by_client.erase(it);
  }
  ConnectionSlot(ConnectionSlot&& other) noexcept
      : services_(std::exchange(other.services_, nullptr)), client_(std::move(other.client_)) {}
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;

 private:
  Services* services_;
  std::string client_;
};

// An address as a client would write it: IPv4-mapped IPv6 shown as IPv4.
inline probes::Endpoint to_endpoint(const boost::asio::ip::address& address, std::uint16_t port) {
  if (address.is_v4()) return {ipv4_text(address.to_v4().to_bytes()), port};
  if (address.to_v6().is_v4_mapped())
    return {ipv4_text(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6()).to_bytes()), port};
  return {address.to_string(), port};
}

}  // namespace vpncheck::reflector
