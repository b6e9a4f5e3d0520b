// Runs any protocol module's client conversation (probes/conversation.h):
// the module decides what to send and what an answer means; this runner does
// the I/O (a TCP stream connected on the retry schedule, datagram flows sent
// again on the retry schedule by run_exchange), keeps the one deadline, and
// measures what every result carries (sends, tries and their times, the
// local address). The channels are injectable so tests need no network.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "probes/conversation.h"
#include "src/run/exchange.h"
#include "src/run/result.h"

namespace vpncheck::client {

// A connected byte stream (a TCP connection).
class Stream {
 public:
  virtual ~Stream() = default;
  // Writes all of `bytes`; timed_out if `deadline` passes first.
  virtual boost::asio::awaitable<boost::system::error_code> write(probes::ByteView bytes,
                                                                  Clock::time_point deadline) = 0;
  // Some bytes into `into`, or an error (eof once the peer has closed).
  virtual boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
      std::span<std::uint8_t> into) = 0;
  // Our end: FIN, then close (a pending read_some ends).
  virtual void close() = 0;
  // An unanswered message's tries beyond the first, as the kernel retransmitted it.
  virtual void add_retransmissions(StepAttempts& /*step*/, double /*now_ms*/) {}
};

struct StreamConnected {
  boost::system::error_code error;  // timed_out at the deadline
  std::unique_ptr<Stream> stream;
  probes::IpPort local;             // the connection's own address and port
  std::optional<probes::Endpoint> local_endpoint;  // the same, as reported
  StepAttempts attempts;            // its SYNs (see TcpConnectResult)
};

using StreamConnector = std::function<boost::asio::awaitable<StreamConnected>(
    boost::asio::ip::tcp::endpoint remote, Clock::time_point deadline, Clock::time_point t0,
    std::chrono::milliseconds retry_unit)>;

// A real TCP connection: connect_with_retries, then the socket.
boost::asio::awaitable<StreamConnected> connect_stream(boost::asio::ip::tcp::endpoint remote,
                                                       Clock::time_point deadline, Clock::time_point t0,
                                                       std::chrono::milliseconds retry_unit);

struct ConversationRun {
  const probes::ProtocolModule* module = nullptr;  // has client_conversation
  std::vector<probes::conversation::Piece> pieces;
  boost::asio::ip::address remote;
  Clock::time_point deadline;
  std::chrono::milliseconds retry_unit{250};  // see retry_unit() in src/run/retry.h
  probes::ServerHints hints;
  probes::RandomFill random;
  // The reflector recognises and echoes the module's data packets over UDP,
  // over raw IP: a flow that asks for it runs the data phase (OpenFlow::data).
  bool data_echoed_udp = false;
  bool data_echoed_ip = false;
  StreamConnector connect = connect_stream;
  ExchangeFn flow = run_exchange;  // runs each datagram flow
};

// One result per piece, in order (pieces the plan did not run: not_run and
// the plan's reason).
boost::asio::awaitable<std::vector<ClientSide>> run_conversation(ConversationRun run);

}  // namespace vpncheck::client
