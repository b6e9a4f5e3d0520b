#include "src/nat/nat_runner.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>

#include "probes/nat_probe.h"
#include "src/nat/socket_errors.h"

namespace vpncheck::nat {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;
namespace np = probes::natprobe;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// DF is a per-socket option on Linux: set it for the next send. PROBE sets DF
// without consulting the path MTU cache, so a probe leaves at its own size.
void set_dont_fragment(udp::socket& socket, bool on) {
  const int value = on ? IP_PMTUDISC_PROBE : IP_PMTUDISC_DONT;
  ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_MTU_DISCOVER, &value, sizeof value);
}

struct Incoming {
  np::Reply reply;
  udp::endpoint from;
};

// One request of a test, sent round after round (kCopiesPerRound fresh
// copies each time) until the answer it is about came, its absence is
// strong evidence, or the window ends.
struct Ask {
  udp::endpoint to;
  np::Type type = np::Type::bind;
  std::uint8_t flags = 0;
  std::uint16_t gap_s = 0;
  std::size_t size = np::kMinRequestSize;  // UDP payload bytes
  std::optional<bool> dont_fragment;       // size requests: send with DF (true) or fragment as needed (false)
  int copies = kCopiesPerRound;
  // The answer that shows the request arrived and the way back works (from
  // `to`), and the one the test is about (from `want_from`, default `to`).
  np::Origin direct = np::Origin::primary;
  np::Origin want = np::Origin::primary;
  std::function<bool(const udp::endpoint&)> want_from;
  bool loss_sample = true;    // once answered, its tries measure the loss
  bool control = false;       // fresh tries every round, never keeps the test going
  bool same_request = false;  // every try repeats one request (lifetime: the reflector restarts its gap)
  int weight = 1;             // round trips' worth of packets one try needs
  // What happened.
  std::vector<np::Request> requests;  // one per try (same_request: one)
  std::vector<TryRecord> tries;
  std::vector<Incoming> got;          // its direct and wanted answers
  bool refused_locally = false;       // this host cannot send it (EMSGSIZE: its own interface MTU)

  bool want_is_direct() const { return want == direct && !want_from; }
  bool wanted_from(const udp::endpoint& from) const { return want_from ? want_from(from) : from == to; }
  const Incoming* wanted() const {
    for (const auto& in : got)
      if (in.reply.origin == want && wanted_from(in.from)) return &in;
    return nullptr;
  }
  const Incoming* direct_answer() const {
    for (const auto& in : got)
      if (in.reply.origin == direct && in.from == to) return &in;
    return nullptr;
  }
};

// Where a datagram for the reflector's IPv4 `address` goes: there, or behind
// a NAT64 to that address synthesized under the prefix (RFC 6052).
udp::endpoint wire(const NatTestPlan& plan, const asio::ip::address_v4& address, std::uint16_t port) {
  if (plan.via_nat64)
    if (auto v6 = synthesize_ipv6(*plan.via_nat64, address.to_bytes())) return {asio::ip::address_v6(*v6), port};
  return {address, port};
}

// The reflector's IPv4 address a datagram came from: its source, or behind a
// NAT64 the address its source embeds.
std::optional<asio::ip::address_v4> ipv4_source(const NatTestPlan& plan, const udp::endpoint& from) {
  if (from.address().is_v4()) return from.address().to_v4();
  if (!plan.via_nat64) return std::nullopt;
  const auto bytes = from.address().to_v6().to_bytes();
  Ipv6 a{};
  std::copy(bytes.begin(), bytes.end(), a.begin());
  const auto v4 = embedded_ipv4(a, plan.via_nat64->length);
  if (!v4 || synthesize_ipv6(*plan.via_nat64, *v4) != a) return std::nullopt;
  return asio::ip::address_v4(*v4);
}

class Exchange;

struct Context {
  NatTestPlan plan;
  std::uint16_t next_index = kNatTokenIndexBase;
  // The loss is pooled over every test: the exchanges running now and those done.
  std::vector<const Exchange*> live;
  LossEstimate done;

