// The NAT test service in the real Server on loopback: answers live sessions
// only, from the primary, the other port and the alternate address on
// request, with the observed source; lifetime requests get a second answer
// after the gap; replies never outweigh the request. 127.0.0.2 serves as the
// alternate address (all of 127/8 is local on Linux).
#include <gtest/gtest.h>

#include <poll.h>

#include <chrono>
#include <iostream>
#include <sstream>
#include <thread>

#include "probes/observation.h"
#include "reflector/server.h"
#include "probes/nat_probe.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
namespace np = probes::natprobe;

class NatServiceTest : public ::testing::Test {
 protected:
  void start(std::optional<std::string> alternate, std::vector<std::string> listen = {"127.0.0.1"},
             std::optional<double> rate_limit = std::nullopt) {
    Config config = test::loopback_config();
    if (rate_limit) config.rate_limit = *rate_limit;
    config.listen = std::move(listen);
    config.nat_ports = {0, 0};
    config.alternate_address = std::move(alternate);
    server_ = std::make_unique<Server>(config, &log_);
    auto error = server_->start();
    ASSERT_FALSE(error.has_value()) << *error;
    io_ = std::thread([this] { server_->run(); });
    auto res = test::blocking_http_call(server_->ports().control, http::verb::post, "/v1/sessions");
    std::string parse_error;
    info_ = probes::session_info_from_json(res.body(), parse_error);
    ASSERT_TRUE(info_.has_value()) << parse_error;
    socket_.open(udp::v4());
    socket_.bind(udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  }
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    if (io_.joinable()) io_.join();
  }

  np::Request request(np::Type type, std::uint8_t flags = 0, std::uint16_t gap = 0) {
    np::Request q;
    q.type = type;
    q.flags = flags;
    q.token.tag = *probes::tag_from_hex(info_->tag_hex);
    q.token.probe_index = 0xf001;
    q.nonce = 0xdeadbeef;
    q.gap_s = gap;
    return q;
  }
  void send(const np::Request& q, std::uint16_t port, std::string to = "127.0.0.1") {
    socket_.send_to(asio::buffer(np::build_request(q)), udp::endpoint(asio::ip::make_address_v4(to), port));
  }
  struct Got {
    np::Reply reply;
    udp::endpoint from;
  };
  // Every reply until 300 ms pass without one.
  std::vector<Got> receive_all() {
    std::vector<Got> out;
    std::array<std::uint8_t, 512> buf{};
    while (true) {
      pollfd p{socket_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 300) <= 0) break;  // quiet for 300 ms: that was all
      udp::endpoint from;
      boost::system::error_code ec;
      auto n = socket_.receive_from(asio::buffer(buf), from, 0, ec);
      if (ec) break;
      auto reply = np::parse_reply(probes::ByteView(buf).first(n));
      EXPECT_TRUE(reply.has_value()) << "garbage from the NAT test service";
      EXPECT_LE(n, np::kReplySize);
      if (reply) out.push_back({*reply, from});
    }
    return out;
  }
  std::uint16_t p1() const { return server_->ports().nat.at(0); }
  std::uint16_t p2() const { return server_->ports().nat.at(1); }

  std::ostringstream quiet_;
  Logger log_{LogLevel::error, &quiet_};
  std::unique_ptr<Server> server_;
  std::thread io_;
  std::optional<probes::SessionInfo> info_;
  asio::io_context ctx_;
  udp::socket socket_{ctx_};
};

TEST_F(NatServiceTest, CapabilitiesAnnounceTheServiceAndTheAlternateAddress) {
  start("127.0.0.2");
  ASSERT_EQ(server_->ports().nat.size(), 2u);
  EXPECT_NE(p1(), p2());
  EXPECT_EQ(info_->capabilities.nat_ports, (std::vector<std::uint16_t>{p1(), p2()}));
  EXPECT_EQ(info_->capabilities.alternate_address, "127.0.0.2");
}

TEST_F(NatServiceTest, BindAnswersFromWhereTheRequestWentWithTheObservedSource) {
  start(std::nullopt);
  auto q = request(np::Type::bind);
  send(q, p1());
  auto got = receive_all();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(np::answers(got[0].reply, q));
  EXPECT_EQ(got[0].reply.origin, np::Origin::primary);
  EXPECT_EQ(got[0].from, udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), p1()));
  EXPECT_EQ(got[0].reply.observed, (probes::Endpoint{"127.0.0.1", socket_.local_endpoint().port()}));
  // The alternate port answers for itself too (mapping test towards (A1,P2)).
  send(q, p2());
  got = receive_all();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].from.port(), p2());
}

