#include "src/run/path_walk.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probes/control.h"
#include "src/nat/socket_errors.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using Kind = nat::WalkAnswer::Kind;

// How often the error queues are read while a hop's answer is awaited (one
// walk per family at a time), and how often a walk ready to start looks
// whether its turn came.
constexpr std::chrono::milliseconds kPoll{5};
constexpr std::chrono::milliseconds kTurnPoll{20};
// A hop's answer is awaited two round trips to the reflector (a hop is
// nearer, but routers answer from their slow path), within these bounds.
constexpr std::chrono::milliseconds kHopWaitFloor{100};
constexpr std::chrono::milliseconds kHopWaitCeiling{500};
// This many TTLs in a row that neither probe drew an answer from end the walk:
// the routers beyond send no ICMP errors (or are out of them).
constexpr int kSilentTtlsToStop = 4;

// The family's socket options and ICMP types (RFC 792; ICMPv6: RFC 4443 §3.1, §3.3).
struct FamilyTerms {
  int level;
  int hops_option;
  int recverr_option;
  std::uint8_t origin;
  std::uint8_t time_exceeded;
  std::uint8_t unreachable;
};

FamilyTerms terms_for(const asio::ip::address& remote) {
  if (remote.is_v4()) return {IPPROTO_IP, IP_TTL, IP_RECVERR, SO_EE_ORIGIN_ICMP, 11, 3};
  return {IPPROTO_IPV6, IPV6_UNICAST_HOPS, IPV6_RECVERR, SO_EE_ORIGIN_ICMP6, 3, 1};
}

bool set_int(int fd, int level, int option, int value) {
  return ::setsockopt(fd, level, option, &value, sizeof value) == 0;
}

// One copy of `wire` that goes `ttl` hops; the socket's own TTL again after
// (-1: the default, ip(7), ipv6(7)). The run is single-threaded, so no send
// of the exchange falls in between.
void send_limited(int fd, const FamilyTerms& terms, int ttl, const probes::Bytes& wire) {
  if (!set_int(fd, terms.level, terms.hops_option, ttl)) return;
  (void)::send(fd, wire.data(), wire.size(), MSG_DONTWAIT);  // an error here is an earlier ICMP answer, read from the queue
  set_int(fd, terms.level, terms.hops_option, -1);
}

nat::WalkAnswer answer_of(const nat::QueuedIcmpError& error, const FamilyTerms& terms, const std::string& remote) {
  if (error.info.ee_origin != terms.origin || error.offender.empty()) return {};
  if (error.info.ee_type == terms.time_exceeded) return {Kind::time_exceeded, error.offender};
  if (error.info.ee_type == terms.unreachable)
    return {error.offender == remote ? Kind::destination : Kind::unreachable, error.offender};
  return {};
}

// Records `answer` for the copy being walked, unless it came late: from an
// address already heard at a lower TTL of the same probe (the answer to an
// earlier copy, after its wait ended).
void record(std::vector<nat::WalkStep>& steps, nat::WalkAnswer nat::WalkStep::*probe, nat::WalkAnswer answer) {
  if (steps.empty() || answer.kind == Kind::none || (steps.back().*probe).kind != Kind::none) return;
  if (answer.kind != Kind::destination) {
    for (std::size_t i = 0; i + 1 < steps.size(); ++i)
      if ((steps[i].*probe).address == answer.address) return;
  }
  steps.back().*probe = std::move(answer);
}

bool cancelled(const asio::cancellation_state& state) { return state.cancelled() != asio::cancellation_type::none; }

}  // namespace

PathWalk::PathWalk(Config config) : config_(std::move(config)) {}

void PathWalk::control_answered(double rtt_ms) {
  control_rtt_ms_ = rtt_ms;
  if (wake_) wake_->cancel();
}

void PathWalk::read_genuine_errors(int fd) {
  const auto terms = terms_for(config_.remote);
  const auto remote = config_.remote.to_string();
  while (auto error = nat::next_queued_icmp_error(fd)) {
    auto answer = answer_of(*error, terms, remote);
    if (answer.kind != Kind::time_exceeded) real_error_ = true;
    if (ttl_ > 0) record(steps_, &nat::WalkStep::genuine, std::move(answer));
  }
}

bool PathWalk::claims_error(int fd, const boost::system::error_code& error) {
  if (!started_) return false;
  read_genuine_errors(fd);
  const bool theirs = real_error_;
  real_error_ = false;
  return !theirs && error == asio::error::host_unreachable;
}

