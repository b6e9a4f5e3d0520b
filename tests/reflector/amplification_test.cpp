// No amplification, proven on the wire (DESIGN.md, Contract 2: "an
// unauthenticated answer is never larger than the request that caused it").
//
// The whole Server runs in-process on loopback with the rate limit off (the
// strictest case: everything answerable is answered). After opening a
// session, several UDP source sockets and many TCP connections send every
// registered probe kind (genuine requests of every module, control probes,
// every truncation, random mutations, probes of unknown sessions) and random
// garbage, some of it carrying the live tag. Each source counts the bytes it
// sent and the bytes it got back; bytes out / bytes in must be <= 1.0 per
// source.
//
// No timing decides the result: each UDP input is followed by a sentinel
// control probe whose echo comes last (one server thread, FIFO loopback
// queues), so when the sentinel's echo is read every reply to the input has
// been read too, and is checked against that input alone as well as per
// source. The server's own counters (GET /metrics) then prove it saw every
// datagram, so no kernel drop can flatter the ratios. TCP connections (one
// source each) half-close after writing and read to EOF.
#include "reflector/server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <map>
#include <sstream>
#include <thread>

#include "probes/control.h"
#include "probes/registry.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using asio::ip::udp;
using probes::Bytes;
using namespace std::chrono_literals;

const auto kLoopback = asio::ip::make_address("127.0.0.1");
constexpr int kLivenessMs = 5000;  // only ever hit if the server hangs: then the test fails

// One recv, waiting at most kLivenessMs; -1 on timeout or error.
ssize_t recv_bounded(int fd, Bytes& buffer) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, kLivenessMs) <= 0) return -1;
  return ::recv(fd, buffer.data(), buffer.size(), 0);
}

struct Tally {
  std::uint64_t in = 0;   // bytes the source sent to the reflector
  std::uint64_t out = 0;  // bytes the reflector sent back
  std::uint64_t answers = 0;
};

class ReflectorAmplification : public ::testing::Test {
 protected:
  void SetUp() override {
    Config config = test::loopback_config();
    config.rate_limit = 0;  // off: every answerable arrival is answered
    config.max_observations = 1 << 16;
    config.timeouts.control_idle = 20ms;
    config.timeouts.control_total = 500ms;
    config.timeouts.probe_first_bytes = 2000ms;
    config.timeouts.linger = 200ms;
    server_ = std::make_unique<Server>(config, &log_);
    auto error = server_->start();
    ASSERT_FALSE(error) << *error;
    io_ = std::thread([this] { server_->run(); });

    auto created = test::blocking_http_call(server_->ports().control, http::verb::post, "/v1/sessions");
    ASSERT_EQ(created.result(), http::status::created) << created.body();
    std::string parse_error;
    auto info = probes::session_info_from_json(created.body(), parse_error);
    ASSERT_TRUE(info) << parse_error;
    token_.tag = *probes::tag_from_hex(info->tag_hex);
    auto key = probes::from_hex(*info->capabilities.wireguard_public_key_hex);
    ASSERT_TRUE(key && key->size() == 32);
    hints_.wireguard_public_key.emplace();
    std::copy(key->begin(), key->end(), hints_.wireguard_public_key->begin());
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (io_.joinable()) io_.join();
  }

  probes::ProbeToken next_token() {
    probes::ProbeToken t = token_;
    t.probe_index = next_index_++;
    return t;
  }