// An answer the rate limit withholds leaves no observation: the session's
// limits count it, so the client does not take it for the NAT's filtering.
TEST_F(NatServiceTest, RateLimitedAnswersAreCountedInTheSessionsLimits) {
  start(std::nullopt, {"127.0.0.1"}, 1);  // one answer a second per source address
  auto q = request(np::Type::bind);
  for (int i = 0; i < 3; ++i) send(q, p1());
  const auto answered = receive_all().size();
  EXPECT_LT(answered, 3u);
  auto res = test::blocking_http_call(server_->ports().control, http::verb::get,
                                      "/v1/sessions/" + info_->session_id + "/observations");
  std::string error;
  auto list = probes::observations_from_json(res.body(), error);
  ASSERT_TRUE(list) << error;
  ASSERT_EQ(list->limits.size(), 1u) << res.body();
  EXPECT_EQ(list->limits[0].limit, "rate_limit");
  EXPECT_EQ(answered + list->limits[0].count, 3u) << res.body();
  EXPECT_EQ(list->limits[0].ports, std::vector<std::uint16_t>{p1()});
}

TEST_F(NatServiceTest, FilteringRequestsAreAnsweredFromTheOtherPortAndTheAlternateAddress) {
  start("127.0.0.2");
  auto q = request(np::Type::bind, np::kFlagOtherPort | np::kFlagOtherAddress);
  send(q, p1());
  auto got = receive_all();
  ASSERT_EQ(got.size(), 3u);
  std::map<np::Origin, udp::endpoint> from;
  for (const auto& g : got) {
    EXPECT_TRUE(np::answers(g.reply, q));
    from[g.reply.origin] = g.from;
  }
  EXPECT_EQ(from[np::Origin::primary], udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), p1()));
  EXPECT_EQ(from[np::Origin::other_port], udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), p2()));
  EXPECT_EQ(from[np::Origin::other_address], udp::endpoint(asio::ip::make_address_v4("127.0.0.2"), p2()));
}

// A direct answer without the unsolicited one would read as filtering at
// the client: the rate limit takes all of a request's replies or none.
TEST_F(NatServiceTest, TheRateLimitNeverSplitsARequestsReplies) {
  start("127.0.0.2", {"127.0.0.1"}, 2.0);  // 2 replies per second, burst 2
  send(request(np::Type::bind, np::kFlagOtherPort | np::kFlagOtherAddress), p1());
  EXPECT_TRUE(receive_all().empty());  // three wanted, two allowed: none sent
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto q = request(np::Type::bind, np::kFlagOtherPort);
  send(q, p1());
  EXPECT_EQ(receive_all().size(), 2u);  // two wanted, two allowed
}

TEST_F(NatServiceTest, OnAWildcardAddressEachAnswerLeavesFromTheAddressItClaims) {
  // One socket per port on 0.0.0.0: the source is pinned per reply (IP_PKTINFO).
  start("127.0.0.2", {"0.0.0.0"});
  auto q = request(np::Type::bind, np::kFlagOtherPort | np::kFlagOtherAddress);
  send(q, p1(), "127.0.0.3");  // also a loopback address of this host, and not the alternate
  auto got = receive_all();
  ASSERT_EQ(got.size(), 3u);
  std::map<np::Origin, udp::endpoint> from;
  for (const auto& g : got) from[g.reply.origin] = g.from;
  EXPECT_EQ(from[np::Origin::primary], udp::endpoint(asio::ip::make_address_v4("127.0.0.3"), p1()));
  EXPECT_EQ(from[np::Origin::other_port], udp::endpoint(asio::ip::make_address_v4("127.0.0.3"), p2()));
  EXPECT_EQ(from[np::Origin::other_address], udp::endpoint(asio::ip::make_address_v4("127.0.0.2"), p2()));
}

TEST_F(NatServiceTest, WithoutAnAlternateAddressOnlyTheOtherPortAnswers) {
  start(std::nullopt);
  send(request(np::Type::bind, np::kFlagOtherPort | np::kFlagOtherAddress), p1());
  auto got = receive_all();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].reply.origin == np::Origin::other_port || got[1].reply.origin == np::Origin::other_port, true);
}

TEST_F(NatServiceTest, UnknownSessionsAndGarbageGetNothing) {
  start("127.0.0.2");
  auto q = request(np::Type::bind, np::kFlagOtherPort | np::kFlagOtherAddress);
  q.token.tag[0] ^= 0xff;  // no such session
  send(q, p1());
  socket_.send_to(asio::buffer(std::string(200, 'x')), udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), p1()));
  EXPECT_TRUE(receive_all().empty());
}

TEST_F(NatServiceTest, LifetimeRequestIsAnsweredAgainAfterTheGap) {
  start(std::nullopt);
  auto q = request(np::Type::lifetime, 0, 1);
  const auto t0 = std::chrono::steady_clock::now();
  send(q, p1());
  auto first = receive_all();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].reply.origin, np::Origin::primary);
  std::vector<Got> late;
  while (late.empty() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3)) late = receive_all();
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].reply.origin, np::Origin::after_gap);
  EXPECT_TRUE(np::answers(late[0].reply, q));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(950));
}

