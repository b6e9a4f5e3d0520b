#include "reflector/nat_service.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "reflector/services.h"
#include "reflector/udp_batch.h"
#include "reflector/udp_listener.h"

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
namespace np = probes::natprobe;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

}  // namespace

NatService::NatService(asio::io_context& io, SessionTable& sessions, RateLimiter* limiter, Logger& log)
    : io_(io), sessions_(sessions), limiter_(limiter), log_(log) {}

NatService::~NatService() {
  close();
  late_.clear();
  sockets_.clear();
}

std::optional<std::string> NatService::bind(const std::vector<std::string>& listen,
                                            const std::optional<std::string>& alternate,
                                            const std::vector<std::uint16_t>& ports) {
  sockets_.clear();
  ports_.clear();
  alternate_.reset();
  if (ports.empty()) return std::nullopt;
  std::vector<asio::ip::address_v4> addresses;
  bool wildcard = false;
  for (const auto& text : listen) {
    boost::system::error_code ec;
    auto a = asio::ip::make_address(text, ec);
    if (ec || !a.is_v4()) continue;
    if (a.to_v4().is_unspecified()) wildcard = true;
    addresses.push_back(a.to_v4());
  }
  if (addresses.empty()) return std::nullopt;  // IPv4 only: nothing to do
  std::optional<asio::ip::address_v4> alt;
  if (alternate) {
    boost::system::error_code ec;
    auto a = asio::ip::make_address_v4(*alternate, ec);
    if (ec || a.is_unspecified()) return "--alt-address: not an IPv4 address: " + *alternate;
    if (std::find(addresses.begin(), addresses.end(), a) != addresses.end())
      return "--alt-address " + *alternate + " is also a --listen address; it must be a second address";
    // It must be one of ours, or nothing could be sent from it.
    udp::socket check(io_);
    check.open(udp::v4(), ec);
    if (!ec) check.bind(udp::endpoint(a, 0), ec);
    if (ec) return "--alt-address " + *alternate + " is not an address of this host: " + ec.message();
    alt = a;
    if (!wildcard) addresses.push_back(a);
  }
  auto fail = [&](const std::string& why) -> std::optional<std::string> {
    sockets_.clear();
    ports_.clear();
    return why;
  };
  for (std::uint16_t configured : ports) {
    std::uint16_t port = configured;
    for (const auto& address : addresses) {
      boost::system::error_code ec;
      auto socket = std::make_unique<udp::socket>(io_);
      socket->open(udp::v4(), ec);
      int on = 1;
      if (!ec && address.is_unspecified() &&
          ::setsockopt(socket->native_handle(), IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0)
        return fail(std::string("NAT test port: cannot enable IP_PKTINFO: ") + std::strerror(errno));
      // Whether a size request came in fragments (Linux 4.10+); without it the echo says 0 (unknown).
      if (!ec) ::setsockopt(socket->native_handle(), IPPROTO_IP, IP_RECVFRAGSIZE, &on, sizeof on);
      if (!ec) socket->bind(udp::endpoint(address, port), ec);
      if (ec)
        return fail("cannot bind NAT test port UDP " + address.to_string() + ":" + std::to_string(port) + ": " +
                    ec.message());
      port = socket->local_endpoint(ec).port();
      sockets_.push_back({std::move(socket), address, port});
    }
    ports_.push_back(port);
  }
  if (alt) alternate_ = alt->to_string();
  return std::nullopt;
}

void NatService::start() {
  for (auto& s : sockets_) asio::co_spawn(io_, listen(s), asio::detached);
}

void NatService::close() {
  boost::system::error_code ec;
  for (auto& s : sockets_) s.socket->close(ec);
  late_.for_each([](const LateKey&, const Late& late, const probes::SessionTag&) { late.timer->cancel(); });
}

void NatService::forget_session(const probes::SessionTag& tag) {
  late_.forget(tag, [](const Late& late) { late.timer->cancel(); });
}

asio::awaitable<void> NatService::listen(Socket& s) {
  std::vector<std::uint8_t> buffer(2048);
  alignas(cmsghdr) std::array<char, 256> control{};
  while (s.socket->is_open()) {
    auto [wec] = co_await s.socket->async_wait(udp::socket::wait_read, kAwait);
    if (wec || !s.socket->is_open()) break;
    for (int i = 0; i < 64; ++i) {
      int error = 0;
      auto received = receive_datagram(*s.socket, buffer, control, error);
      if (!received) break;
      if (received->truncated) continue;
      auto destination = s.address;
      if (auto sent_to = destination_of(received->info, *s.socket)) {
        boost::system::error_code ec;
        auto parsed = asio::ip::make_address_v4(*sent_to, ec);
        if (!ec) destination = parsed;
      }
      handle(s, probes::ByteView(buffer).first(received->length), received->from, destination,
             received->info.largest_fragment);
    }
  }
}

void NatService::handle(const Socket& s, probes::ByteView datagram, const udp::endpoint& from,
                        const asio::ip::address_v4& destination, std::optional<int> largest_fragment) {
  auto request = np::parse_request(datagram);
  if (!request || !from.address().is_v4()) return;
  // Authenticated by session: only live sessions' tags are answered.
  Session* session = sessions_.find_by_tag(request->token.tag);
  if (session == nullptr) return;
  const std::string source = from.address().to_string();
  session->note_source(source);  // its state is forgotten with the session
  const bool at_alternate = alternate_ && destination.to_string() == *alternate_;
  const bool have_other_port = ports_.size() > 1;
  const bool have_other_address = alternate_.has_value() && !at_alternate;
  // More than one reply only to an address a TCP handshake proved (Session::validated).
  const auto plan = np::plan_replies(*request, datagram.size(), have_other_port, have_other_address,
                                     session->validates(source));
  const std::uint16_t other_port =
      ports_.size() > 1 ? (s.port == ports_[0] ? ports_[1] : ports_[0]) : s.port;
  np::Reply reply;
  reply.type = request->type;
  reply.token = request->token;
  reply.nonce = request->nonce;
  reply.observed = to_endpoint(from.address(), from.port());
  // The rate limit takes all of a request's immediate replies or none: a
  // direct answer without its companion would read as filtering at the
  // client, an ack without its echo as fragments lost on the way back.
  if (limiter_ != nullptr)
    for (const auto& planned : plan)
      if (planned.origin != np::Origin::after_gap && !limiter_->allow(source)) {
        // Answers to NAT tests leave no observation: the session's limits say it.
        sessions_.count_limit(request->token.tag, SessionLimit::rate_limit, s.port);
        return;
      }
  for (const auto& planned : plan) {
    if (planned.origin == np::Origin::after_gap) {
      schedule_late(*request, from, destination, s.port);
      continue;
    }
    reply.origin = planned.origin;
    if (planned.origin == np::Origin::echo) {
      reply.echo_size = static_cast<std::uint16_t>(planned.size);
      reply.received_size = static_cast<std::uint16_t>(datagram.size());
      reply.largest_fragment = static_cast<std::uint16_t>(std::clamp(largest_fragment.value_or(0), 0, 65535));
    }
    const auto bytes = np::build_reply(reply);
    switch (planned.origin) {
      case np::Origin::echo:
        send_from(destination, s.port, from, bytes, (request->flags & np::kFlagEchoDontFragment) != 0);
        break;
      case np::Origin::primary:
        send_from(destination, s.port, from, bytes);
        break;
      case np::Origin::other_port:
        send_from(destination, other_port, from, bytes);
        break;
      case np::Origin::other_address:
        send_from(asio::ip::make_address_v4(*alternate_), other_port, from, bytes);
        break;
      case np::Origin::after_gap:
        break;
    }
  }
}

void NatService::schedule_late(const np::Request& request, const udp::endpoint& to,
                               const asio::ip::address_v4& address, std::uint16_t port) {
  LateKey key{request.token.encode(), request.nonce};
  if (Late* earlier = late_.find(key)) {
    earlier->timer->cancel();  // a retransmission: the gap starts again
    late_.erase(key);
  }
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(request.gap_s));
  if (auto evicted = late_.put(key, request.token.tag, Late{timer, port})) {
    evicted->value.timer->cancel();
    sessions_.count_limit(evicted->tag, SessionLimit::nat_pending, evicted->value.port);
  }
  timer->async_wait([this, timer, key, request, to, address, port](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: restarted or shutting down
    if (const Late* late = late_.find(key); late != nullptr && late->timer == timer) late_.erase(key);
    if (sessions_.find_by_tag(request.token.tag) == nullptr) return;  // the session ended meanwhile
    if (limiter_ != nullptr && !limiter_->allow(to.address().to_string())) {
      sessions_.count_limit(request.token.tag, SessionLimit::rate_limit, port);
      return;
    }
    np::Reply reply;
    reply.type = request.type;
    reply.origin = np::Origin::after_gap;
    reply.token = request.token;
    reply.nonce = request.nonce;
    reply.observed = to_endpoint(to.address(), to.port());
    send_from(address, port, to, np::build_reply(reply));
  });
}

