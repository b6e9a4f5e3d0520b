// No amplification, proven on the wire (DESIGN.md, Contract 2: "an
// unauthenticated answer is never larger than the request that caused it").
//
// The whole Server runs in-process on loopback with the rate limit off (the
// strictest case: everything answerable is answered). After opening a
// session from 127.0.0.2 (so that the probes' source, 127.0.0.1, is an
// address the session never validated: what a spoofer can send), several UDP source sockets and many TCP connections send every
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
// source, and no input is answered with more than one datagram. The server's
// own counters (GET /metrics) then prove it saw every
// datagram, so no kernel drop can flatter the ratios. TCP connections (one
// source each) half-close after writing and read to EOF.
#include "reflector/server.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <thread>

#include "probes/control.h"
#include "probes/ipsec.h"
#include "probes/ipsec_esp.h"
#include "probes/openvpn.h"
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
    config.max_observation_bytes = std::size_t{1} << 30;  // budgets are not what this measures
    config.timeouts.control_idle = 20ms;
    config.timeouts.control_total = 500ms;
    config.timeouts.probe_first_bytes = 2000ms;
    config.timeouts.linger = 200ms;
    server_ = std::make_unique<Server>(config, &log_);
    auto error = server_->start();
    ASSERT_FALSE(error) << *error;
    io_ = std::thread([this] { server_->run(); });

    auto created = test::blocking_http_call(server_->ports().control, http::verb::post, "/v1/sessions",
                                            asio::ip::make_address("127.0.0.2"));
    ASSERT_EQ(created.result(), http::status::created) << created.body();
    std::string parse_error;
    auto info = probes::session_info_from_json(created.body(), parse_error);
    ASSERT_TRUE(info) << parse_error;
    token_.tag = *probes::tag_from_hex(info->tag_hex);
    // A second session, opened from 127.0.0.1 itself: its probes from there
    // come from the address it validated.
    auto own = test::blocking_http_call(server_->ports().control, http::verb::post, "/v1/sessions");
    ASSERT_EQ(own.result(), http::status::created) << own.body();
    auto own_info = probes::session_info_from_json(own.body(), parse_error);
    ASSERT_TRUE(own_info) << parse_error;
    validated_token_.tag = *probes::tag_from_hex(own_info->tag_hex);
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
  Tally udp_source(const std::vector<Bytes>& inputs, const asio::ip::address& from = kLoopback) {
    asio::io_context ctx;
    udp::socket socket(ctx, udp::endpoint(from, 0));
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
      std::size_t datagrams = 0;
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
        ++datagrams;
        last_answer_.assign(got.begin(), got.end());
      }
      EXPECT_LE(datagrams, 1U) << "input " << i << ": never more packets than it brought";
      if (limit_to_input_) {
        EXPECT_LE(answer, inputs[i].size()) << "input " << i << " (" << inputs[i].size() << " B, first byte "
                                            << (inputs[i].empty() ? -1 : inputs[i][0]) << ")";
      }
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
  probes::ProbeToken validated_token_;
  bool limit_to_input_ = true;  // false: a source the session validated may get more
  Bytes last_answer_;
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
  const auto over_udp = static_cast<std::size_t>(
      std::count_if(probes::all_protocols().begin(), probes::all_protocols().end(), [](const auto* m) {
        return std::any_of(m->variants.begin(), m->variants.end(),
                           [](const auto& v) { return v.transport == probes::Transport::udp; });
      }));
  EXPECT_EQ(udp["udp genuine"].answers, 4 * over_udp);
  EXPECT_GT(udp["udp control"].answers, 50u);
  // The server saw every datagram: no loss flatters the ratios above.
  EXPECT_EQ(server_saw(), datagrams_sent_);

  // TCP: framed genuine probes, framed and torn truncations, control probes, garbage.
  std::vector<Bytes> tcp_inputs;
  for (const auto* m : probes::all_protocols()) {
    for (const auto& v : m->variants) {
      if (v.transport != probes::Transport::tcp || v.framing == nullptr) continue;
      probes::ProbeContext context = probes::default_context(*m, next_token(), hints_);
      context.variant = v;
      Bytes request = m->build_request(context, rnd_);
      Bytes frame = probes::frame_first(*v.framing, request);
      tcp_inputs.push_back(frame);
      for (std::size_t n = 1; n < request.size(); n += 3) {
        // consistent frame, short message
        tcp_inputs.push_back(probes::frame_first(*v.framing, probes::ByteView(request).first(n)));
        tcp_inputs.emplace_back(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));  // torn frame
      }
    }
  }
  // Protocols that frame themselves on TCP (PPTP): their messages as they are, and torn.
  for (const auto* m : probes::all_protocols()) {
    if (std::none_of(m->variants.begin(), m->variants.end(), [](const auto& v) {
          return v.transport == probes::Transport::tcp && v.framing == nullptr;
        }))
      continue;
    Bytes request = probes::build_request(*m, next_token(), hints_, rnd_);
    tcp_inputs.push_back(request);
    for (std::size_t n = 4; n < request.size(); n += 13)
      tcp_inputs.emplace_back(request.begin(), request.begin() + static_cast<std::ptrdiff_t>(n));
  }
  for (std::size_t size = probes::control::kMinSize; size <= 1400; size += 97)
    tcp_inputs.push_back(probes::control::build_request(next_token(), size, rnd_));
  auto junk = garbage();
  tcp_inputs.insert(tcp_inputs.end(), junk.begin(), junk.begin() + 60);

  // A stream's peer completed a TCP handshake from its address, so nobody else
  // can be made the target of its answer: the protocol's genuine answer may
  // outgrow the request (OpenVPN's 26-byte reset to a 14-byte one), but never
  // by more than one full-size packet per message.
  constexpr std::size_t kFullSizePacket = 1500;
  Tally tcp_total;
  for (std::size_t i = 0; i < tcp_inputs.size(); ++i) {
    Tally t = tcp_source(tcp_inputs[i]);
    EXPECT_LE(t.out, std::max(t.in, kFullSizePacket))
        << "TCP input " << i << " of " << tcp_inputs[i].size() << " B got " << t.out << " B";
    tcp_total.in += t.in;
    tcp_total.out += t.out;
    tcp_total.answers += t.answers;
  }
  EXPECT_GT(tcp_total.answers, 10u);
  EXPECT_EQ(log_stream_.str().find("error"), std::string::npos) << log_stream_.str();
}