  np::Request request(np::Type type, std::uint8_t flags = 0, std::uint16_t gap_s = 0) {
    np::Request q;
    q.type = type;
    q.flags = flags;
    q.token.tag = plan.tag;
    q.token.probe_index = next_index++;
    std::array<std::uint8_t, 4> nonce{};
    if (plan.random) plan.random(nonce);
    q.nonce = (std::uint32_t{nonce[0]} << 24) | (std::uint32_t{nonce[1]} << 16) | (std::uint32_t{nonce[2]} << 8) | nonce[3];
    q.gap_s = gap_s;
    return q;
  }
  std::vector<asio::ip::address_v4> sources() const {
    std::vector<asio::ip::address_v4> out{plan.primary};
    if (plan.alternate) out.push_back(*plan.alternate);
    return out;
  }
  LossEstimate pooled(Clock::time_point now) const;
};

// The asks of one test on one socket, and the rounds that send them.
class Exchange {
 public:
  Exchange(std::shared_ptr<Context> ctx, udp::socket& socket, std::vector<Ask> to_ask)
      : asks(std::move(to_ask)), ctx_(std::move(ctx)), socket_(socket) {}
  ~Exchange() { unregister(); }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Rounds at retry_offset(0, 1, ...) from now, each only if its answers can
  // come before `deadline`, until done (every non-control ask's wanted
  // answer came, or its absence is strong evidence) or the deadline.
  asio::awaitable<void> run(Clock::time_point deadline) {
    started_ = Clock::now();
    ctx_->live.push_back(this);
    registered_ = true;
    std::vector<std::uint8_t> buffer(np::kMaxSizeRequest);
    asio::steady_timer timer(socket_.get_executor());
    bool stop = false;
    for (std::size_t round = 0; !stop; ++round) {
      send_round();
      while (true) {
        const auto next = started_ + retry_offset(round + 1);
        const bool another = next + wait() <= deadline;
        const auto until = another ? next : deadline;
        auto now = Clock::now();
        if (finished(now)) {
          stop = true;
          break;
        }
        if (now >= until) {
          stop = !another;
          break;
        }
        // Wake up for a datagram, the next round, or when a try's answer is overdue.
        timer.expires_at(std::min(until, next_overdue(now)));
        udp::endpoint from;
        auto result =
            co_await (socket_.async_receive_from(asio::buffer(buffer), from, kAwait) || timer.async_wait(kAwait));
        if (result.index() == 1) continue;
        auto [ec, n] = std::get<0>(result);
        if (ec == asio::error::operation_aborted) {
          stop = true;
          break;
        }
        // Other errors (e.g. ICMP port unreachable as ECONNREFUSED): keep listening.
        if (!ec) take(probes::ByteView(buffer).first(n), from);
      }
    }
    ended_ = Clock::now();
    unregister();
  }

  Clock::time_point ended() const { return ended_; }
  Clock::duration wait() const {
    return settle_grace(round_trip_.value_or(std::chrono::microseconds(0)), ctx_->plan.timeout);
  }
  TryTally tally(const Ask& ask, Clock::time_point now) const {
    return nat::tally(ask.tries, ask.want_is_direct(), now, wait());
  }
  TryTally tally(const Ask& ask) const { return tally(ask, ended_); }
  // The loss its answered asks measured, as known at `now`.
  LossEstimate loss(Clock::time_point now) const {
    LossEstimate l;
    for (const auto& ask : asks)
      if (ask.loss_sample) l += tally(ask, now).loss;
    return l;
  }
  std::optional<std::chrono::microseconds> round_trip() const { return round_trip_; }

  std::vector<Ask> asks;

 private:
  void unregister() {
    if (!registered_) return;
    registered_ = false;
    ctx_->live.erase(std::remove(ctx_->live.begin(), ctx_->live.end(), this), ctx_->live.end());
    ctx_->done += loss(ended_ == Clock::time_point{} ? Clock::now() : ended_);
  }

