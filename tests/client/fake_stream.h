// An injected stream for conversation tests (src/run/conversation.h): a peer
// function answers each write with the chunks it wants delivered, in order,
// and may hang up. No sockets.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "src/run/conversation.h"

namespace vpncheck::client::fixtures {

struct FakePeer {
  // The chunks to deliver after a write of `written` (each one read_some's worth at most).
  std::function<std::vector<probes::Bytes>(probes::ByteView written)> answer;
  bool hang_up_after_answer = false;
  // What happened, for the test to check.
  std::vector<probes::Bytes> written;
  bool closed = false;
  std::size_t retransmissions_asked = 0;
};

class FakeStream : public Stream {
 public:
  FakeStream(boost::asio::any_io_executor ex, std::shared_ptr<FakePeer> peer)
      : peer_(std::move(peer)), wake_(ex, Clock::time_point::max()) {}

  boost::asio::awaitable<boost::system::error_code> write(probes::ByteView bytes, Clock::time_point) override {
    peer_->written.emplace_back(bytes.begin(), bytes.end());
    if (peer_->answer)
      for (auto& chunk : peer_->answer(bytes)) inbound_.push_back(std::move(chunk));
    if (peer_->hang_up_after_answer) eof_ = true;
    wake_.cancel();
    co_return boost::system::error_code{};
  }
  boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
      std::span<std::uint8_t> into) override {
    while (inbound_.empty() && !eof_ && !peer_->closed) {
      wake_.expires_at(Clock::time_point::max());
      co_await wake_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    if (peer_->closed) co_return std::pair{boost::system::error_code(boost::asio::error::operation_aborted), 0};
    if (inbound_.empty()) co_return std::pair{boost::system::error_code(boost::asio::error::eof), 0};
    auto& chunk = inbound_.front();
    const std::size_t n = std::min(chunk.size(), into.size());
    std::copy_n(chunk.begin(), n, into.begin());
    chunk.erase(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    if (chunk.empty()) inbound_.pop_front();
    co_return std::pair{boost::system::error_code{}, n};
  }
  void close() override {
    peer_->closed = true;
    wake_.cancel();
  }
  void add_retransmissions(StepAttempts& step, double now_ms) override {
    ++peer_->retransmissions_asked;
    step.sent_ms.push_back(now_ms);
  }

 private:
  std::shared_ptr<FakePeer> peer_;
  boost::asio::steady_timer wake_;
  std::deque<probes::Bytes> inbound_;
  bool eof_ = false;
};

// A connector that hands out FakeStreams to `peer`, or fails with `error`.
inline StreamConnector fake_connector(std::shared_ptr<FakePeer> peer, boost::system::error_code error = {}) {
  return [peer, error](boost::asio::ip::tcp::endpoint, Clock::time_point, Clock::time_point t0,
                       std::chrono::milliseconds) -> boost::asio::awaitable<StreamConnected> {
    StreamConnected out;
    const double at = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    out.attempts.sent_ms = {at};
    out.error = error;
    if (error) co_return out;
    out.attempts.answered_ms = at;
    out.stream = std::make_unique<FakeStream>(co_await boost::asio::this_coro::executor, peer);
    out.local = probes::IpPort{{192, 0, 2, 10}, 40001};
    out.local_endpoint = probes::Endpoint{"192.0.2.10", 40001};
    co_return out;
  };
}

}  // namespace vpncheck::client::fixtures