// The other half: the address a session validated (its control connection's)
// gets OpenVPN's genuine answers in each form, larger than some requests
// (the plain reset's 26 bytes to its 14) and still one datagram each; the
// same tagged probes from any other address (what a spoofer would send in
// the client's name) get nothing larger than they carried.
TEST_F(ReflectorAmplification, OnlyTheValidatedAddressGetsAnswersLargerThanItsRequests) {
  for (auto form : probes::openvpn::kForms) {
    SCOPED_TRACE(std::string(probes::openvpn::form_name(form)));
    probes::ProbeToken own = validated_token_;
    own.probe_index = next_index_++;
    Bytes request = probes::openvpn::build_client_reset(form, own, rnd_);

    limit_to_input_ = false;
    Tally validated = udp_source({request}, kLoopback);
    EXPECT_EQ(validated.answers, 1U);
    EXPECT_EQ(last_answer_.size(), probes::openvpn::server_reset_size(form));
    EXPECT_TRUE(probes::openvpn::is_server_reset_for(last_answer_, request));
    if (form == probes::openvpn::Form::plain) {
      EXPECT_GT(validated.out, validated.in) << "the genuine answer is larger";
    }

    limit_to_input_ = true;
    for (const char* other : {"127.0.0.3", "127.0.0.2"}) {
      Tally spoofed = udp_source({request}, asio::ip::make_address(other));
      EXPECT_LE(spoofed.out, spoofed.in) << other;
      EXPECT_EQ(spoofed.answers, form == probes::openvpn::Form::plain ? 0U : 1U) << other;
    }
  }
  EXPECT_EQ(server_saw(), datagrams_sent_);
}