  void send_round() {
    for (std::size_t a = 0; a < asks.size(); ++a) {
      auto& ask = asks[a];
      if (!ask.control && (ask.wanted() != nullptr || ask.refused_locally)) continue;
      const int copies = ask.same_request ? 1 : std::max(ask.copies, 1);
      for (int c = 0; c < copies; ++c) {
        if (!ask.same_request || ask.requests.empty()) {
          ask.requests.push_back(ctx_->request(ask.type, ask.flags, ask.gap_s));
          index_[ask.requests.back().token.probe_index] = a;
        }
        const auto& request = ask.requests.back();
        if (ask.dont_fragment) set_dont_fragment(socket_, *ask.dont_fragment);
        const auto bytes = np::build_request(request, ask.size);
        boost::system::error_code ec;
        socket_.send_to(asio::buffer(bytes), ask.to, 0, ec);
        // A send fails once for each ICMP error queued on the socket since the
        // last call (e.g. the path test's "fragmentation needed"): try again.
        // A second EMSGSIZE is this host's own interface MTU: that size cannot
        // leave, and no echo will come, as it should not.
        if (ec) socket_.send_to(asio::buffer(bytes), ask.to, 0, ec);
        if (ec == asio::error::message_size) ask.refused_locally = true;
        if (ec) continue;  // not sent: not a try
        ask.tries.push_back({Clock::now()});
        // Each copy is a request of its own, so an answer names its try.
        if (!ask.same_request) try_of_[request.token.probe_index] = ask.tries.size() - 1;
      }
    }
  }

  void take(probes::ByteView datagram, const udp::endpoint& from) {
    const auto sources = ctx_->sources();
    const auto source = ipv4_source(ctx_->plan, from);
    if (!source || std::find(sources.begin(), sources.end(), *source) == sources.end()) return;
    auto reply = np::parse_reply(datagram);
    if (!reply) return;
    auto it = index_.find(reply->token.probe_index);
    if (it == index_.end()) return;
    auto& ask = asks[it->second];
    auto request = std::find_if(ask.requests.begin(), ask.requests.end(),
                                [&](const np::Request& q) { return np::answers(*reply, q); });
    if (request == ask.requests.end() || ask.tries.empty()) return;
    const bool direct = reply->origin == ask.direct && from == ask.to;
    const bool wanted = reply->origin == ask.want && ask.wanted_from(from);
    if (!direct && !wanted) return;
    const auto t = try_of_.find(reply->token.probe_index);
    auto& record = ask.tries[t != try_of_.end() ? t->second : ask.tries.size() - 1];
    if (direct && !round_trip_)
      round_trip_ = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - record.sent);
    record.direct = record.direct || direct;
    record.wanted = record.wanted || wanted;
    ask.got.push_back({*reply, from});
  }

  bool finished(Clock::time_point now) const {
    const auto loss = ctx_->pooled(now);
    for (const auto& ask : asks) {
      if (ask.control || ask.refused_locally) continue;
      const auto t = tally(ask, now);
      if (t.wanted) continue;
      if (chance_by_loss(loss, t.missing, ask.weight) >= kChanceThreshold) return false;
    }
    return true;
  }

  // The next moment an unanswered try becomes overdue (or far in the future).
  Clock::time_point next_overdue(Clock::time_point now) const {
    auto next = Clock::time_point::max();
    for (const auto& ask : asks)
      for (const auto& r : ask.tries)
        if (!r.direct && !r.wanted && r.sent + wait() > now) next = std::min(next, r.sent + wait());
    return next;
  }

  std::shared_ptr<Context> ctx_;
  udp::socket& socket_;
  std::map<std::uint16_t, std::size_t> index_;   // token index -> ask
  std::map<std::uint16_t, std::size_t> try_of_;  // token index -> try
  std::optional<std::chrono::microseconds> round_trip_;
  Clock::time_point started_{}, ended_{};
  bool registered_ = false;
};

LossEstimate Context::pooled(Clock::time_point now) const {
  LossEstimate l = done;
  for (const auto* x : live) l += x->loss(now);
  return l;
}

bool open_socket(udp::socket& socket, const NatTestPlan& plan) {
  boost::system::error_code ec;
  const auto family = plan.via_nat64 ? udp::v6() : udp::v4();
  socket.open(family, ec);
  if (!ec) socket.bind(udp::endpoint(family, 0), ec);
  return !ec;
}

std::uint16_t local_port(const udp::socket& socket) {
  boost::system::error_code ec;
  return socket.local_endpoint(ec).port();
}

Ask bind_ask(const udp::endpoint& to, std::uint8_t flags = 0) {
  Ask a;
  a.to = to;
  a.type = np::Type::bind;
  a.flags = flags;
  return a;
}