void PathWalk::read_control(asio::ip::udp::socket& control) {
  const auto terms = terms_for(config_.remote);
  const auto remote = config_.remote.to_string();
  while (auto error = nat::next_queued_icmp_error(control.native_handle()))
    record(steps_, &nat::WalkStep::control, answer_of(*error, terms, remote));
  std::array<std::uint8_t, 4096> buffer{};
  for (;;) {
    boost::system::error_code ec;
    if (control.available(ec) == 0 || ec) break;
    const auto n = control.receive(asio::buffer(buffer), 0, ec);
    if (ec) break;
    if (config_.control_is_reply && config_.control_is_reply(probes::ByteView(buffer.data(), n)))
      record(steps_, &nat::WalkStep::control, {Kind::destination, remote});
  }
}

asio::awaitable<void> PathWalk::run(std::shared_ptr<PathWalk> walk, asio::ip::udp::socket& genuine,
                                    const probes::Bytes& wire) {
  auto executor = co_await asio::this_coro::executor;
  auto state = co_await asio::this_coro::cancellation_state;
  asio::steady_timer timer(executor);
  // False once the exchange ended (this companion was cancelled).
  // (A wake-up, control_answered cancelling the timer, is no end.)
  auto sleep_until = [&](Clock::time_point until) -> asio::awaitable<bool> {
    timer.expires_at(until);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !cancelled(state);
  };
  const probes::Bytes first = wire;  // the walk is of the first message only
  const auto& config = walk->config_;
  const auto terms = terms_for(config.remote);
  // The turn goes to the family's next walk when this one ends, however it ends.
  struct TurnGuard {
    PathWalk& walk;
    void release() {
      if (walk.holds_turn_ && walk.config_.turns) {
        auto& turns = *walk.config_.turns;
        if (turns.walking == walk.config_.position) turns.walking.reset();
        turns.waiting.erase(walk.config_.position);
      }
      walk.holds_turn_ = false;
    }
    ~TurnGuard() { release(); }
  } guard{*walk};

  try {
    // The first send and two retransmissions unanswered, each given a unit;
    // then the control's answer is waited for without polling (it wakes the timer).
    if (!co_await sleep_until(Clock::now() + 3 * config.retry_unit)) co_return;
    walk->wake_ = &timer;
    while (!walk->control_rtt_ms_ || wire != first) {
      if (!co_await sleep_until(Clock::time_point::max())) {
        walk->wake_ = nullptr;
        co_return;
      }
    }
    walk->wake_ = nullptr;
    if (config.turns) {
      auto& turns = *config.turns;
      turns.waiting.insert(config.position);
      walk->holds_turn_ = true;  // (from here on the guard also leaves the queue)
      while (turns.walking || *turns.waiting.begin() != config.position) {
        if (!co_await sleep_until(Clock::now() + kTurnPoll)) co_return;
      }
      turns.waiting.erase(config.position);
      turns.walking = config.position;
    }
    walk->holds_turn_ = true;

    const int fd = genuine.native_handle();
    asio::ip::udp::socket control(executor);
    boost::system::error_code ec;
    control.open(config.remote.is_v4() ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
    if (!ec) control.connect({config.remote, config.port}, ec);
    if (!ec) control.non_blocking(true, ec);
    if (ec || !set_int(control.native_handle(), terms.level, terms.recverr_option, 1) ||
        !set_int(fd, terms.level, terms.recverr_option, 1))
      throw boost::system::system_error(ec);
    walk->started_ = true;

    const auto wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::duration<double, std::milli>(2 * *walk->control_rtt_ms_)),
                                 kHopWaitFloor, kHopWaitCeiling);
    auto& steps = walk->steps_;
    // Collects the current TTL's answers until `done` holds or `until`.
    auto collect = [&](Clock::time_point until, auto done) -> asio::awaitable<bool> {
      for (;;) {
        walk->read_genuine_errors(fd);
        walk->read_control(control);
        if (done(steps.back()) || Clock::now() >= until) co_return true;
        if (!co_await sleep_until(std::min(until, Clock::now() + kPoll))) co_return false;
      }
    };
    int silent_run = 0;
    int silent_from = 0;  // the TTL where the genuine probe fell silent while the control went on
    for (int ttl = 1; ttl <= kMaxWalkTtl && wire == first; ++ttl) {
      // Answers still coming to the previous TTL are not this one's.
      walk->ttl_ = 0;
      walk->read_genuine_errors(fd);
      walk->read_control(control);
      walk->ttl_ = ttl;
      steps.push_back(nat::WalkStep{ttl, {}, {}});
      send_limited(fd, terms, ttl, first);
      send_limited(control.native_handle(), terms, ttl, config.control_wire);
      if (!co_await collect(Clock::now() + wait, [](const nat::WalkStep& s) {
            return s.genuine.kind != Kind::none && s.control.kind != Kind::none;
          }))
        co_return;
      auto& step = steps.back();
      if (silent_from == 0 && step.genuine.kind == Kind::none && step.control.kind != Kind::none) {
        // The one silence that decides: asked again before it is believed.
        send_limited(fd, terms, ttl, first);
        if (!co_await collect(Clock::now() + wait, [](const nat::WalkStep& s) { return s.genuine.kind != Kind::none; }))
          co_return;
        if (step.genuine.kind == Kind::none) silent_from = ttl;
      }
      if (step.control.kind == Kind::destination || step.genuine.kind == Kind::destination) break;
      // One hop past the silence shows it was no lost answer; further hops
      // would add time (and the routers' ICMP budget) the family's other walks need.
      if (silent_from != 0 && ttl > silent_from && step.control.kind != Kind::none) break;
      silent_run = step.genuine.kind == Kind::none && step.control.kind == Kind::none ? silent_run + 1 : 0;
      if (silent_run >= kSilentTtlsToStop) break;
    }
    walk->ttl_ = 0;
  } catch (const std::exception&) {
    // The walk is an addition: failing to walk leaves the probe as it was.
  }
  guard.release();
  // Stay until the exchange ends: Exchange::companion never ends on its own.
  while (co_await sleep_until(Clock::time_point::max())) {
  }
}