// Data-phase packets (ProtocolModule::data_phase) of every module, small and
// full size: the validated address gets exactly one echo of each, of its
// size; the same packets from any other address get nothing at all.
TEST_F(ReflectorAmplification, DataPacketsAreEchoedOnlyToTheValidatedAddress) {
  std::vector<Bytes> packets;
  for (const auto* m : probes::all_protocols()) {
    // Over UDP: the modules with a UDP place for their data (PPTP's is GRE alone).
    if (m->data_phase == nullptr || m->data_phase->full_payload_v4 == 0) continue;
    probes::ProbeToken own = validated_token_;
    own.probe_index = next_index_++;
    for (std::size_t size : {m->data_phase->small_payload, m->data_phase->full_payload_v4})
      packets.push_back(m->data_phase->build(own, static_cast<std::uint32_t>(packets.size()), size, 0, rnd_));
  }
  ASSERT_GE(packets.size(), 6U);
  limit_to_input_ = false;
  Tally validated = udp_source(packets, kLoopback);
  EXPECT_EQ(validated.answers, packets.size());
  EXPECT_EQ(validated.out, validated.in) << "one echo of each packet's own size (and the sentinels')";

  limit_to_input_ = true;
  for (const char* other : {"127.0.0.3", "127.0.0.2"}) {
    Tally spoofed = udp_source(packets, asio::ip::make_address(other));
    EXPECT_EQ(spoofed.answers, 0U) << other;
    EXPECT_LE(spoofed.out, spoofed.in) << other;
  }
  EXPECT_EQ(server_saw(), datagrams_sent_);
}

// The raw IPv6 path (ESP and AH over ::1, needs root): each input goes out as
// an IPv6 raw payload (the kernel writes the header, as the client's does),
// followed by a genuine request of the same protocol as sentinel; what comes
// back before the sentinel's answer answers that input. Our own datagrams
// loop back to our raw socket too and are skipped (byte-equal to what we
// sent; the reflector never answers with a request).
class RawIpv6Amplification : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "raw IPv6 sockets need CAP_NET_RAW (run as root)";
    Config config = test::loopback_config();
    config.listen = {"127.0.0.1", "::1"};
    config.raw_protocols = {"esp", "ah"};
    config.rate_limit = 0;
    config.max_observations = 1 << 16;
    config.max_observation_bytes = std::size_t{1} << 30;  // budgets are not what this measures
    server_ = std::make_unique<Server>(config, &log_);
    auto error = server_->start();
    ASSERT_FALSE(error) << *error;
    io_ = std::thread([this] { server_->run(); });
    if (server_->ports().raw6 != std::vector<std::string>{"esp", "ah"}) GTEST_SKIP() << "no raw IPv6 listeners";
    auto created = test::blocking_http_call(server_->ports().control, http::verb::post, "/v1/sessions");
    ASSERT_EQ(created.result(), http::status::created) << created.body();
    std::string parse_error;
    auto info = probes::session_info_from_json(created.body(), parse_error);
    ASSERT_TRUE(info) << parse_error;
    token_.tag = *probes::tag_from_hex(info->tag_hex);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (io_.joinable()) io_.join();
  }

  // The payload (after the IPv6 header) of a genuine ESP or AH request from ::1 to ::1.
  Bytes request_payload(std::string_view piece, const probes::ProbeToken& token) {
    probes::ProbeContext c;
    c.token = token;
    for (const auto& v : probes::ipsec::kModule.variants)
      if (v.piece == piece) c.variant = v;
    c.local = c.remote = probes::IpPort{Bytes(16, 0), 0};
    c.local.address[15] = c.remote.address[15] = 1;
    Bytes d = probes::ipsec::kModule.build_request(c, rnd_);
    return {d.begin() + probes::ip6::kHeaderSize, d.end()};
  }
  probes::ProbeToken next_token() {
    probes::ProbeToken t = token_;
    t.probe_index = next_index_++;
    return t;
  }

  Tally raw_source(std::string_view piece, std::uint8_t protocol, const std::vector<Bytes>& inputs) {
    Tally tally;
    int fd = ::socket(AF_INET6, SOCK_RAW, protocol);
    EXPECT_GE(fd, 0);
    if (fd < 0) return tally;
    sockaddr_in6 lo{};
    lo.sin6_family = AF_INET6;
    lo.sin6_addr = in6addr_loopback;
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&lo), sizeof lo), 0);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&lo), sizeof lo), 0);
    Bytes buffer(65536);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const auto sentinel_token = next_token();
      Bytes sentinel = request_payload(piece, sentinel_token);
      EXPECT_EQ(::send(fd, inputs[i].data(), inputs[i].size(), 0), static_cast<ssize_t>(inputs[i].size()));
      EXPECT_EQ(::send(fd, sentinel.data(), sentinel.size(), 0), static_cast<ssize_t>(sentinel.size()));
      tally.in += inputs[i].size() + sentinel.size();
      std::size_t answer = 0;
      bool own_input_seen = inputs[i].empty(), own_sentinel_seen = false;
      while (true) {
        ssize_t n = recv_bounded(fd, buffer);
        if (n < 0) {
          ADD_FAILURE() << "the sentinel's answer never came back (input " << i << ")";
          ::close(fd);
          return tally;
        }
        Bytes got(buffer.begin(), buffer.begin() + n);
        if (!own_input_seen && got == inputs[i]) {
          own_input_seen = true;
          continue;
        }
        if (!own_sentinel_seen && got == sentinel) {
          own_sentinel_seen = true;
          continue;
        }
        tally.out += got.size();
        // The sentinel's answer: rebuilt as the client does, the module says so.
        probes::ip6::Address loopback{};
        loopback[15] = 1;
        Bytes whole_reply = probes::ip6::datagram(loopback, loopback, protocol, 0, 0, got);
        Bytes whole_request = probes::ip6::datagram(loopback, loopback, protocol, 64, 0, sentinel);
        if (probes::ipsec::kModule.is_reply_to(whole_reply, whole_request)) {
          EXPECT_LE(got.size(), sentinel.size());
          break;
        }
        answer += got.size();
      }
      EXPECT_LE(answer, inputs[i].size()) << piece << " input " << i << " (" << inputs[i].size() << " B)";
      if (answer > 0) ++tally.answers;
    }
    ::close(fd);
    return tally;
  }

  std::ostringstream log_stream_;
  Logger log_{LogLevel::warn, &log_stream_};
  std::unique_ptr<Server> server_;
  std::thread io_;
  probes::ProbeToken token_;
  std::uint16_t next_index_ = 1;
  probes::RandomFill rnd_ = test::counter_fill(91);
};