// Mapping: one socket to (A1,P1), (A1,P2) and (A2,P1); each answer must come
// from where the request went.
asio::awaitable<void> mapping_test(std::shared_ptr<Context> ctx, std::shared_ptr<NatMeasurements> m) {
  udp::socket socket(co_await asio::this_coro::executor);
  if (!open_socket(socket, ctx->plan)) co_return;
  const auto& p = ctx->plan;
  std::vector<Ask> asks;
  std::vector<std::optional<probes::Endpoint>*> slots;
  asks.push_back(bind_ask(wire(p, p.primary, p.port)));
  slots.push_back(&m->mapping.to_primary);
  if (p.other_port) {
    asks.push_back(bind_ask(wire(p, p.primary, *p.other_port)));
    slots.push_back(&m->mapping.to_other_port);
  }
  if (p.alternate) {
    asks.push_back(bind_ask(wire(p, *p.alternate, p.port)));
    slots.push_back(&m->mapping.to_other_address);
  }
  Exchange x(ctx, socket, std::move(asks));
  co_await x.run(Clock::now() + p.timeout);
  for (std::size_t k = 0; k < x.asks.size(); ++k) {
    if (const auto* in = x.asks[k].wanted()) {
      *slots[k] = in->reply.observed;
      m->reached = true;
    }
  }
  if (m->mapping.to_primary) m->ports.push_back({local_port(socket), m->mapping.to_primary->port});
}

// Filtering: a fresh socket sends to (A1,P1) only and asks for an extra
// answer from the other port or the other address.
asio::awaitable<void> filtering_test(std::shared_ptr<Context> ctx, std::shared_ptr<NatMeasurements> m,
                                     np::Origin extra) {
  udp::socket socket(co_await asio::this_coro::executor);
  if (!open_socket(socket, ctx->plan)) co_return;
  const auto& p = ctx->plan;
  // Only what the reflector can serve is asked for; the baseline alone is still worth having.
  const bool want_extra = extra == np::Origin::other_port ? p.other_port.has_value() : p.alternate.has_value();
  const std::uint8_t flag =
      !want_extra ? 0 : extra == np::Origin::other_port ? np::kFlagOtherPort : np::kFlagOtherAddress;
  auto ask = bind_ask(wire(p, p.primary, p.port), flag);
  if (want_extra) {
    ask.copies = kUnsolicitedCopiesPerRound;
    ask.want = extra;
    const auto other_port_from = p.other_port ? std::optional(wire(p, p.primary, *p.other_port)) : std::nullopt;
    const auto alternate_from = p.alternate ? std::optional(wire(p, *p.alternate, p.port).address()) : std::nullopt;
    ask.want_from = [extra, other_port_from, alternate_from](const udp::endpoint& from) {
      if (extra == np::Origin::other_port) return other_port_from && from == *other_port_from;
      return alternate_from && from.address() == *alternate_from;
    };
  }
  std::vector<Ask> asks;
  asks.push_back(std::move(ask));
  Exchange x(ctx, socket, std::move(asks));
  co_await x.run(Clock::now() + p.timeout);
  const auto& done = x.asks.front();
  const auto t = x.tally(done);
  if (const auto* in = done.direct_answer()) {
    m->reached = true;
    m->filtering.primary_reply = true;
    m->ports.push_back({local_port(socket), in->reply.observed.port});
  } else if (!m->filtering.primary_reply) {
    m->filtering.primary_reply = false;
  }
  // Without the direct answer an extra one says nothing: left not run.
  if (done.direct_answer() == nullptr || !want_extra) co_return;
  if (extra == np::Origin::other_port) {
    m->filtering.from_other_port = t.wanted;
    m->filtering_tries.other_port = t.missing;
  } else {
    m->filtering.from_other_address = t.wanted;
    m->filtering_tries.other_address = t.missing;
  }
}

