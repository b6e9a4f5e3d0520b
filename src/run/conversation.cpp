#include "src/run/conversation.h"

#include <array>
#include <deque>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "probes/crypto.h"
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
namespace conv = probes::conversation;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxBuffered = 65536;  // a stream that never completes a message is cut off here

class TcpStream : public Stream {
 public:
  explicit TcpStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  asio::awaitable<boost::system::error_code> write(probes::ByteView bytes, Clock::time_point deadline) override {
    asio::steady_timer timer(socket_.get_executor(), deadline);
    auto r = co_await (asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()), use_tuple) ||
                       timer.async_wait(use_tuple));
    if (r.index() == 1) co_return asio::error::timed_out;
    co_return std::get<0>(std::get<0>(r));
  }
  asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(std::span<std::uint8_t> into) override {
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(into.data(), into.size()), use_tuple);
    co_return std::pair{ec, n};
  }
  void close() override {
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
  }
  void add_retransmissions(StepAttempts& step, double now_ms) override {
    if (socket_.is_open()) add_kernel_retransmissions(socket_, step, now_ms);
  }

 private:
  asio::ip::tcp::socket socket_;
};

// What the channels' own coroutines (stream readers, flows) hand the
// conversation, and the timer that wakes it when they do.
struct Inbox {
  struct Item {
    conv::Event event;
    Clock::time_point at;
  };
  std::deque<Item> items;
  asio::steady_timer wake;
  bool ended = false;
  std::vector<std::optional<ClientSide>> flow_sides;  // per channel, once a flow finished
  explicit Inbox(asio::any_io_executor ex) : wake(ex, Clock::time_point::max()) {}

  void push(conv::Event event) {
    if (ended) return;
    items.push_back({std::move(event), Clock::now()});
    wake.cancel();
  }
};

struct ChannelRecord {
  enum class Kind { stream, flow } kind = Kind::stream;
  std::size_t piece = 0;
  std::shared_ptr<Stream> stream;  // shared with its reader
  bool awaiting = false;           // a step's answer is outstanding (its tries are the last attempts entry)
  bool broken = false;
};

conv::Event failed(conv::Channel channel, Outcome outcome, std::string detail) {
  conv::Event e;
  e.kind = conv::Event::Kind::failed;
  e.channel = channel;
  e.outcome = outcome;
  e.detail = std::move(detail);
  return e;
}

// Reads the stream until it fails or the conversation ends, cutting what
// arrives into messages. Bytes the framing rejects are handed over as one
// message that fails every check.
asio::awaitable<void> read_stream(std::shared_ptr<Inbox> inbox, std::shared_ptr<Stream> stream,
                                  conv::Channel channel, conv::StreamFraming framing) {
  probes::Bytes buffer;
  std::array<std::uint8_t, 2048> chunk{};
  for (;;) {
    for (;;) {
      auto framed = framing(buffer);
      if (framed.status == conv::FrameStatus::need_more && buffer.size() < kMaxBuffered) break;
      conv::Event e;
      e.kind = conv::Event::Kind::message;
      e.channel = channel;
      const std::size_t size = framed.status == conv::FrameStatus::complete ? framed.size : buffer.size();
      e.message.assign(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size));
      buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size));
      inbox->push(std::move(e));
      if (buffer.empty()) break;
    }
    auto [ec, n] = co_await stream->read_some(chunk);
    if (inbox->ended) co_return;
    if (ec) {
      inbox->push(failed(channel, outcome_of(ec), ec.message()));
      co_return;
    }
    buffer.insert(buffer.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
  }
}

}  // namespace

asio::awaitable<StreamConnected> connect_stream(asio::ip::tcp::endpoint remote, Clock::time_point deadline,
                                                Clock::time_point t0, std::chrono::milliseconds retry_unit) {
  auto connected = co_await connect_with_retries(remote, deadline, t0, retry_unit);
  StreamConnected out;
  out.error = connected.error;
  out.attempts = std::move(connected.attempts);
  if (out.error) co_return out;
  boost::system::error_code ec;
  connected.socket->set_option(asio::ip::tcp::no_delay(true), ec);
  auto local = connected.socket->local_endpoint(ec);
  if (!ec) {
    out.local = ip_port(local.address(), local.port());
    out.local_endpoint = probes::Endpoint{local.address().to_string(), local.port()};
  }
  out.stream = std::make_unique<TcpStream>(std::move(*connected.socket));
  co_return out;
}

