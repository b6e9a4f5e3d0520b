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
#include <memory>

#include "src/nat/nat_probe.h"

namespace vpncheck::nat {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;
namespace np = natprobe;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

struct Outgoing {
  Outgoing(udp::endpoint to_, np::Request request_, std::size_t size_ = np::kMinRequestSize,
           std::optional<bool> dont_fragment_ = std::nullopt)
      : to(to_), request(request_), size(size_), dont_fragment(dont_fragment_) {}
  udp::endpoint to;
  np::Request request;
  std::size_t size;                    // UDP payload bytes
  std::optional<bool> dont_fragment;   // size requests: send with DF (true) or fragment as needed (false)
};

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
using Done = std::function<bool(const std::vector<Incoming>&)>;

// Receives answers to `requests` on `socket` until `done` or `until`. Only
// well-formed replies to one of the requests, from one of `sources`, count.
// `on_answer` runs after each one and may bring `until` forward.
asio::awaitable<void> collect(udp::socket& socket, const std::vector<Outgoing>& requests,
                              const std::vector<asio::ip::address_v4>& sources, std::vector<Incoming>& got,
                              const Done& done, Clock::time_point until,
                              const std::function<void(Clock::time_point&)>& on_answer = {}) {
  std::vector<std::uint8_t> buffer(np::kMaxSizeRequest);
  asio::steady_timer timer(socket.get_executor());
  while (!done(got) && Clock::now() < until) {
    timer.expires_at(until);
    udp::endpoint from;
    auto result = co_await (socket.async_receive_from(asio::buffer(buffer), from, kAwait) || timer.async_wait(kAwait));
    if (result.index() == 1) break;
    auto [ec, n] = std::get<0>(result);
    if (ec) {
      // e.g. ICMP port unreachable surfacing as ECONNREFUSED on Linux: keep listening.
      if (ec == asio::error::operation_aborted) break;
      continue;
    }
    if (!from.address().is_v4() ||
        std::find(sources.begin(), sources.end(), from.address().to_v4()) == sources.end())
      continue;
    auto reply = np::parse_reply(probes::ByteView(buffer).first(n));
    if (!reply) continue;
    if (std::none_of(requests.begin(), requests.end(), [&](const Outgoing& o) { return np::answers(*reply, o.request); }))
      continue;
    got.push_back({*reply, from});
    if (on_answer) on_answer(until);
  }
}

// Sends every request, waits for answers, and resends while `done` is not
// satisfied, `attempts` times in all within `total`. Once `settled` holds
// (the direct answer came: the path works), what is still missing is what a
// NAT may rightly drop, so it is waited for only settle_grace() longer, with
// one more send halfway, instead of the whole window.
asio::awaitable<std::vector<Incoming>> converse(udp::socket& socket, const std::vector<Outgoing>& requests,
                                                const std::vector<asio::ip::address_v4>& sources, const Done& done,
                                                int attempts, std::chrono::milliseconds total,
                                                Clock::time_point* last_send = nullptr, const Done& settled = {}) {
  std::vector<Incoming> got;
  auto deadline = Clock::now() + total;
  bool was_settled = false;
  attempts = std::max(attempts, 1);
  for (int attempt = 0; attempt < attempts && !done(got) && Clock::now() < deadline; ++attempt) {
    for (const auto& o : requests) {
      boost::system::error_code ec;
      if (o.dont_fragment) set_dont_fragment(socket, *o.dont_fragment);
      const auto bytes = np::build_request(o.request, o.size);
      socket.send_to(asio::buffer(bytes), o.to, 0, ec);
      // A send fails once for each ICMP error queued on the socket since the
      // last call (e.g. the path test's "fragmentation needed"): try again.
      // A second EMSGSIZE is this host's own interface MTU: that size cannot
      // leave, and no echo will come, as it should not.
      if (ec) socket.send_to(asio::buffer(bytes), o.to, 0, ec);
    }
    const auto sent_at = Clock::now();
    if (last_send != nullptr) *last_send = sent_at;
    std::function<void(Clock::time_point&)> on_answer = [&](Clock::time_point& until) {
      if (was_settled || !settled || !settled(got)) return;
      was_settled = true;
      const auto now = Clock::now();
      const auto grace = settle_grace(std::chrono::duration_cast<std::chrono::microseconds>(now - sent_at), total);
      deadline = std::min(deadline, now + grace);
      until = std::min(until, now + grace / 2);
      attempts = std::min(attempts, attempt + 2);
    };
    // The sends left are spread evenly over what is left of the window.
    const auto until = sent_at + (deadline - sent_at) / (attempts - attempt);
    co_await collect(socket, requests, sources, got, done, std::min(until, deadline), on_answer);
  }
  co_return got;
}

bool open_socket(udp::socket& socket) {
  boost::system::error_code ec;
  socket.open(udp::v4(), ec);
  if (!ec) socket.bind(udp::endpoint(udp::v4(), 0), ec);
  return !ec;
}

std::uint16_t local_port(const udp::socket& socket) {
  boost::system::error_code ec;
  return socket.local_endpoint(ec).port();
}

struct Context {
  NatTestPlan plan;
  std::uint16_t next_index = kNatTokenIndexBase;

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
};

const Incoming* find(const std::vector<Incoming>& got, const np::Request& q, np::Origin origin) {
  for (const auto& in : got)
    if (np::answers(in.reply, q) && in.reply.origin == origin) return &in;
  return nullptr;
}

// Mapping: one socket to (A1,P1), (A1,P2) and (A2,P1); each answer must come
// from where the request went.
asio::awaitable<void> mapping_test(std::shared_ptr<Context> ctx, std::shared_ptr<NatMeasurements> m) {
  udp::socket socket(co_await asio::this_coro::executor);
  if (!open_socket(socket)) co_return;
  const auto& p = ctx->plan;
  std::vector<Outgoing> out;
  out.push_back(Outgoing{udp::endpoint(p.primary, p.port), ctx->request(np::Type::bind)});
  if (p.other_port) out.push_back({udp::endpoint(p.primary, *p.other_port), ctx->request(np::Type::bind)});
  if (p.alternate) out.push_back({udp::endpoint(*p.alternate, p.port), ctx->request(np::Type::bind)});
  auto answered = [&](const std::vector<Incoming>& got, const Outgoing& o) -> const Incoming* {
    for (const auto& in : got)
      if (np::answers(in.reply, o.request) && in.reply.origin == np::Origin::primary && in.from == o.to) return &in;
    return nullptr;
  };
  Done done = [&](const std::vector<Incoming>& got) {
    return std::all_of(out.begin(), out.end(), [&](const Outgoing& o) { return answered(got, o) != nullptr; });
  };
  Done settled = [&](const std::vector<Incoming>& got) { return answered(got, out.front()) != nullptr; };
  auto got = co_await converse(socket, out, ctx->sources(), done, p.attempts, p.timeout, nullptr, settled);
  std::vector<std::optional<probes::Endpoint>*> slots;
  slots.push_back(&m->mapping.to_primary);
  if (p.other_port) slots.push_back(&m->mapping.to_other_port);
  if (p.alternate) slots.push_back(&m->mapping.to_other_address);
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (const auto* in = answered(got, out[k])) {
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
  if (!open_socket(socket)) co_return;
  const auto& p = ctx->plan;
  // Only what the reflector can serve is asked for; the baseline alone is still worth having.
  const bool want_extra = extra == np::Origin::other_port ? p.other_port.has_value() : p.alternate.has_value();
  const std::uint8_t flag =
      !want_extra ? 0 : extra == np::Origin::other_port ? np::kFlagOtherPort : np::kFlagOtherAddress;
  std::vector<Outgoing> out;
  out.push_back(Outgoing{udp::endpoint(p.primary, p.port), ctx->request(np::Type::bind, flag)});
  const auto& q = out.front().request;
  auto extra_ok = [&](const Incoming& in) {
    if (extra == np::Origin::other_port) return p.other_port && in.from == udp::endpoint(p.primary, *p.other_port);
    return p.alternate && in.from.address() == *p.alternate;
  };
  auto primary_ok = [&](const std::vector<Incoming>& got) {
    const auto* in = find(got, q, np::Origin::primary);
    return in != nullptr && in->from == out.front().to;
  };
  auto extra_got = [&](const std::vector<Incoming>& got) {
    const auto* in = find(got, q, extra);
    return in != nullptr && extra_ok(*in);
  };
  Done done = [&](const std::vector<Incoming>& got) { return primary_ok(got) && (!want_extra || extra_got(got)); };
  Done settled = primary_ok;
  auto got = co_await converse(socket, out, ctx->sources(), done, p.attempts, p.timeout, nullptr, settled);
  const bool primary = primary_ok(got);
  if (primary) {
    m->reached = true;
    m->filtering.primary_reply = true;
    m->ports.push_back({local_port(socket), find(got, q, np::Origin::primary)->reply.observed.port});
  } else if (!m->filtering.primary_reply) {
    m->filtering.primary_reply = false;
  }
  // Without the direct answer an extra one says nothing: left not run.
  if (!primary || !want_extra) co_return;
  (extra == np::Origin::other_port ? m->filtering.from_other_port : m->filtering.from_other_address) = extra_got(got);
}

// Binding lifetime, one fresh socket per gap: one exchange, then silence; the
// reflector sends once more after the gap.
asio::awaitable<void> lifetime_trial(std::shared_ptr<Context> ctx, std::shared_ptr<NatMeasurements> m, int gap_s) {
  LifetimeTrial trial{gap_s, std::nullopt};
  udp::socket socket(co_await asio::this_coro::executor);
  if (open_socket(socket)) {
    const auto& p = ctx->plan;
    // (No braced lists of temporaries in coroutines: GCC 12 miscompiles them.)
    std::vector<Outgoing> out;
    out.push_back(Outgoing{udp::endpoint(p.primary, p.port),
                           ctx->request(np::Type::lifetime, 0, static_cast<std::uint16_t>(gap_s))});
    std::vector<asio::ip::address_v4> sources;
    sources.push_back(p.primary);
    const auto& q = out.front().request;
    Clock::time_point last_send = Clock::now();
    Done first = [&](const std::vector<Incoming>& got) { return find(got, q, np::Origin::primary) != nullptr; };
    auto got = co_await converse(socket, out, sources, first, p.attempts, p.timeout, &last_send);
    if (first(got)) {
      m->reached = true;
      // The reflector's gap starts when our last request arrived; allow for the way back and some scheduling.
      const auto until = last_send + std::chrono::seconds(gap_s) + std::max<Clock::duration>(std::chrono::seconds(2), p.timeout);
      Done late = [&](const std::vector<Incoming>& g) { return find(g, q, np::Origin::after_gap) != nullptr; };
      co_await collect(socket, out, sources, got, late, until);
      trial.reached = late(got);
    }
  }
  m->lifetime.push_back(trial);
}

// Hairpinning: sockets A and B each learn their external endpoint from
// (A1,P1); A then sends to B's external endpoint. Did it come back in, and
// from A's external endpoint?
asio::awaitable<void> hairpin_test(std::shared_ptr<Context> ctx, std::shared_ptr<NatMeasurements> m) {
  auto executor = co_await asio::this_coro::executor;
  udp::socket a(executor), b(executor);
  if (!open_socket(a) || !open_socket(b)) co_return;
  const auto& p = ctx->plan;
  // (Vectors, not arrays: GCC 12 cannot keep arrays in a coroutine frame.)
  std::vector<std::optional<probes::Endpoint>> mapped(2);
  std::vector<udp::socket*> sockets;
  sockets.push_back(&a);
  sockets.push_back(&b);
  for (std::size_t i = 0; i < 2; ++i) {
    std::vector<Outgoing> out;
    out.push_back(Outgoing{udp::endpoint(p.primary, p.port), ctx->request(np::Type::bind)});
    const auto q = out.front().request;
    Done done = [&](const std::vector<Incoming>& got) { return find(got, q, np::Origin::primary) != nullptr; };
    auto got = co_await converse(*sockets[i], out, ctx->sources(), done, p.attempts, p.timeout);
    if (const auto* in = find(got, q, np::Origin::primary)) mapped[i] = in->reply.observed;
  }
  if (!mapped[0] || !mapped[1]) co_return;  // no external endpoints: not run
  boost::system::error_code ec;
  const auto b_external = udp::endpoint(asio::ip::make_address(mapped[1]->address, ec), mapped[1]->port);
  if (ec) co_return;
  m->reached = true;
  const auto hp = ctx->request(np::Type::bind);
  const auto bytes = np::build_request(hp);
  std::array<std::uint8_t, 1024> buffer{};
  asio::steady_timer timer(executor);
  const auto start = Clock::now();
  const int attempts = std::max(p.attempts, 1);
  for (int attempt = 0; attempt < attempts && !m->hairpinning.value_or(false); ++attempt) {
    a.send_to(asio::buffer(bytes), b_external, 0, ec);
    const auto until = start + p.timeout * (attempt + 1) / attempts;
    while (Clock::now() < until) {
      timer.expires_at(until);
      udp::endpoint from;
      auto r = co_await (b.async_receive_from(asio::buffer(buffer), from, kAwait) || timer.async_wait(kAwait));
      if (r.index() == 1) break;
      auto [rec, n] = std::get<0>(r);
      if (rec) continue;
      auto got = np::parse_request(probes::ByteView(buffer).first(n));
      if (!got || !(*got == hp)) continue;
      m->hairpinning = true;
      m->hairpin_source_external = from.address().to_string() == mapped[0]->address && from.port() == mapped[0]->port;
      break;
    }
  }
  if (!m->hairpinning) m->hairpinning = false;
}

// "Fragmentation needed" reports queued on a socket with IP_RECVERR: from a
// router (ICMP, with its address) or from this host (a local interface MTU).
// Keeps the smallest MTU reported; never blocks.
void read_mtu_reports(udp::socket& socket, PathSamples& samples) {
  for (int i = 0; i < 64; ++i) {
    std::array<std::uint8_t, 64> data{};
    alignas(cmsghdr) std::array<char, 512> control{};
    sockaddr_in from{};
    iovec iov{data.data(), data.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    if (::recvmsg(socket.native_handle(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR) continue;
      sock_extended_err err{};
      std::memcpy(&err, CMSG_DATA(c), sizeof err);
      if (err.ee_errno != EMSGSIZE || err.ee_info == 0) continue;
      const int mtu = static_cast<int>(err.ee_info);
      if (samples.reported_mtu && *samples.reported_mtu <= mtu) continue;
      samples.reported_mtu = mtu;
      samples.reported_by.reset();
      if (err.ee_origin == SO_EE_ORIGIN_ICMP) {
        // The offender's address follows the extended error in the same control message.
        sockaddr_in offender{};
        std::memcpy(&offender, CMSG_DATA(c) + sizeof(sock_extended_err), sizeof offender);
        if (offender.sin_family == AF_INET) {
          std::array<unsigned char, 4> b{};
          std::memcpy(b.data(), &offender.sin_addr, 4);
          samples.reported_by = asio::ip::address_v4(b).to_string();
        }
      }
    }
  }
}

// Path MTU and fragments, on one fresh socket. First the smallest DF probe
// alone: it shows the path works (and nothing large is sent to a service
// that cannot be reached, or into a burst of first packets). Then, at once,
// DF packets of every other size in kPathProbeSizes, each echoed at its own
// size with DF, and one kFragmentedPacketSize datagram sent in fragments,
// acknowledged at once and echoed (in fragments) slightly shorter; what has
// not come back a few round trips later is what the path drops.
asio::awaitable<void> path_test(std::shared_ptr<Context> ctx, std::shared_ptr<NatMeasurements> m) {
  udp::socket socket(co_await asio::this_coro::executor);
  if (!open_socket(socket)) co_return;
  int on = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  const auto& p = ctx->plan;
  constexpr int kIpUdpHeaders = 20 + 8;
  const udp::endpoint to(p.primary, p.port);
  auto dont_fragment = [&](int ip_size) {
    return Outgoing{to, ctx->request(np::Type::size, np::kFlagEchoDontFragment),
                    static_cast<std::size_t>(ip_size - kIpUdpHeaders), true};
  };
  auto echo_of = [&](const std::vector<Incoming>& got, const np::Request& q) {
    const auto* in = find(got, q, np::Origin::echo);
    return in != nullptr && in->from == to ? in : nullptr;
  };
  auto ack_of = [&](const std::vector<Incoming>& got, const np::Request& q) {
    const auto* in = find(got, q, np::Origin::primary);
    return in != nullptr && in->from == to ? in : nullptr;
  };
  PathSamples samples;
  const int baseline_size = *std::min_element(std::begin(kPathProbeSizes), std::end(kPathProbeSizes));
  std::vector<Outgoing> first;
  first.push_back(dont_fragment(baseline_size));
  const auto baseline = first.front().request;
  Done baseline_back = [&](const std::vector<Incoming>& got) { return echo_of(got, baseline) != nullptr; };
  Clock::time_point last_send = Clock::now();
  auto got = co_await converse(socket, first, ctx->sources(), baseline_back, p.attempts, p.timeout, &last_send);
  if (!baseline_back(got)) {
    // Nothing is known about this path: no samples, so nothing is decided.
    m->path = std::move(samples);
    co_return;
  }
  m->reached = true;
  const auto round_trip = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - last_send);

  std::vector<Outgoing> rest;
  for (int size : kPathProbeSizes)
    if (size != baseline_size) rest.push_back(dont_fragment(size));
  rest.push_back(Outgoing{to, ctx->request(np::Type::size, np::kFlagAck),
                          static_cast<std::size_t>(kFragmentedPacketSize - kIpUdpHeaders), false});
  const auto fragmented = rest.back().request;
  Done done = [&](const std::vector<Incoming>& in) {
    return std::all_of(rest.begin(), rest.end(), [&](const Outgoing& o) { return echo_of(in, o.request) != nullptr; }) &&
           ack_of(in, fragmented) != nullptr;
  };
  // Sent once more halfway if something is missing, as the other tests do after their direct answer.
  auto more = co_await converse(socket, rest, ctx->sources(), done, 2, settle_grace(round_trip, p.timeout));
  for (int size : kPathProbeSizes) {
    if (size == baseline_size) {
      samples.dont_fragment.push_back({size, true});
      continue;
    }
    auto it = std::find_if(rest.begin(), rest.end(), [&](const Outgoing& o) {
      return o.dont_fragment == true && static_cast<int>(o.size) + kIpUdpHeaders == size;
    });
    samples.dont_fragment.push_back({size, it != rest.end() && echo_of(more, it->request) != nullptr});
  }
  samples.fragments_arrived = ack_of(more, fragmented) != nullptr;
  const auto* echo = echo_of(more, fragmented);
  samples.fragments_returned = echo != nullptr;
  if (echo != nullptr && echo->reply.largest_fragment != 0) samples.largest_fragment = echo->reply.largest_fragment;
  read_mtu_reports(socket, samples);
  m->path = std::move(samples);
}

}  // namespace

std::chrono::milliseconds settle_grace(std::chrono::microseconds round_trip, std::chrono::milliseconds bound) {
  const auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(kSettleRoundTrips * round_trip);
  return std::min(std::max(grace, kSettleFloor), std::max(bound, std::chrono::milliseconds(0)));
}

asio::awaitable<NatMeasurements> run_nat_tests(NatTestPlan plan) {
  auto executor = co_await asio::this_coro::executor;
  auto ctx = std::make_shared<Context>(Context{std::move(plan)});
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
    if (gap > 0 && gap <= np::kMaxGapS) spawn(lifetime_trial(ctx, m, gap));
  boost::system::error_code ec;
  co_await pending->all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::sort(m->lifetime.begin(), m->lifetime.end(), [](const auto& a, const auto& b) { return a.gap_s < b.gap_s; });
  co_return *m;
}

NatAssessment assess_nat(const NatMeasurements& m) {
  NatAssessment a;
  a.ran = true;
  a.mapping = classify_mapping(m.mapping);
  a.filtering = classify_filtering(m.filtering);
  a.port_preservation = port_preservation(m.ports);
  a.hairpinning = m.hairpinning;
  if (!m.lifetime.empty()) {
    a.lifetime = estimate_lifetime(m.lifetime);
    a.keepalive = keepalive_advice(*a.lifetime);
  }
  if (m.path) {
    a.path = assess_path(*m.path);
    if (a.path->facts.fragments_pass || a.path->facts.path_mtu) a.mtu = mtu_advice(a.path->facts);
  }
  if (!m.reached)
    a.note = "the reflector's NAT test service did not answer (its UDP ports may be blocked here)";
  return a;
}

}  // namespace vpncheck::nat