PlanWalks::PlanWalks(const std::vector<PlannedProbe>& plan, probes::SessionTag tag, probes::RandomFill random,
                     std::chrono::milliseconds retry_unit)
    : plan_(plan), tag_(tag), random_(std::move(random)), retry_unit_(retry_unit), walk_of_(plan.size()) {}

void PlanWalks::attach(std::size_t i, Exchange& genuine) {
  const auto& probe = plan_[i];
  // Its control is planned right after it (src/run/plan.h).
  if (probe.kind != ProbeKind::genuine || probe.variant.transport != probes::Transport::udp || i + 1 >= plan_.size())
    return;
  const auto& control = plan_[i + 1];
  if (control.kind != ProbeKind::control || control.module != probe.module || control.family != probe.family ||
      control.variant.port != probe.variant.port || control.variant.piece != probe.variant.piece ||
      control.not_run_reason)
    return;
  auto& turns = turns_[probe.family == Family::ipv6 ? 1 : 0];
  if (!turns) turns = std::make_shared<WalkTurns>();
  PathWalk::Config config;
  config.remote = genuine.remote;
  config.port = genuine.port;
  const probes::ProbeToken token{tag_, static_cast<std::uint16_t>(kWalkTokenIndexBase + i)};
  config.control_wire = probes::control::build_request(token, genuine.wire.size(), random_);
  config.control_is_reply = [request = config.control_wire](probes::ByteView reply) {
    return probes::control::is_reply_to(reply, request);
  };
  config.retry_unit = retry_unit_;
  config.turns = turns;
  config.position = i;
  auto walk = std::make_shared<PathWalk>(std::move(config));
  walk_of_[i] = walk;
  walk_of_[i + 1] = walk;
  genuine.companion = [walk](asio::ip::udp::socket& socket, const probes::Bytes& wire) {
    return PathWalk::run(walk, socket, wire);
  };
  genuine.claims_error = [walk](int fd, const boost::system::error_code& error) {
    return walk->claims_error(fd, error);
  };
}

std::optional<std::vector<nat::WalkStep>> PlanWalks::finished(std::size_t i, const ClientSide& side) {
  if (i >= walk_of_.size() || !walk_of_[i]) return std::nullopt;
  auto& walk = *walk_of_[i];
  if (plan_[i].kind == ProbeKind::control) {
    if (side.outcome == Outcome::reply) walk.control_answered(side.rtt_ms.value_or(0));
    return std::nullopt;
  }
  if (!walk.started()) return std::nullopt;
  return walk.steps();
}

}  // namespace vpncheck::client