  // Genuine requests of every module, several times over.
  std::vector<Bytes> genuine() {
    std::vector<Bytes> out;
    for (int round = 0; round < 4; ++round)
      for (const auto* m : probes::all_protocols()) out.push_back(probes::build_request(*m, next_token(), hints_, rnd_));
    return out;
  }
  // Every prefix of every module's request, and mutations past the token.
  std::vector<Bytes> truncated_and_mutated() {
    std::vector<Bytes> out;
    for (const auto* m : probes::all_protocols()) {
      Bytes request = probes::build_request(*m, next_token(), hints_, rnd_);
      for (std::size_t n = 0; n < request.size(); ++n)
        out.emplace_back(request.begin(), request.begin() + static_cast<std::ptrdiff_t>(n));
      for (int i = 0; i < 48; ++i) {
        Bytes mutated = probes::build_request(*m, next_token(), hints_, rnd_);
        std::array<std::uint8_t, 3> pick{};
        rnd_(pick);
        mutated[16 + pick[0] % (mutated.size() - 16)] = pick[1];
        if (pick[2] % 4 == 0) mutated.push_back(pick[1]);  // one byte too many
        out.push_back(std::move(mutated));
      }
    }
    return out;
  }
  // Control probes of many sizes, for the live session and a stranger.
  std::vector<Bytes> control_probes() {
    std::vector<Bytes> out;
    for (std::size_t size = probes::control::kMinSize; size <= 1400; size += 23)
      out.push_back(probes::control::build_request(next_token(), size, rnd_));
    probes::ProbeToken stranger{{9, 8, 7, 6, 5, 4}, 1};
    for (const auto* m : probes::all_protocols()) out.push_back(probes::build_request(*m, stranger, hints_, rnd_));
    out.push_back(probes::control::build_request(stranger, 100, rnd_));
    return out;
  }
  // Random bytes, some behind a plausible first byte and the live token.
  std::vector<Bytes> garbage() {
    std::vector<Bytes> out;
    constexpr std::array<std::uint8_t, 6> kFirst{0x01, 0x38, 0xFF, 0xFE, 0x00, 0x16};
    for (int i = 0; i < 300; ++i) {
      std::array<std::uint8_t, 3> pick{};
      rnd_(pick);
      Bytes g(1 + (std::size_t{pick[0]} << 8 | pick[1]) % 1400);
      rnd_(g);
      if (pick[2] % 2 == 0) g[0] = kFirst[pick[2] / 2 % kFirst.size()];
      if (pick[2] % 3 == 0 && g.size() > 9) {
        auto tok = next_token().encode();
        std::copy(tok.begin(), tok.end(), g.begin() + 1);
      }
      out.push_back(std::move(g));
    }
    return out;
  }

  // Sends `inputs` from one fresh UDP socket, each followed by a sentinel
  // control probe; what arrives before the sentinel's echo answers that input,
  // which must not have got more bytes back than it carried.
  Tally udp_source(const std::vector<Bytes>& inputs) {
    asio::io_context ctx;
    udp::socket socket(ctx, udp::endpoint(kLoopback, 0));
    const udp::endpoint reflector(kLoopback, server_->ports().udp[0]);
    Tally tally;
    Bytes buffer(65536);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      Bytes sentinel = probes::control::build_request(next_token(), 64, rnd_);
      socket.send_to(asio::buffer(inputs[i]), reflector);
      socket.send_to(asio::buffer(sentinel), reflector);
      tally.in += inputs[i].size() + sentinel.size();
      datagrams_sent_ += 2;
      std::size_t answer = 0;  // bytes back for inputs[i]
      while (true) {
        ssize_t n = recv_bounded(socket.native_handle(), buffer);
        if (n < 0) {
          ADD_FAILURE() << "the sentinel's echo never came back";
          return tally;
        }
        const auto got = probes::ByteView(buffer).first(static_cast<std::size_t>(n));
        tally.out += got.size();
        if (probes::control::is_reply_to(got, sentinel)) {
          EXPECT_LE(got.size(), sentinel.size());
          break;
        }
        answer += got.size();
      }
      EXPECT_LE(answer, inputs[i].size()) << "input " << i << " (" << inputs[i].size() << " B, first byte "
                                          << (inputs[i].empty() ? -1 : inputs[i][0]) << ")";
      if (answer > 0) ++tally.answers;
    }
    return tally;
  }

  // One TCP connection per input: write, half-close, read to EOF.
  Tally tcp_source(const Bytes& input) {
    asio::io_context ctx;
    tcp::socket socket(ctx);
    socket.connect({kLoopback, server_->ports().tcp[0]});
    Tally tally;
    asio::write(socket, asio::buffer(input));
    tally.in = input.size();
    socket.shutdown(tcp::socket::shutdown_send);
    Bytes buffer(65536);
    while (true) {
      ssize_t n = recv_bounded(socket.native_handle(), buffer);
      if (n == 0) break;  // EOF
      if (n < 0) {
        if (errno == ECONNRESET) break;
        ADD_FAILURE() << "the reflector neither answered nor closed";
        break;
      }
      tally.out += static_cast<std::size_t>(n);
    }
    if (tally.out > 0) ++tally.answers;
    return tally;
  }

  std::uint64_t server_saw() {
    auto res = test::blocking_http_call(server_->ports().control, http::verb::get, "/metrics");
    EXPECT_EQ(res.result(), http::status::ok);
    std::uint64_t sum = 0;
    std::istringstream in(res.body());
    for (std::string line; std::getline(in, line);) {
      bool recorded = line.starts_with("vpncheck_reflector_probes_recorded_total{");
      bool dropped = line.starts_with("vpncheck_reflector_drops_total{") &&
                     line.find("reason=\"rate_limited\"") == std::string::npos;  // already recorded
      if (recorded || dropped) sum += std::stoull(line.substr(line.rfind(' ') + 1));
    }
    return sum;
  }

  std::ostringstream log_stream_;
  Logger log_{LogLevel::warn, &log_stream_};
  std::unique_ptr<Server> server_;
  std::thread io_;
  probes::ProbeToken token_;
  std::uint16_t next_index_ = 1;
  probes::ServerHints hints_;
  probes::RandomFill rnd_ = test::counter_fill(77);
  std::uint64_t datagrams_sent_ = 0;
};