TEST_F(NatServiceTest, SizeRequestsAreEchoedAtTheirOwnSizeNeverLarger) {
  start("127.0.0.2");
  auto receive_sized = [&] {
    std::vector<std::pair<np::Reply, std::size_t>> out;
    std::vector<std::uint8_t> buf(4096);
    while (true) {
      pollfd p{socket_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 300) <= 0) break;
      udp::endpoint from;
      boost::system::error_code ec;
      auto n = socket_.receive_from(asio::buffer(buf), from, 0, ec);
      if (ec) break;
      EXPECT_EQ(from, udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), p1()));
      auto reply = np::parse_reply(probes::ByteView(buf).first(n));
      EXPECT_TRUE(reply.has_value());
      if (reply) out.emplace_back(*reply, n);
    }
    return out;
  };
  // A path MTU probe: one echo, exactly as large, saying what arrived.
  auto df = request(np::Type::size, np::kFlagEchoDontFragment);
  socket_.send_to(asio::buffer(np::build_request(df, 1472)), udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), p1()));
  auto got = receive_sized();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first.origin, np::Origin::echo);
  EXPECT_TRUE(np::answers(got[0].first, df));
  EXPECT_EQ(got[0].second, 1472u);
  EXPECT_EQ(got[0].first.received_size, 1472);
  EXPECT_EQ(got[0].first.largest_fragment, 0);  // loopback: it arrived whole
  // The fragments test: an ack at once and an echo that much shorter; the
  // other-port / other-address answers are never sent for it.
  auto frag = request(np::Type::size, np::kFlagAck);
  socket_.send_to(asio::buffer(np::build_request(frag, 1972)), udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), p1()));
  got = receive_sized();
  ASSERT_EQ(got.size(), 2u);
  std::size_t total = 0;
  for (const auto& [reply, size] : got) {
    EXPECT_TRUE(np::answers(reply, frag));
    total += size;
    if (reply.origin == np::Origin::echo) EXPECT_EQ(size, 1972u - np::kReplySize);
    else EXPECT_EQ(reply.origin, np::Origin::primary);
  }
  EXPECT_LE(total, 1972u);
}

// The session was opened from 127.0.0.1; requests from 127.0.0.9 could be a
// spoofer aiming at 127.0.0.9. Each kind of request that gets several replies
// from the control connection's address (three for a bind with both flags,
// 1.31x the wire bytes) gets one there, and never more packets or wire bytes
// (UDP payload + 28 bytes of IPv4 and UDP header) than it sent. Its session's
// own address still gets every reply (see the tests above).
TEST_F(NatServiceTest, AnUnvalidatedSourceNeverGetsMorePacketsOrWireBytesThanItSent) {
  start("127.0.0.2");
  constexpr std::size_t kHeaders = 28;
  udp::socket spoofed(ctx_, udp::endpoint(asio::ip::make_address_v4("127.0.0.9"), 0));
  struct Case {
    np::Request request;
    std::size_t size;
  };
  const std::vector<Case> cases{
      {request(np::Type::bind, np::kFlagOtherPort | np::kFlagOtherAddress), np::kMinRequestSize},
      {request(np::Type::lifetime, 0, 1), np::kMinRequestSize},
      {request(np::Type::size, np::kFlagAck), 1972}};
  std::size_t packets_in = 0, packets_out = 0, wire_in = 0, wire_out = 0;
  for (const auto& c : cases) {
    spoofed.send_to(asio::buffer(np::build_request(c.request, c.size)),
                    udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), p1()));
    ++packets_in;
    wire_in += c.size + kHeaders;
  }
  // Long enough for the lifetime request's second answer (1 s gap), if it came.
  std::vector<std::uint8_t> buf(4096);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1800);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{spoofed.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    udp::endpoint from;
    auto n = spoofed.receive_from(asio::buffer(buf), from);
    ++packets_out;
    wire_out += n + kHeaders;
  }
  std::cout << "unvalidated source: " << packets_in << " packets / " << wire_in << " wire bytes in, " << packets_out
            << " / " << wire_out << " out\n";
  EXPECT_EQ(packets_out, cases.size());  // each request still learns its mapping
  EXPECT_LE(packets_out, packets_in);
  EXPECT_LE(wire_out, wire_in);
}

TEST_F(NatServiceTest, AnAlternateAddressThatIsNotLocalIsRefused) {
  Config config = test::loopback_config();
  config.nat_ports = {0, 0};
  config.alternate_address = "192.0.2.77";
  Server server(config, &log_);
  auto error = server.start();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("192.0.2.77"), std::string::npos) << *error;
}

}  // namespace
}  // namespace vpncheck::reflector
