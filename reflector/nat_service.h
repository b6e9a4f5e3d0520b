// The NAT test service (issue #5, PROTOCOLS.md §10.2): UDP sockets on the
// primary and alternate NAT test ports, on every IPv4 listen address and on
// the optional alternate address (--alt-address). It answers "nat probe"
// requests (probes/nat_probe.h) of live sessions only, with the observed
// source, from where the request went and, when asked, also from the other
// port or the other address (filtering tests); lifetime requests get a second
// answer after their idle gap. Every reply is rate limited per source and all
// replies to one request together are never larger than the request. Size
// requests (path MTU and fragments) are echoed at their own size, with DF
// when asked, and the echo says whether the request arrived in fragments.
// IPv4 only (NAT behaviour is an IPv4 question here).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "reflector/log.h"
#include "reflector/rate_limit.h"
#include "reflector/session_table.h"
#include "probes/nat_probe.h"
#include "probes/session_lru.h"

namespace vpncheck::reflector {

class NatService {
 public:
  // At most this many lifetime answers wait at once, and this many of one
  // session's: to make room a session at its quota gives up its own oldest,
  // a full table the oldest of the session holding the most
  // (probes/session_lru.h); the session that lost one is told.
  static constexpr std::size_t kMaxPendingLate = 4096;
  static constexpr std::size_t kPendingLatePerSession = 64;

  NatService(boost::asio::io_context& io, SessionTable& sessions, RateLimiter* limiter, Logger& log);
  ~NatService();
  NatService(const NatService&) = delete;
  NatService& operator=(const NatService&) = delete;

  // `ports`: primary then (optionally) alternate; 0 = any free port. `alternate`:
  // a second local IPv4 address. Binds every socket or none; returns why not.
  std::optional<std::string> bind(const std::vector<std::string>& listen, const std::optional<std::string>& alternate,
                                  const std::vector<std::uint16_t>& ports);
  void start();
  void close();
  // The session holding `tag` ended: its pending lifetime answers are cancelled.
  void forget_session(const probes::SessionTag& tag);

  const std::vector<std::uint16_t>& ports() const { return ports_; }  // as bound
  const std::optional<std::string>& alternate_address() const { return alternate_; }
  bool active() const { return !sockets_.empty(); }

 private:
  struct Socket {
    std::unique_ptr<boost::asio::ip::udp::socket> socket;
    boost::asio::ip::address_v4 address;  // any() for a wildcard socket
    std::uint16_t port = 0;
  };
  boost::asio::awaitable<void> listen(Socket& s);
  void handle(const Socket& s, probes::ByteView datagram, const boost::asio::ip::udp::endpoint& from,
              const boost::asio::ip::address_v4& destination, std::optional<int> largest_fragment);
  // Sends from (address, port): a socket bound there, or a wildcard socket on
  // that port with the source pinned by IP_PKTINFO. False if none or it failed.
  // `dont_fragment`: an echo of a size request goes with DF set (true: a path
  // MTU probe) or is fragmented as needed (false); unset: the socket's default.
  bool send_from(const boost::asio::ip::address_v4& address, std::uint16_t port,
                 const boost::asio::ip::udp::endpoint& to, const probes::Bytes& payload,
                 std::optional<bool> dont_fragment = std::nullopt);
  void schedule_late(const probes::natprobe::Request& request, const boost::asio::ip::udp::endpoint& to,
                     const boost::asio::ip::address_v4& address, std::uint16_t port);

  boost::asio::io_context& io_;
  SessionTable& sessions_;
  RateLimiter* limiter_;
  Logger& log_;
  std::vector<Socket> sockets_;
  std::vector<std::uint16_t> ports_;
  std::optional<std::string> alternate_;
  // Pending lifetime answers by (token, nonce): a retransmitted request restarts its gap.
  using LateKey = std::tuple<std::array<std::uint8_t, probes::kProbeTokenSize>, std::uint32_t>;
  struct LateKeyHash {
    std::size_t operator()(const LateKey& k) const {
      std::size_t h = std::get<1>(k);
      for (auto b : std::get<0>(k)) h = h * 131 + b;
      return h;
    }
  };
  struct Late {
    std::shared_ptr<boost::asio::steady_timer> timer;
    std::uint16_t port = 0;  // the NAT test port it was asked on
  };
  probes::SessionLru<LateKey, Late, LateKeyHash> late_{kMaxPendingLate, kPendingLatePerSession};
};

}  // namespace vpncheck::reflector
