#include "src/run/pptp_exchange.h"

#include <array>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "probes/gre.h"
#include "probes/pptp.h"
#include "probes/pptp_module.h"
#include "src/run/ip_port.h"

// GCC 12 reports -Wmismatched-new-delete on some coroutines here, depending on
// inlining: Asio's awaitable frames come from aligned_alloc and go back through
// Asio's own sized operator delete, which frees them correctly. A false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
namespace pptp = probes::pptp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Time kept back from GRE for the StopCCRQ/StopCCRP that ends the connection cleanly.
constexpr auto kStopReserve = std::chrono::milliseconds(250);

Outcome outcome_of(const boost::system::error_code& ec) {
  namespace err = asio::error;
  if (ec == err::connection_refused) return Outcome::refused;
  if (ec == err::connection_reset || ec == err::eof || ec == err::broken_pipe) return Outcome::reset;
  if (ec == err::host_unreachable || ec == err::network_unreachable) return Outcome::unreachable;
  if (ec == err::timed_out || ec == err::operation_aborted) return Outcome::timeout;
  return Outcome::local_error;
}

std::uint16_t random_u16(const probes::RandomFill& rnd) {
  std::array<std::uint8_t, 2> b{};
  for (int i = 0; i < 8; ++i) {
    if (rnd) rnd(b);
    auto v = static_cast<std::uint16_t>(b[0] << 8 | b[1]);
    if (v != 0) return v;
  }
  return 0x4000;
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// The control connection: PPTP messages delimited by their own Length field.
class ControlConnection {
 public:
  ControlConnection(asio::ip::tcp::socket& socket, Clock::time_point deadline) : socket_(socket), deadline_(deadline) {}

  // Writes `message`; an error code on failure.
  asio::awaitable<boost::system::error_code> send(const probes::Bytes& message) {
    asio::steady_timer timer(socket_.get_executor(), deadline_);
    auto r = co_await (asio::async_write(socket_, asio::buffer(message), use_tuple) || timer.async_wait(use_tuple));
    if (r.index() == 1) co_return asio::error::timed_out;
    sent_ += message.size();
    co_return std::get<0>(std::get<0>(r));
  }

  // The next whole message, or an error (timed_out at the deadline; invalid
  // bytes read as a message that fails every check).
  asio::awaitable<std::pair<boost::system::error_code, probes::Bytes>> receive() {
    asio::steady_timer timer(socket_.get_executor(), deadline_);
    for (;;) {
      auto framed = pptp::frame(buffer_);
      if (framed.status == pptp::ParseStatus::complete) {
        probes::Bytes message(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(framed.size));
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(framed.size));
        co_return std::pair{boost::system::error_code{}, std::move(message)};
      }
      if (framed.status == pptp::ParseStatus::invalid) {
        probes::Bytes garbage = std::move(buffer_);
        buffer_.clear();
        co_return std::pair{boost::system::error_code{}, std::move(garbage)};
      }
      std::array<std::uint8_t, 512> chunk{};
      auto r = co_await (socket_.async_read_some(asio::buffer(chunk), use_tuple) || timer.async_wait(use_tuple));
      if (r.index() == 1) co_return std::pair{boost::system::error_code(asio::error::timed_out), probes::Bytes{}};
      auto [ec, n] = std::get<0>(r);
      if (ec) co_return std::pair{ec, probes::Bytes{}};
      buffer_.insert(buffer_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }

  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }
  std::size_t sent() const { return sent_; }

 private:
  asio::ip::tcp::socket& socket_;
  Clock::time_point deadline_;
  probes::Bytes buffer_;
  std::size_t sent_ = 0;
};

ClientSide gre_not_run(std::string why) {
  ClientSide side;
  side.outcome = Outcome::not_run;
  side.detail = std::move(why);
  return side;
}

}  // namespace