// Waits on `socket` for the answer of `origin` to `request` until `until`.
asio::awaitable<bool> await_answer(udp::socket& socket, const np::Request& request, np::Origin origin,
                                   const udp::endpoint& from_expected, Clock::time_point until) {
  std::vector<std::uint8_t> buffer(np::kMaxSizeRequest);
  asio::steady_timer timer(socket.get_executor());
  while (Clock::now() < until) {
    timer.expires_at(until);
    udp::endpoint from;
    auto result = co_await (socket.async_receive_from(asio::buffer(buffer), from, kAwait) || timer.async_wait(kAwait));
    if (result.index() == 1) break;
    auto [ec, n] = std::get<0>(result);
    if (ec == asio::error::operation_aborted) break;
    if (ec || from != from_expected) continue;
    auto reply = np::parse_reply(probes::ByteView(buffer).first(n));
    if (reply && np::answers(*reply, request) && reply->origin == origin) co_return true;
  }
  co_return false;
}

// Binding lifetime, kLifetimeSocketsPerGap fresh sockets per gap: one
// exchange each, then silence; the reflector sends once more after the gap.
// Each socket's packet after the gap is one try: a gap counts as expired
// only if those that were sent all failed to arrive (assess_lifetime).
asio::awaitable<void> lifetime_trial(std::shared_ptr<Context> ctx, std::shared_ptr<NatMeasurements> m, int gap_s) {
  LifetimeTrial trial{gap_s, std::nullopt, 0};
  udp::socket socket(co_await asio::this_coro::executor);
  if (open_socket(socket, ctx->plan)) {
    const auto& p = ctx->plan;
    Ask ask;
    ask.to = wire(p, p.primary, p.port);
    ask.type = np::Type::lifetime;
    ask.gap_s = static_cast<std::uint16_t>(gap_s);
    // A retransmission restarts the reflector's gap: the same request every time.
    ask.same_request = true;
    ask.loss_sample = false;
    std::vector<Ask> asks;
    asks.push_back(std::move(ask));
    Exchange x(ctx, socket, std::move(asks));
    co_await x.run(Clock::now() + p.timeout);
    const auto& done = x.asks.front();
    if (done.wanted() != nullptr) {
      m->reached = true;
      // The reflector's gap starts when our last request arrived; allow for the way back and some scheduling.
      const auto until = done.tries.back().sent + std::chrono::seconds(gap_s) +
                         std::max<Clock::duration>(std::chrono::seconds(2), p.timeout);
      trial.reached = co_await await_answer(socket, done.requests.front(), np::Origin::after_gap, done.to, until);
      trial.tries = 1;
    }
  }
  m->lifetime.push_back(trial);
}

