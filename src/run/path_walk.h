// The path walk: for a UDP variant whose genuine probe goes unanswered while
// its same-size control probe was answered, copies of the genuine probe with
// rising TTL (IPv6: hop limit) on the genuine probe's own socket (same
// 5-tuple, so the same NAT mapping and the same middlebox decision), and
// copies of a control probe on a socket of its own, each TTL's "time
// exceeded" read from the sockets' error queues (IP_RECVERR, IPV6_RECVERR).
// What the copies drew is classified by src/nat/drop_point.h.
//
// It never makes a run longer: it runs inside the genuine probe's exchange
// (Exchange::companion), between its retransmissions, and ends with it, at
// an answer or the deadline. It starts once the control was answered and the
// genuine probe missed its first send and two retransmissions.
//
// Routers limit their ICMP errors (Linux: a burst of 6 per destination, then
// one a second; see src/nat/hop_trace.h), and the hop trace and every walk
// draw on the same routers. So walks of one address family take turns, each
// TTL is asked once per probe (the genuine copy first, so that when a
// router's budget runs out it is the control's answer that goes missing, a
// gap the classifier will not conclude from), only the first silence of the
// genuine copy at a hop the control passed is asked again, and the walk ends
// one answering hop past it (or at the reflector).
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <set>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "probes/bytes.h"
#include "src/nat/drop_point.h"
#include "src/run/exchange.h"
#include "src/run/plan.h"
#include "src/run/result.h"

namespace vpncheck::client {

// Probe indices of the walk's control copies: not the plan's (so the
// reflector's records of them attach to no probe), not the NAT tests' (0xF000).
inline constexpr std::uint16_t kWalkTokenIndexBase = 0xE000;
// TTLs walked at most: past a home router, a provider's access and core
// routers and a few transit hops; the drops it looks for are near the user.
inline constexpr int kMaxWalkTtl = 12;

// The walks of one run that take turns (one address family's): of those
// ready, the earliest in the plan goes first (standard variants come first).
struct WalkTurns {
  std::optional<std::size_t> walking;  // the plan position of the walk on the wire
  std::set<std::size_t> waiting;       // those of the walks ready to start
};

class PathWalk {
 public:
  struct Config {
    boost::asio::ip::address remote;
    std::uint16_t port = 0;
    // A control probe of the genuine probe's size and its reply check.
    probes::Bytes control_wire;
    std::function<bool(probes::ByteView)> control_is_reply;
    std::chrono::milliseconds retry_unit{250};
    std::shared_ptr<WalkTurns> turns;
    std::size_t position = 0;  // the genuine probe's place in the plan
  };
  explicit PathWalk(Config config);

  // The runner's word that the variant's control probe was answered, after
  // `rtt_ms`: the walk may start, and that round trip sets how long a hop's
  // answer is waited for.
  void control_answered(double rtt_ms);

  // The companion of the genuine probe's exchange (Exchange::companion).
  static boost::asio::awaitable<void> run(std::shared_ptr<PathWalk> walk, boost::asio::ip::udp::socket& genuine,
                                          const probes::Bytes& wire);
  // Exchange::claims_error: reads the genuine socket's error queue; true
  // when `error` is what a time exceeded reads as (EHOSTUNREACH, ip(7),
  // ipv6(7)) and every error queued was one the walk drew.
  bool claims_error(int fd, const boost::system::error_code& error);

  bool started() const { return started_; }
  std::vector<nat::WalkStep> steps() const { return steps_; }

 private:
  void read_genuine_errors(int fd);
  void read_control(boost::asio::ip::udp::socket& control);

  Config config_;
  std::optional<double> control_rtt_ms_;
  // The timer the walk waits on for the control's answer, while it does.
  boost::asio::steady_timer* wake_ = nullptr;
  bool started_ = false;
  bool holds_turn_ = false;
  bool real_error_ = false;  // an error on the genuine socket that was not the walk's
  int ttl_ = 0;              // the TTL whose answers are being collected
  std::vector<nat::WalkStep> steps_;
};

// The walks of one plan, for the runner: each UDP genuine probe with a
// runnable control gets one, attached to its exchange; the control's
// completion starts it, the genuine's hands its steps over.
class PlanWalks {
 public:
  PlanWalks(const std::vector<PlannedProbe>& plan, probes::SessionTag tag, probes::RandomFill random,
            std::chrono::milliseconds retry_unit);
  // Gives plan position `i`'s exchange a walk when it is one to walk.
  void attach(std::size_t i, Exchange& genuine);
  // Position `i` finished with `side`: the steps of its walk when it is a
  // genuine probe whose walk started, else nullopt.
  std::optional<std::vector<nat::WalkStep>> finished(std::size_t i, const ClientSide& side);

 private:
  const std::vector<PlannedProbe>& plan_;
  probes::SessionTag tag_;
  probes::RandomFill random_;
  std::chrono::milliseconds retry_unit_;
  std::array<std::shared_ptr<WalkTurns>, 2> turns_;  // IPv4, IPv6
  std::vector<std::shared_ptr<PathWalk>> walk_of_;   // by plan position: genuine and control alike
};

}  // namespace vpncheck::client