TEST_F(ReflectorAmplification, NoSourceGetsMoreBytesThanItSent) {
  std::map<std::string, Tally> udp;
  udp["udp genuine"] = udp_source(genuine());
  udp["udp truncated+mutated"] = udp_source(truncated_and_mutated());
  udp["udp control"] = udp_source(control_probes());
  udp["udp garbage"] = udp_source(garbage());
  // A source mixing everything, in one stream.
  std::vector<Bytes> mixed;
  for (auto part : {genuine(), control_probes(), garbage()}) mixed.insert(mixed.end(), part.begin(), part.end());
  udp["udp mixed"] = udp_source(mixed);

  for (const auto& [name, t] : udp) {
    SCOPED_TRACE(name);
    EXPECT_GT(t.in, 0u);
    EXPECT_LE(t.out, t.in) << "amplification: ratio " << static_cast<double>(t.out) / static_cast<double>(t.in);
  }
  // Not vacuous: what should be answered was answered.
  EXPECT_EQ(udp["udp genuine"].answers, 4 * probes::all_protocols().size());
  EXPECT_GT(udp["udp control"].answers, 50u);
  // The server saw every datagram: no loss flatters the ratios above.
  EXPECT_EQ(server_saw(), datagrams_sent_);

  // TCP: framed genuine probes, framed and torn truncations, control probes, garbage.
  std::vector<Bytes> tcp_inputs;
  for (const auto* m : probes::all_protocols()) {
    if (m->frame_stream == nullptr) continue;
    Bytes request = probes::build_request(*m, next_token(), hints_, rnd_);
    Bytes frame = m->frame_stream(request);
    tcp_inputs.push_back(frame);
    for (std::size_t n = 1; n < request.size(); n += 3) {
      tcp_inputs.push_back(m->frame_stream(probes::ByteView(request).first(n)));  // consistent frame, short message
      tcp_inputs.emplace_back(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));  // torn frame
    }
  }
  for (std::size_t size = probes::control::kMinSize; size <= 1400; size += 97)
    tcp_inputs.push_back(probes::control::build_request(next_token(), size, rnd_));
  auto junk = garbage();
  tcp_inputs.insert(tcp_inputs.end(), junk.begin(), junk.begin() + 60);

  Tally tcp_total;
  for (std::size_t i = 0; i < tcp_inputs.size(); ++i) {
    Tally t = tcp_source(tcp_inputs[i]);
    EXPECT_LE(t.out, t.in) << "TCP input " << i << " of " << tcp_inputs[i].size() << " B got " << t.out << " B";
    tcp_total.in += t.in;
    tcp_total.out += t.out;
    tcp_total.answers += t.answers;
  }
  EXPECT_GT(tcp_total.answers, 10u);
  EXPECT_LE(tcp_total.out, tcp_total.in);
  EXPECT_EQ(log_stream_.str().find("error"), std::string::npos) << log_stream_.str();
}

}  // namespace
}  // namespace vpncheck::reflector