// Hairpinning: sockets A and B each learn their external endpoint from
// (A1,P1); A then sends to B's external endpoint, in rounds on the retry
// schedule. Did it come back in, and from A's external endpoint?
asio::awaitable<void> hairpin_test(std::shared_ptr<Context> ctx, std::shared_ptr<NatMeasurements> m) {
  auto executor = co_await asio::this_coro::executor;
  udp::socket a(executor), b(executor);
  if (!open_socket(a, ctx->plan) || !open_socket(b, ctx->plan)) co_return;
  const auto& p = ctx->plan;
  const auto deadline = Clock::now() + p.timeout;
  std::vector<Ask> for_a, for_b;
  for_a.push_back(bind_ask(wire(p, p.primary, p.port)));
  for_b.push_back(bind_ask(wire(p, p.primary, p.port)));
  Exchange xa(ctx, a, std::move(for_a)), xb(ctx, b, std::move(for_b));
  co_await (xa.run(deadline) && xb.run(deadline));
  const auto* ma = xa.asks.front().wanted();
  const auto* mb = xb.asks.front().wanted();
  if (ma == nullptr || mb == nullptr) co_return;  // no external endpoints: not run
  const auto mapped_a = ma->reply.observed;
  boost::system::error_code ec;
  const auto b_address = asio::ip::make_address(mb->reply.observed.address, ec);
  if (ec) co_return;
  // Behind a NAT64 the external endpoint is IPv4: reached through the translator.
  const auto b_external =
      b_address.is_v4() ? wire(p, b_address.to_v4(), mb->reply.observed.port) : udp::endpoint(b_address, mb->reply.observed.port);
  m->reached = true;
  const auto wait = settle_grace(xa.round_trip().value_or(std::chrono::microseconds(0)), p.timeout);
  std::vector<np::Request> sent;
  std::vector<TryRecord> tries;
  std::array<std::uint8_t, 1024> buffer{};
  asio::steady_timer timer(executor);
  const auto start = Clock::now();
  const auto end = start + p.timeout;
  bool arrived = false;
  bool stop = false;
  for (std::size_t round = 0; !stop; ++round) {
    for (int c = 0; c < kUnsolicitedCopiesPerRound; ++c) {
      sent.push_back(ctx->request(np::Type::bind));
      a.send_to(asio::buffer(np::build_request(sent.back())), b_external, 0, ec);
      if (!ec) tries.push_back({Clock::now()});
      else sent.pop_back();
    }
    const auto next = start + retry_offset(round + 1);
    const bool another = next + wait <= end;
    const auto until = another ? next : end;
    while (!stop) {
      const auto now = Clock::now();
      const auto t = tally(tries, true, now, wait);
      if (arrived || (t.missing > 0 && chance_by_loss(ctx->pooled(now), t.missing) < kChanceThreshold)) {
        stop = true;
        break;
      }
      if (now >= until) {
        stop = !another;
        break;
      }
      auto overdue = until;
      for (const auto& r : tries)
        if (r.sent + wait > now) overdue = std::min(overdue, r.sent + wait);
      timer.expires_at(overdue);
      udp::endpoint from;
      auto r = co_await (b.async_receive_from(asio::buffer(buffer), from, kAwait) || timer.async_wait(kAwait));
      if (r.index() == 1) continue;
      auto [rec, n] = std::get<0>(r);
      if (rec == asio::error::operation_aborted) stop = true;
      if (rec) continue;
      auto got = np::parse_request(probes::ByteView(buffer).first(n));
      if (!got) continue;
      auto it = std::find(sent.begin(), sent.end(), *got);
      if (it == sent.end()) continue;
      auto& record = tries[static_cast<std::size_t>(it - sent.begin())];
      record.direct = record.wanted = true;
      arrived = true;
      const auto source = ipv4_source(p, from);
      m->hairpin_source_external = source && source->to_string() == mapped_a.address && from.port() == mapped_a.port;
    }
  }
  m->hairpinning = arrived;
  if (!arrived) m->hairpin_tries = tally(tries, true, Clock::now(), wait).missing;
}

// "Fragmentation needed" reports queued on a socket with IP_RECVERR: from a
// router (ICMP, with its address) or from this host (a local interface MTU).
// Keeps the smallest MTU reported; never blocks.
void read_mtu_reports(udp::socket& socket, PathSamples& samples) {
  while (auto error = next_queued_error(socket.native_handle())) {
    if (error->info.ee_errno != EMSGSIZE || error->info.ee_info == 0) continue;
    const int mtu = static_cast<int>(error->info.ee_info);
    if (samples.reported_mtu && *samples.reported_mtu <= mtu) continue;
    samples.reported_mtu = mtu;
    samples.reported_by.reset();
    if (error->offender) samples.reported_by = format_ipv4(*error->offender);
  }
}

// This host's MTU towards `to`: where the kernel fragments a datagram sent
// without DF (IP_MTU of a connected socket: the route's MTU, or a smaller
// path MTU learnt from ICMP).
std::optional<int> local_mtu_towards(const udp::endpoint& to, const asio::any_io_executor& executor) {
  udp::socket probe(executor);
  boost::system::error_code ec;
  probe.open(udp::v4(), ec);
  if (!ec) probe.connect(to, ec);
  if (ec) return std::nullopt;
  int mtu = 0;
  socklen_t length = sizeof mtu;
  if (::getsockopt(probe.native_handle(), IPPROTO_IP, IP_MTU, &mtu, &length) != 0 || mtu <= 0) return std::nullopt;
  return mtu;
}