asio::awaitable<std::vector<ClientSide>> run_conversation(ConversationRun run) {
  auto executor = co_await asio::this_coro::executor;
  const auto t0 = Clock::now();
  const auto ms_since_start = [t0](Clock::time_point at) {
    return std::chrono::duration<double, std::milli>(at - t0).count();
  };
  const auto whole_ms = [t0](Clock::time_point at) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at - t0).count();
  };

  conv::Setup setup;
  setup.pieces = run.pieces;
  setup.remote = ip_port(run.remote, 0);
  setup.deadline_ms = whole_ms(run.deadline);
  setup.hints = run.hints;
  setup.random = run.random;
  auto conversation = run.module->client_conversation(setup);

  auto inbox = std::make_shared<Inbox>(executor);
  std::vector<ChannelRecord> channels;
  std::vector<ClientSide> sides(run.pieces.size());
  conv::Done done;

  conv::Event event;  // started
  for (;;) {
    event.now_ms = whole_ms(Clock::now());
    conv::Action action = conversation->step(event);
    if (auto* end = std::get_if<conv::Done>(&action)) {
      done = std::move(*end);
      break;
    }
    event = conv::Event{};

    if (auto* open = std::get_if<conv::OpenStream>(&action)) {
      const conv::Channel channel = channels.size();
      channels.push_back({ChannelRecord::Kind::stream, open->piece, nullptr});
      auto& side = sides.at(open->piece);
      auto connected = co_await run.connect({run.remote, open->port}, run.deadline, t0, run.retry_unit);
      side.attempts.push_back(std::move(connected.attempts));
      if (connected.error || !connected.stream) {
        channels.back().broken = true;
        event = failed(channel, outcome_of(connected.error), connected.error.message());
        continue;
      }
      side.local = connected.local_endpoint;
      channels.back().stream = std::shared_ptr<Stream>(std::move(connected.stream));
      asio::co_spawn(executor, read_stream(inbox, channels.back().stream, channel, open->framing),
                     [](std::exception_ptr) {});
      event.kind = conv::Event::Kind::opened;
      event.channel = channel;
      event.local = connected.local;
      continue;
    }

    if (auto* flow = std::get_if<conv::OpenFlow>(&action)) {
      const conv::Channel channel = channels.size();
      channels.push_back({ChannelRecord::Kind::flow, flow->piece, nullptr});
      inbox->flow_sides.resize(channels.size());
      Exchange ex;
      ex.transport = flow->transport;
      ex.remote = run.remote;
      ex.port = flow->port;
      ex.deadline = std::min(run.deadline, t0 + std::chrono::milliseconds(flow->deadline_ms));
      ex.retry_unit = run.retry_unit;
      auto check = [answers = flow->answers](probes::Bytes request) {
        return [answers, request = std::move(request)](probes::ByteView reply) { return answers(reply, request); };
      };
      // Built for an unspecified address of the right family until the
      // exchange knows its own (on_local_address).
      ex.wire = flow->request(probes::IpPort{probes::Bytes(run.remote.is_v6() ? 16 : 4, 0), 0});
      ex.is_reply = check(ex.wire);
      ex.on_local_address = [request = flow->request, check](const probes::IpPort& local, Exchange& e) {
        e.wire = request(local);
        e.is_reply = check(e.wire);
      };
      const auto* phase = run.module->data_phase;
      const auto& variant = run.pieces.at(flow->piece).variant;
      if (flow->data && phase != nullptr && phase->follows(variant) &&
          (flow->transport == probes::Transport::ip ? run.data_echoed_ip : run.data_echoed_udp))
        ex.data = Exchange::DataPhaseRun{phase, run.pieces[flow->piece].token, run.random, flow->data->sent,
                                         flow->data->echoed};
      auto answer = std::make_shared<std::optional<probes::Bytes>>();
      ex.inspect_reply = [answer](probes::ByteView reply) {
        *answer = probes::Bytes(reply.begin(), reply.end());
        return probes::Fields{};
      };
      asio::co_spawn(executor, run.flow(std::move(ex)),
                     [inbox, channel, answer](std::exception_ptr error, ClientSide side) {
                       if (error) {
                         side = ClientSide{};
                         side.outcome = Outcome::local_error;
                         side.detail = "internal error while probing";
                       }
                       if (inbox->ended) return;
                       inbox->flow_sides[channel] = side;
                       if (side.outcome == Outcome::reply && *answer) {
                         conv::Event e;
                         e.kind = conv::Event::Kind::message;
                         e.channel = channel;
                         e.message = std::move(**answer);
                         inbox->push(std::move(e));
                       } else {
                         inbox->push(failed(channel, side.outcome == Outcome::reply ? Outcome::invalid_reply
                                                                                     : side.outcome,
                                            side.detail));
                       }
                     });
      event.kind = conv::Event::Kind::opened;
      event.channel = channel;
      continue;
    }

    if (auto* send = std::get_if<conv::Send>(&action)) {
      if (send->channel >= channels.size() || channels[send->channel].kind != ChannelRecord::Kind::stream ||
          channels[send->channel].broken) {
        event = failed(send->channel, Outcome::local_error, "no open stream to send on");
        continue;
      }
      auto& channel = channels[send->channel];
      auto& side = sides.at(channel.piece);
      ++side.sends;
      side.sent_length += send->bytes.size();
      const std::string digest = probes::to_hex(probes::sha256(send->bytes));
      if (side.sent_sha256.empty())
        side.sent_sha256 = digest;
      else
        side.later_sent_sha256.push_back(digest);
      if (send->awaits_answer) {
        side.attempts.push_back(StepAttempts{{ms_since_start(Clock::now())}, std::nullopt});
        channel.awaiting = true;
      }
      if (auto ec = co_await channel.stream->write(send->bytes, run.deadline)) {
        event = failed(send->channel, outcome_of(ec), ec.message());
        continue;
      }
      event.kind = conv::Event::Kind::sent;
      event.channel = send->channel;
      continue;
    }

    const auto& wait = std::get<conv::WaitUntil>(action);
    // The one deadline holds whatever the conversation asks.
    const auto until = std::min(run.deadline, t0 + std::chrono::milliseconds(wait.at_ms));
    while (inbox->items.empty() && Clock::now() < until) {
      inbox->wake.expires_at(until);
      co_await inbox->wake.async_wait(use_tuple);
    }
    if (inbox->items.empty()) {
      event.kind = conv::Event::Kind::timer;
      continue;
    }
    auto item = std::move(inbox->items.front());
    inbox->items.pop_front();
    event = std::move(item.event);
    if (event.channel < channels.size()) {
      auto& channel = channels[event.channel];
      auto& side = sides.at(channel.piece);
      if (event.kind == conv::Event::Kind::failed) channel.broken = true;
      if (event.kind == conv::Event::Kind::message && channel.kind == ChannelRecord::Kind::stream &&
          channel.awaiting && !side.attempts.empty()) {
        channel.awaiting = false;
        side.attempts.back().answered_ms = ms_since_start(item.at);
        if (!side.rtt_ms) side.rtt_ms = ms_since_start(item.at);
      }
    }
  }

  // An answer still outstanding: its tries include the kernel's retransmissions.
  for (auto& channel : channels) {
    if (channel.kind != ChannelRecord::Kind::stream || !channel.stream) continue;
    if (channel.awaiting && !sides.at(channel.piece).attempts.empty())
      channel.stream->add_retransmissions(sides.at(channel.piece).attempts.back(), ms_since_start(Clock::now()));
    channel.stream->close();
  }
  // What each flow measured is its piece's record (a flow still running is abandoned).
  for (std::size_t c = 0; c < channels.size(); ++c) {
    if (channels[c].kind != ChannelRecord::Kind::flow || c >= inbox->flow_sides.size() || !inbox->flow_sides[c])
      continue;
    auto& side = sides.at(channels[c].piece);
    auto& measured = *inbox->flow_sides[c];
    side.local = measured.local;
    side.sent_sha256 = measured.sent_sha256;
    side.sent_length += measured.sent_length;
    if (!side.rtt_ms) side.rtt_ms = measured.rtt_ms;
    side.sends += measured.sends;
    side.detail = measured.detail;
    side.attempts.insert(side.attempts.end(), measured.attempts.begin(), measured.attempts.end());
    if (measured.data) side.data = std::move(measured.data);
  }
  inbox->ended = true;
  inbox->items.clear();

  for (std::size_t i = 0; i < sides.size(); ++i) {
    auto& side = sides[i];
    if (run.pieces[i].not_run) {
      side = ClientSide{};
      side.detail = *run.pieces[i].not_run;
      continue;
    }
    const conv::PieceResult result = i < done.pieces.size() ? done.pieces[i] : conv::PieceResult{};
    side.outcome = result.outcome;
    if (!result.detail.empty()) side.detail = result.detail;
    side.reply_fields = result.reply_fields;
    side.steps_answered = result.steps_answered;
    if (!result.digests) {
      side.sent_sha256.clear();
      side.later_sent_sha256.clear();
    }
  }
  co_return sides;
}

}  // namespace vpncheck::client
