// The reflector server: binds the control API and probe listeners, runs one
// coroutine per listener on a single I/O thread, stops on request.
//
// In-process use (tests):
//
//   Config cfg;                       // ports 0 = ephemeral
//   cfg.listen = {"127.0.0.1"}; cfg.control_port = 0; cfg.web_control_ports = {};
//   cfg.udp_ports = {0}; cfg.tcp_ports = {0};
//   Server server(cfg);
//   if (auto err = server.start()) FAIL() << *err;   // binds; nothing runs yet
//   std::thread io([&] { server.run(); });
//   ... server.ports().control / .udp / .tcp ...
//   server.stop(); io.join();                        // stop() is thread-safe
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reflector/raw_listener.h"
#include "probes/observation.h"
#include "reflector/arrival.h"
#include "reflector/config.h"
#include "reflector/control_api.h"
#include "reflector/log.h"
#include "reflector/metrics.h"
#include "reflector/nat_service.h"
#include "reflector/rate_limit.h"
#include "reflector/refusals.h"
#include "reflector/services.h"
#include "reflector/session_table.h"
#include "reflector/tcp_listener.h"
#include "reflector/tls_acceptor.h"

namespace vpncheck::reflector {

// What is actually listening (port 0 in the Config resolved to the real port).
struct BoundPorts {
  std::uint16_t control = 0;
  std::vector<std::uint16_t> web_control;  // only those that could be bound
  std::vector<std::uint16_t> udp;
  std::vector<std::uint16_t> tcp;
  std::vector<std::string> raw;  // raw IPv4 listeners that could be opened ("esp", "ah", "gre")
  std::vector<std::string> raw6;  // raw IPv6 listeners that could be opened ("esp", "ah", "gre")
  std::vector<std::uint16_t> nat;  // NAT test service: primary[, alternate] (IPv4)
  // Probe ports that could not be bound on every listen address, with why:
  // left out everywhere, served nowhere, offered to clients as unavailable.
  std::vector<probes::UnavailablePort> unavailable;
};

class Server {
 public:
  // `log` nullptr: a Logger on stderr at config.log_level.
  explicit Server(Config config, Logger* log = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every socket and queues the listener coroutines. Returns a message
  // naming the first port that could not be bound (then nothing listens);
  // a web-control-only port that fails is logged as a warning and skipped.
  std::optional<std::string> start();
  // Serves until stop(); call from exactly one thread.
  void run();
  // Thread-safe and idempotent: closes every listener and ends run().
  void stop();

  const BoundPorts& ports() const { return ports_; }
  boost::asio::io_context& context() { return *io_; }
  const std::string& wireguard_public_key_hex() const { return wireguard_key_hex_; }
  // Read only from the I/O thread or after run() returned.
  const DropCounters& drops() const { return metrics_.drops; }
  const Metrics& metrics() const { return metrics_; }
  const SessionTable& sessions() const { return sessions_; }
  const ArrivalHandler& arrivals() const { return arrivals_; }
  const RateLimiter& limiter() const { return limiter_; }
  const ConnectionRefusals& refusals() const { return refusals_; }

 private:
  // `why`, when given, receives the error of a failed bind (or listen).
  std::optional<std::string> bind_udp(const std::string& address, std::uint16_t port, bool v6_only,
                                      std::uint16_t& bound, boost::system::error_code* why = nullptr);
  std::optional<std::string> bind_tcp(const std::string& address, std::uint16_t port, bool v6_only,
                                      std::uint16_t& bound, boost::asio::ip::tcp::acceptor*& out,
                                      boost::system::error_code* why = nullptr);
  void close_listeners();
  void log_startup();

  Config config_;
  std::vector<std::string> listen_;  // config_.listen, less "::" when the default and the host has no IPv6
  std::unique_ptr<Logger> own_log_;
  Logger& log_;
  std::array<std::uint8_t, 32> wireguard_key_{};
  std::string wireguard_key_hex_;
  Metrics metrics_;  // every counter, one place (GET /metrics)
  RateLimiter limiter_;
  ConnectionRefusals refusals_;  // TCP connections refused for want of a slot, by source address
  SessionTable sessions_;
  ArrivalHandler arrivals_;
  std::unique_ptr<ControlApi> control_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<TlsIdentity> tls_;  // set when a TLS-wrapped variant's port is bound
  BoundPorts ports_;
  std::vector<std::string> listening_;  // start-up log lines

  // Destroyed first (see ~Server): sockets and the io_context that owns the
  // coroutine frames go before the state those frames refer to.
  std::unique_ptr<boost::asio::io_context> io_;
  std::vector<std::unique_ptr<boost::asio::ip::udp::socket>> udp_sockets_;
  std::vector<std::pair<std::uint8_t, std::unique_ptr<RawSocket>>> raw_sockets_;
  std::vector<std::pair<std::uint8_t, std::unique_ptr<RawSocket>>> raw6_sockets_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::vector<TcpRole> acceptor_roles_;
  std::unique_ptr<boost::asio::steady_timer> sweep_;
  std::unique_ptr<NatService> nat_;
  std::atomic<bool> stopped_{false};
};

}  // namespace vpncheck::reflector