// Path MTU and fragments, on one fresh socket. First the smallest DF probe
// alone: it shows the path works (and nothing large is sent to a service
// that cannot be reached, or into a burst of first packets). Then, in rounds,
// DF packets of every other size in kPathProbeSizes, each echoed at its own
// size with DF, one kFragmentedPacketSize datagram sent in fragments,
// acknowledged at once and echoed (in fragments) slightly shorter, and small
// DF controls that measure the loss meanwhile; what never comes back is what
// the path drops, if its tries say it is no chance (assess_path).
asio::awaitable<void> path_test(std::shared_ptr<Context> ctx, std::shared_ptr<NatMeasurements> m) {
  udp::socket socket(co_await asio::this_coro::executor);
  if (!open_socket(socket, ctx->plan)) co_return;
  int on = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  const auto& p = ctx->plan;
  const auto deadline = Clock::now() + p.timeout;
  constexpr int kIpUdpHeaders = 20 + 8;
  const udp::endpoint to(p.primary, p.port);
  auto echoed_ask = [&](std::size_t payload, bool dont_fragment) {
    Ask a;
    a.to = to;
    a.type = np::Type::size;
    a.flags = dont_fragment ? np::kFlagEchoDontFragment : 0;
    a.size = payload;
    a.dont_fragment = dont_fragment;
    a.direct = a.want = np::Origin::echo;
    return a;
  };
  auto dont_fragment = [&](int ip_size) { return echoed_ask(static_cast<std::size_t>(ip_size - kIpUdpHeaders), true); };
  PathSamples samples;
  samples.local_mtu = local_mtu_towards(to, socket.get_executor());
  const int baseline_size = *std::min_element(std::begin(kPathProbeSizes), std::end(kPathProbeSizes));
  std::vector<Ask> first;
  first.push_back(dont_fragment(baseline_size));
  Exchange x1(ctx, socket, std::move(first));
  co_await x1.run(deadline);
  if (x1.asks.front().wanted() == nullptr) {
    // Nothing is known about this path: no samples, so nothing is decided.
    m->path = std::move(samples);
    co_return;
  }
  m->reached = true;

  std::vector<Ask> rest;
  for (int size : kPathProbeSizes)
    if (size != baseline_size) rest.push_back(dont_fragment(size));
  auto fragmented = echoed_ask(static_cast<std::size_t>(kFragmentedPacketSize - kIpUdpHeaders), false);
  fragmented.flags = np::kFlagAck;
  fragmented.direct = np::Origin::primary;  // the ack: it arrived
  fragmented.copies = kFragmentCopiesPerRound;
  fragmented.loss_sample = false;  // its tries need several packets each
  fragmented.weight = 3;           // at most; see assess_path
  const std::size_t fragmented_at = rest.size();
  rest.push_back(std::move(fragmented));
  auto control = echoed_ask(np::kMinRequestSize, true);
  control.control = true;
  control.copies = kPathControlsPerRound;
  rest.push_back(std::move(control));
  Exchange x2(ctx, socket, std::move(rest));
  co_await x2.run(deadline);
  for (int size : kPathProbeSizes) {
    if (size == baseline_size) {
      samples.dont_fragment.push_back({size, true, 0});
      continue;
    }
    auto it = std::find_if(x2.asks.begin(), x2.asks.end(), [&](const Ask& o) {
      return !o.control && o.dont_fragment == true && static_cast<int>(o.size) + kIpUdpHeaders == size;
    });
    if (it == x2.asks.end()) continue;
    const auto t = x2.tally(*it);
    samples.dont_fragment.push_back({size, t.wanted, t.missing});
  }
  const auto& frag = x2.asks[fragmented_at];
  const auto t = x2.tally(frag);
  samples.fragments_arrived = t.arrived;
  samples.fragments_returned = t.wanted;
  samples.fragment_tries = t.missing;
  if (const auto* echo = frag.wanted(); echo != nullptr && echo->reply.largest_fragment != 0)
    samples.largest_fragment = echo->reply.largest_fragment;
  read_mtu_reports(socket, samples);
  m->path = std::move(samples);
}

// One trial per gap from the sockets' trials: reached if any packet after
// the gap arrived; else not reached, with the tries of those that completed;
// unset if none completed.
std::vector<LifetimeTrial> per_gap(const std::vector<LifetimeTrial>& raw) {
  std::map<int, LifetimeTrial> by_gap;
  for (const auto& t : raw) {
    auto [it, inserted] = by_gap.emplace(t.gap_s, LifetimeTrial{t.gap_s, std::nullopt, 0});
    auto& g = it->second;
    if (!t.reached || g.reached == true) continue;
    if (*t.reached) {
      g.reached = true;
      g.tries = 0;
    } else {
      g.reached = false;
      g.tries += t.tries;
    }
  }
  std::vector<LifetimeTrial> out;
  for (const auto& [gap, t] : by_gap) out.push_back(t);
  return out;
}

}  // namespace