TEST_F(RawIpv6Amplification, NoSourceGetsMoreBytesThanItSentOverRawIpv6) {
  for (auto [piece, protocol] : {std::pair<std::string_view, std::uint8_t>{"esp", 50}, {"ah", 51}}) {
    SCOPED_TRACE(std::string(piece));
    std::vector<Bytes> inputs;
    for (int i = 0; i < 3; ++i) inputs.push_back(request_payload(piece, next_token()));
    Bytes request = request_payload(piece, next_token());
    for (std::size_t n = 1; n < request.size(); ++n)
      inputs.emplace_back(request.begin(), request.begin() + static_cast<std::ptrdiff_t>(n));
    for (int i = 0; i < 64; ++i) {
      Bytes mutated = request_payload(piece, next_token());
      std::array<std::uint8_t, 3> pick{};
      rnd_(pick);
      mutated[pick[0] % mutated.size()] = pick[1];
      if (pick[2] % 4 == 0) mutated.push_back(pick[1]);
      inputs.push_back(std::move(mutated));
    }
    probes::ProbeToken stranger{{9, 8, 7, 6, 5, 4}, 1};
    inputs.push_back(request_payload(piece, stranger));
    for (int i = 0; i < 40; ++i) {
      std::array<std::uint8_t, 2> len{};
      rnd_(len);
      Bytes g(1 + (std::size_t{len[0]} << 8 | len[1]) % 1400);
      rnd_(g);
      inputs.push_back(std::move(g));
    }
    Tally t = raw_source(piece, protocol, inputs);
    EXPECT_GT(t.in, 0u);
    EXPECT_LE(t.out, t.in) << "amplification: ratio " << static_cast<double>(t.out) / static_cast<double>(t.in);
    EXPECT_GE(t.answers, 3u) << "not vacuous: the genuine requests were answered";
  }
  EXPECT_EQ(log_stream_.str().find("error"), std::string::npos) << log_stream_.str();
}

// Raw ESP data packets (the data phase over raw IP) of a live session, small
// and full size, from ::1, an address the session (opened from 127.0.0.1)
// never validated: never echoed, not even at their own size.
TEST_F(RawIpv6Amplification, RawEspDataFromAnUnvalidatedSourceIsNeverEchoed) {
  const auto& phase = *probes::ipsec::kModule.data_phase;
  std::vector<Bytes> inputs;
  for (std::size_t size : {phase.small_payload, phase.full_ip_payload_v6})
    for (std::uint32_t sequence = 0; sequence < 3; ++sequence)
      inputs.push_back(phase.build(next_token(), sequence, size, 0, rnd_));
  Tally t = raw_source("esp", 50, inputs);
  EXPECT_EQ(t.answers, 0u);
  EXPECT_LE(t.out, t.in);
}

}  // namespace
}  // namespace vpncheck::reflector