bool NatService::send_from(const asio::ip::address_v4& address, std::uint16_t port, const udp::endpoint& to,
                           const probes::Bytes& payload, std::optional<bool> dont_fragment) {
  const Socket* exact = nullptr;
  const Socket* wildcard = nullptr;
  for (const auto& s : sockets_) {
    if (s.port != port || !s.socket->is_open()) continue;
    if (s.address == address) exact = &s;
    if (s.address.is_unspecified()) wildcard = &s;
  }
  const Socket* use = exact != nullptr ? exact : wildcard;
  if (use == nullptr || payload.empty()) return false;
  iovec iov{const_cast<std::uint8_t*>(payload.data()), payload.size()};
  alignas(cmsghdr) std::array<char, kReplyControlSize> control{};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr*>(to.data());
  msg.msg_namelen = static_cast<socklen_t>(to.size());
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (use->address.is_unspecified()) {
    // A wildcard socket: pin the source to `address`, as the probe listeners
    // pin theirs to where the request arrived.
    DatagramInfo pin;
    in_pktinfo pi{};
    auto b = address.to_bytes();
    std::memcpy(&pi.ipi_addr, b.data(), b.size());
    pin.pktinfo4 = pi;
    msg.msg_control = control.data();
    msg.msg_controllen = write_source_pin(pin, true, control);
  }
  const int fd = use->socket->native_handle();
  // DF is a socket option on Linux, not a per-datagram one: set for this send only.
  // PROBE sets DF without consulting the path MTU cache, so the probe's size is what is sent.
  int pmtu = dont_fragment.value_or(false) ? IP_PMTUDISC_PROBE : IP_PMTUDISC_DONT;
  if (dont_fragment) ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
  ssize_t sent = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  const int send_errno = errno;
  if (dont_fragment) {
    pmtu = IP_PMTUDISC_WANT;  // Linux's default for UDP
    ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
  }
  errno = send_errno;
  if (sent < 0) {
    log_.debug("nat: send to " + to.address().to_string() + " failed: " + std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace vpncheck::reflector