std::chrono::milliseconds settle_grace(std::chrono::microseconds round_trip, std::chrono::milliseconds bound) {
  const auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(kSettleRoundTrips * round_trip);
  return std::min(std::max(grace, kSettleFloor), std::max(bound, std::chrono::milliseconds(0)));
}

asio::awaitable<NatMeasurements> run_nat_tests(NatTestPlan plan) {
  auto executor = co_await asio::this_coro::executor;
  auto ctx = std::make_shared<Context>();
  ctx->plan = std::move(plan);
  auto m = std::make_shared<NatMeasurements>();
  struct Pending {
    std::size_t count = 0;
    asio::steady_timer all_done;
    explicit Pending(asio::any_io_executor ex) : all_done(ex, Clock::time_point::max()) {}
  };
  auto pending = std::make_shared<Pending>(executor);
  auto spawn = [&](asio::awaitable<void> task) {
    ++pending->count;
    asio::co_spawn(executor, std::move(task), [pending](std::exception_ptr) {
      if (--pending->count == 0) pending->all_done.cancel();
    });
  };
  const auto& p = ctx->plan;
  spawn(mapping_test(ctx, m));
  if (p.other_port) spawn(filtering_test(ctx, m, np::Origin::other_port));
  if (p.alternate) spawn(filtering_test(ctx, m, np::Origin::other_address));
  // Without any extra answer to ask for, the baseline alone still tells whether answers come back.
  if (!p.other_port && !p.alternate) spawn(filtering_test(ctx, m, np::Origin::other_port));
  if (p.hairpin) spawn(hairpin_test(ctx, m));
  if (p.path) spawn(path_test(ctx, m));
  for (int gap : p.lifetime_gaps)
    if (gap > 0 && gap <= np::kMaxGapS)
      for (int k = 0; k < kLifetimeSocketsPerGap; ++k) spawn(lifetime_trial(ctx, m, gap));
  boost::system::error_code ec;
  co_await pending->all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  m->lifetime = per_gap(m->lifetime);
  m->loss = ctx->pooled(Clock::now());
  co_return *m;
}

bool discount_unvalidated(NatMeasurements& m, const std::string& control_seen_as) {
  if (!m.mapping.to_primary || m.mapping.to_primary->address == control_seen_as) return false;
  m.filtering.from_other_port.reset();
  m.filtering.from_other_address.reset();
  m.filtering_tries = {};
  m.lifetime.clear();
  if (m.path) {
    m.path->fragments_arrived.reset();
    m.path->fragments_returned.reset();
    m.path->fragment_tries = 0;
  }
  return true;
}

NatAssessment assess_nat(const NatMeasurements& m) {
  NatAssessment a;
  a.ran = true;
  a.loss = m.loss;
  a.mapping = classify_mapping(m.mapping);
  a.filtering = classify_filtering(weigh_filtering(m.filtering, m.filtering_tries, m.loss, a.evidence));
  a.port_preservation = port_preservation(m.ports);
  a.hairpinning = m.hairpinning;
  if (m.hairpinning == false) {
    a.evidence.push_back(weigh("hairpinning", m.hairpin_tries, m.loss));
    if (!a.evidence.back().concluded) a.hairpinning.reset();
  }
  if (!m.lifetime.empty()) {
    a.lifetime = assess_lifetime(m.lifetime, m.loss, a.evidence);
    a.keepalive = keepalive_advice(*a.lifetime);
  }
  if (m.path) {
    a.path = assess_path(*m.path, m.loss);
    a.evidence.insert(a.evidence.end(), a.path->evidence.begin(), a.path->evidence.end());
    const auto& f = a.path->facts;
    if (f.fragments_pass || f.path_mtu || f.mtu_at_least || f.lossy) a.mtu = mtu_advice(f);
  }
  if (!m.reached)
    a.note = "the reflector's NAT test service did not answer (its UDP ports may be blocked here)";
  return a;
}

}  // namespace vpncheck::nat