asio::awaitable<PptpSides> run_pptp_exchange(PptpExchange ex) {
  PptpSides out;
  ClientSide& control = out.control;
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  const std::string no_control = "needs the PPTP control connection on TCP " + std::to_string(ex.control_port);
  auto fail = [&](Outcome outcome, std::string detail) {
    control.outcome = outcome;
    control.detail = std::move(detail);
    if (ex.gre_token) out.gre = gre_not_run(no_control + ", which failed (" + control.detail + ")");
  };

  const auto t0 = Clock::now();
  {
    auto connected = co_await connect_with_retries({ex.remote, ex.control_port}, ex.deadline, t0, ex.retry_unit);
    control.attempts.push_back(std::move(connected.attempts));
    if (connected.error == asio::error::timed_out) {
      fail(Outcome::timeout, "TCP connection not established");
      co_return out;
    }
    if (connected.error) {
      fail(outcome_of(connected.error), connected.error.message());
      co_return out;
    }
    socket = std::move(*connected.socket);
  }
  boost::system::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  auto local = socket.local_endpoint(ec);
  if (!ec) control.local = probes::Endpoint{local.address().to_string(), local.port()};

  ControlConnection conn(socket, ex.deadline);
  // One request, one checked answer; false (and `control` says why) otherwise.
  auto ask = [&](const probes::Bytes& request, auto check, std::string_view what,
                 probes::Bytes& answer) -> asio::awaitable<bool> {
    ++control.sends;
    control.attempts.push_back(StepAttempts{{ms_since(t0)}, std::nullopt});
    if (auto send_ec = co_await conn.send(request)) {
      fail(outcome_of(send_ec), std::string(what) + ": " + send_ec.message());
      co_return false;
    }
    auto [recv_ec, reply] = co_await conn.receive();
    if (recv_ec == asio::error::timed_out) add_kernel_retransmissions(socket, control.attempts.back(), ms_since(t0));
    if (!recv_ec) control.attempts.back().answered_ms = ms_since(t0);
    if (recv_ec) {
      fail(outcome_of(recv_ec), recv_ec == asio::error::timed_out ? "connected, but no answer to the " + std::string(what)
                                                                  : std::string(what) + ": " + recv_ec.message());
      co_return false;
    }
    if (!check(reply, request)) {
      fail(Outcome::invalid_reply, "the answer to the " + std::string(what) + " was not a valid PPTP reply");
      co_return false;
    }
    answer = std::move(reply);
    ++control.steps_answered;
    co_return true;
  };

  probes::Bytes reply;
  const probes::Bytes sccrq = pptp::build_sccrq(ex.control_token);
  if (!co_await ask(sccrq, pptp::is_sccrp_reply_to, "SCCRQ", reply)) co_return out;
  control.rtt_ms = ms_since(t0);

  const std::uint16_t own_call_id = random_u16(ex.random);
  const probes::Bytes ocrq = pptp::build_ocrq(ex.control_token, own_call_id, random_u16(ex.random));
  if (!co_await ask(ocrq, pptp::is_ocrp_reply_to, "OCRQ", reply)) co_return out;
  const std::uint16_t reflector_call_id = pptp::parse(reply).message.call_id;
  control.outcome = Outcome::reply;
  control.reply_fields[std::string(kClientCallId)] = std::to_string(own_call_id);
  control.reply_fields[std::string(kReflectorCallId)] = std::to_string(reflector_call_id);

  // Real clients configure the link before data flows; it has no answer.
  if (co_await conn.send(pptp::build_set_link_info(reflector_call_id))) {
    control.outcome = Outcome::reset;
    control.detail = "the connection broke after the OCRP";
  }
  ++control.sends;

  // GRE, while the control connection stays up.
  const auto remaining = ex.deadline - Clock::now();
  const auto gre_deadline = ex.deadline - std::min<Clock::duration>(kStopReserve, remaining / 4);
  if (ex.gre_token && control.outcome == Outcome::reply) {
    Exchange gre;
    gre.transport = probes::Transport::ip;
    gre.remote = ex.remote;
    gre.port = probes::gre::kIpProtocol;
    gre.deadline = gre_deadline;
    gre.retry_unit = ex.retry_unit;
    const probes::ProbeToken gre_token = *ex.gre_token;
    const probes::IpPort remote = ip_port(ex.remote, 0);
    auto set_wire = [gre_token, reflector_call_id, own_call_id, remote](const probes::IpPort& from, Exchange& e) {
      e.wire = probes::pptp::build_gre_datagram(gre_token, reflector_call_id, from, remote);
      e.is_reply = [request = e.wire, own_call_id](probes::ByteView datagram) {
        return probes::pptp::is_gre_reply_datagram(datagram, request, own_call_id);
      };
    };
    set_wire(control.local ? ip_port(local.address(), 0)
                           : probes::IpPort{probes::Bytes(ex.remote.is_v6() ? 16 : 4, 0), 0},
             gre);
    gre.on_local_address = set_wire;
    ClientSide side = co_await ex.gre_exchange(std::move(gre));
    // The digest covers the whole datagram, whose IP header every router
    // changes (TTL, and the source address behind NAT): comparing it with what
    // arrived would always read as a modified payload. The reflector's parser
    // checks the GRE/PPP content instead (an unrecognisable probe is not recorded).
    side.sent_sha256.clear();
    side.reply_fields["gre_key"] = std::to_string(reflector_call_id);
    side.reply_fields["expected_call_id"] = std::to_string(own_call_id);
    out.gre = std::move(side);
  } else if (ex.gre_token) {
    out.gre = gre_not_run(no_control + ", which broke before GRE could be sent");
  }

  // A clean end: StopCCRQ -> StopCCRP (bounded by the overall deadline).
  if (control.outcome == Outcome::reply) {
    const probes::Bytes stop = pptp::build_stop_ccrq();
    ++control.sends;
    bool answered = false;
    if (!co_await conn.send(stop)) {
      auto [stop_ec, stop_reply] = co_await conn.receive();
      answered = !stop_ec && pptp::is_stop_ccrp_reply_to(stop_reply, stop);
    }
    if (answered) ++control.steps_answered;
    control.reply_fields[std::string(kStopAnswered)] = answered ? "true" : "false";
  }
  control.sent_length = conn.sent();
  socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  socket.close(ec);
  co_return out;
}

}  // namespace vpncheck::client
