// The client's PPTP conversation (probes/pptp_client.h) run by the generic
// conversation runner against the real reflector, in-process on loopback:
// control connection, GRE both ways (as root: raw sockets on lo), the clean
// stop, and what the reflector recorded.
#include "src/run/conversation.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "probes/gre.h"
#include "probes/ip.h"
#include "probes/observation.h"
#include "probes/pptp_module.h"
#include "reflector/log.h"
#include "reflector/server.h"
#include "tests/reflector/test_util.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class PptpLoopback : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = reflector::test::loopback_config();
    if (dual_stack_) config.listen = {"127.0.0.1", "::1"};
    config.rate_limit = 0;
    config.raw_protocols = {"gre"};
    server_ = std::make_unique<reflector::Server>(config, &log_);
    auto error = server_->start();
    ASSERT_FALSE(error.has_value()) << *error;
    io_ = std::thread([this] { server_->run(); });
    auto created = reflector::test::blocking_http_call(server_->ports().control, boost::beast::http::verb::post, "/v1/sessions");
    std::string parse_error;
    auto info = probes::session_info_from_json(created.body(), parse_error);
    ASSERT_TRUE(info) << parse_error;
    session_id_ = info->session_id;
    tag_ = *probes::tag_from_hex(info->tag_hex);
  }
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    if (io_.joinable()) io_.join();
  }

  bool raw_gre() const {
    const auto& raw = server_->ports().raw;
    return ::geteuid() == 0 && std::find(raw.begin(), raw.end(), "gre") != raw.end();
  }

  // Both pieces, the control piece on the reflector's `port`.
  ConversationRun exchange(std::uint16_t port) const {
    ConversationRun ex;
    ex.module = &probes::pptp::kModule;
    auto control = probes::pptp::kModule.variants[0];
    control.port = port;
    ex.pieces = {{control, probes::ProbeToken{tag_, 1}, std::nullopt},
                 {probes::pptp::kModule.variants[1], probes::ProbeToken{tag_, 2}, std::nullopt}};
    ex.remote = asio::ip::make_address("127.0.0.1");
    ex.deadline = Clock::now() + 3s;
    ex.random = reflector::test::counter_fill(7);
    return ex;
  }

  struct Sides {
    ClientSide control;
    std::optional<ClientSide> gre;
  };
  static Sides run(ConversationRun ex) {
    asio::io_context ctx;
    auto result = asio::co_spawn(ctx, run_conversation(std::move(ex)), asio::use_future);
    ctx.run();
    auto sides = result.get();
    Sides out{sides.at(0), std::nullopt};
    if (sides.size() > 1) out.gre = sides[1];
    return out;
  }

  std::vector<probes::Observation> observations() {
    auto read = reflector::test::blocking_http_call(server_->ports().control, boost::beast::http::verb::get,
                                                    "/v1/sessions/" + session_id_ + "/observations");
    std::string error;
    auto list = probes::observations_from_json(read.body(), error);
    EXPECT_TRUE(list) << error;
    return list ? list->observations : std::vector<probes::Observation>{};
  }

  static const probes::Observation* find(const std::vector<probes::Observation>& list, std::string_view type) {
    for (const auto& o : list) {
      auto it = o.fields.find("message_type");
      if (it != o.fields.end() && it->second == type) return &o;
    }
    return nullptr;
  }

  std::ostringstream quiet_;
  reflector::Logger log_{reflector::LogLevel::error, &quiet_};
  std::unique_ptr<reflector::Server> server_;
  std::thread io_;
  std::string session_id_;
  probes::SessionTag tag_{};
  bool dual_stack_ = false;
};

// The reflector also on ::1, with its IPv6 raw GRE listener.
class PptpLoopbackDualStack : public PptpLoopback {
 protected:
  void SetUp() override {
    dual_stack_ = true;
    PptpLoopback::SetUp();
  }
};

// PPTP over IPv6: the control connection on TCP 1723 over ::1, then GRE as
// an IPv6 raw exchange keyed to the negotiated Call IDs, answered by the
// reflector's IPv6 GRE listener through the call table.
TEST_F(PptpLoopbackDualStack, ControlConnectionAndGreWorkBothWaysOverIpv6) {
  const auto& raw6 = server_->ports().raw6;
  if (::geteuid() != 0 || std::find(raw6.begin(), raw6.end(), "gre") == raw6.end())
    GTEST_SKIP() << "needs root (raw IPv6 GRE sockets on loopback)";
  ConversationRun ex = exchange(server_->ports().tcp[0]);
  ex.remote = asio::ip::make_address("::1");
  auto sides = run(std::move(ex));
  EXPECT_EQ(sides.control.outcome, Outcome::reply) << sides.control.detail;
  ASSERT_TRUE(sides.gre.has_value());
  EXPECT_EQ(sides.gre->outcome, Outcome::reply) << sides.gre->detail;
  ASSERT_TRUE(sides.gre->local.has_value());
  EXPECT_EQ(sides.gre->local->address, "::1");
  auto list = observations();
  auto gre = std::find_if(list.begin(), list.end(), [](const auto& o) { return o.probe_index == 2; });
  ASSERT_NE(gre, list.end());
  EXPECT_EQ(gre->source.address, "::1");
  EXPECT_EQ(gre->fields.at("call_known"), "true");
  EXPECT_EQ(gre->fields.at("answered_call_id"), sides.control.reply_fields.at("client_call_id"));
  EXPECT_TRUE(gre->reply.sent);
}

TEST_F(PptpLoopback, ControlConnectionAndGreWorkBothWays) {
  if (!raw_gre()) GTEST_SKIP() << "needs root (raw GRE sockets on loopback)";
  auto sides = run(exchange(server_->ports().tcp[0]));

  const auto& control = sides.control;
  EXPECT_EQ(control.outcome, Outcome::reply) << control.detail;
  EXPECT_EQ(control.steps_answered, 3u) << "SCCRP, OCRP and StopCCRP";
  ASSERT_TRUE(control.reply_fields.contains("client_call_id"));
  ASSERT_TRUE(control.reply_fields.contains("reflector_call_id"));
  EXPECT_EQ(control.reply_fields.at("stop_answered"), "true");
  ASSERT_TRUE(sides.gre.has_value());
  EXPECT_EQ(sides.gre->outcome, Outcome::reply) << sides.gre->detail;
  EXPECT_EQ(sides.gre->reply_fields.at("gre_key"), control.reply_fields.at("reflector_call_id"));
  EXPECT_EQ(sides.gre->reply_fields.at("expected_call_id"), control.reply_fields.at("client_call_id"));
  EXPECT_TRUE(sides.gre->sent_sha256.empty()) << "routers change the IP header: no digest comparison";

  auto list = observations();
  const auto* ocrq = find(list, "OCRQ");
  ASSERT_NE(ocrq, nullptr);
  EXPECT_EQ(ocrq->probe_index, 1);
  EXPECT_EQ(ocrq->fields.at("call_id"), control.reply_fields.at("client_call_id"));
  EXPECT_EQ(ocrq->fields.at("original_call_id"), control.reply_fields.at("client_call_id"));
  EXPECT_EQ(ocrq->fields.at("call_id_rewritten"), "false");
  EXPECT_EQ(ocrq->fields.at("linux_pptp_helper"), "false");
  EXPECT_NE(find(list, "SCCRQ"), nullptr);
  EXPECT_NE(find(list, "StopCCRQ"), nullptr) << "the clean end reached the reflector";
  auto gre = std::find_if(list.begin(), list.end(), [](const auto& o) { return o.probe_index == 2; });
  ASSERT_NE(gre, list.end());
  EXPECT_EQ(gre->transport, probes::Transport::ip);
  EXPECT_EQ(gre->fields.at("piece"), "gre");
  EXPECT_EQ(gre->fields.at("call_id"), control.reply_fields.at("reflector_call_id"));
  EXPECT_EQ(gre->fields.at("answered_call_id"), control.reply_fields.at("client_call_id"));
  EXPECT_TRUE(gre->reply.sent);
}

// The call's data after GRE (the data phase): small and full-size
// MPPE-in-GRE packets keyed to the reflector's Call ID, each echoed keyed to
// ours, and recorded by the reflector under the GRE probe.
void expect_call_data_both_ways(const ClientSide& control, const std::optional<ClientSide>& gre,
                                const std::vector<probes::Observation>& list) {
  ASSERT_TRUE(gre.has_value());
  EXPECT_EQ(gre->outcome, Outcome::reply) << gre->detail;
  ASSERT_TRUE(gre->data.has_value()) << "the data phase ran";
  const auto& data = *gre->data;
  EXPECT_EQ(data.small_size, probes::gre::kDataSmallSize);
  EXPECT_EQ(data.full_size, probes::gre::kDataFullSize);
  for (std::size_t size : {data.small_size, data.full_size})
    EXPECT_TRUE(std::any_of(data.sent.begin(), data.sent.end(),
                            [&](const probes::DataSent& d) { return d.size == size && d.echoed; }))
        << size << "-byte data echoed";
  std::size_t recorded = 0;
  for (const auto& o : list)
    if (o.kind == probes::kDataObservation) {
      ++recorded;
      EXPECT_EQ(o.probe_index, 2);
      EXPECT_EQ(o.protocol, "pptp");
    }
  EXPECT_GE(recorded, 2U);
  EXPECT_EQ(control.reply_fields.at("stop_answered"), "true") << "the call's data came before the clean stop";
}

TEST_F(PptpLoopback, TheCallsDataFollowsGreBothWaysAtBothSizes) {
  if (!raw_gre()) GTEST_SKIP() << "needs root (raw GRE sockets on loopback)";
  auto ex = exchange(server_->ports().tcp[0]);
  ex.data_echoed_ip = true;
  auto sides = run(std::move(ex));
  expect_call_data_both_ways(sides.control, sides.gre, observations());
}

TEST_F(PptpLoopbackDualStack, TheCallsDataFollowsGreBothWaysOverIpv6) {
  const auto& raw6 = server_->ports().raw6;
  if (::geteuid() != 0 || std::find(raw6.begin(), raw6.end(), "gre") == raw6.end())
    GTEST_SKIP() << "needs root (raw IPv6 GRE sockets on loopback)";
  // The session came from 127.0.0.1; ::1 is proved over TCP, as the client
  // does for its other addresses, so the IPv6 echoes may be sent there.
  auto proved = reflector::test::blocking_http_call(server_->ports().control, boost::beast::http::verb::post,
                                                    "/v1/sessions/" + session_id_ + "/addresses",
                                                    asio::ip::make_address("::1"));
  EXPECT_EQ(proved.result(), boost::beast::http::status::ok) << proved.body();
  auto ex = exchange(server_->ports().tcp[0]);
  ex.remote = asio::ip::make_address("::1");
  ex.data_echoed_ip = true;
  auto sides = run(std::move(ex));
  expect_call_data_both_ways(sides.control, sides.gre, observations());
}

// A reflector that does not list "pptp/data-ip" gets no data packets.
TEST_F(PptpLoopback, NoDataWhereTheReflectorDoesNotEchoIt) {
  if (!raw_gre()) GTEST_SKIP() << "needs root (raw GRE sockets on loopback)";
  auto sides = run(exchange(server_->ports().tcp[0]));
  ASSERT_TRUE(sides.gre.has_value());
  EXPECT_EQ(sides.gre->outcome, Outcome::reply) << sides.gre->detail;
  EXPECT_FALSE(sides.gre->data.has_value());
  for (const auto& o : observations()) EXPECT_NE(o.kind, probes::kDataObservation);
}

asio::awaitable<ClientSide> no_raw_privilege(Exchange) {
  ClientSide side;
  side.outcome = Outcome::not_permitted;
  side.detail = std::string(kRawPrivilegeHint);
  co_return side;
}

TEST_F(PptpLoopback, WithoutRawPrivilegeTheControlPartStillRuns) {
  auto ex = exchange(server_->ports().tcp[0]);
  ex.flow = no_raw_privilege;
  auto sides = run(std::move(ex));
  EXPECT_EQ(sides.control.outcome, Outcome::reply) << sides.control.detail;
  EXPECT_EQ(sides.control.reply_fields.at("stop_answered"), "true");
  ASSERT_TRUE(sides.gre.has_value());
  EXPECT_EQ(sides.gre->outcome, Outcome::not_permitted);
  auto list = observations();
  EXPECT_NE(find(list, "OCRQ"), nullptr);
}

TEST_F(PptpLoopback, TheGreProbeIsKeyedToTheReflectorsCallId) {
  auto ex = exchange(server_->ports().tcp[0]);
  auto seen = std::make_shared<std::optional<Exchange>>();
  ex.flow = [seen](Exchange gre) -> asio::awaitable<ClientSide> {
    // The raw exchange learns the local address before sending.
    gre.on_local_address(probes::IpPort{{127, 0, 0, 1}, 0}, gre);
    *seen = gre;
    co_return ClientSide{};
  };
  auto sides = run(std::move(ex));
  ASSERT_TRUE(seen->has_value());
  const auto& gre = **seen;
  EXPECT_EQ(gre.transport, probes::Transport::ip);
  EXPECT_EQ(gre.port, 47);
  auto payload = probes::ip::payload(gre.wire, 47);
  ASSERT_TRUE(payload.has_value());
  auto probe = probes::gre::parse_probe(*payload);
  ASSERT_TRUE(probe.has_value());
  EXPECT_EQ(std::to_string(probe->gre.header.call_id), sides.control.reply_fields.at("reflector_call_id"));
  EXPECT_EQ(probe->token, (probes::ProbeToken{tag_, 2}));
  EXPECT_LE(gre.deadline, Clock::now() + 3s) << "GRE leaves time for the clean stop";
}

TEST_F(PptpLoopback, ARefusedControlConnectionLeavesGreUntested) {
  std::uint16_t closed_port = 0;
  {
    asio::io_context ctx;
    asio::ip::tcp::acceptor a(ctx, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = a.local_endpoint().port();
  }
  auto sides = run(exchange(closed_port));
  EXPECT_EQ(sides.control.outcome, Outcome::refused) << sides.control.detail;
  ASSERT_TRUE(sides.gre.has_value());
  EXPECT_EQ(sides.gre->outcome, Outcome::not_run);
  EXPECT_NE(sides.gre->detail.find("control connection"), std::string::npos) << sides.gre->detail;
}

TEST_F(PptpLoopback, WithoutAGreTokenOnlyTheControlPartRuns) {
  auto ex = exchange(server_->ports().tcp[0]);
  ex.pieces.pop_back();
  bool called = false;
  ex.flow = [&called](Exchange) -> asio::awaitable<ClientSide> {
    called = true;
    co_return ClientSide{};
  };
  auto sides = run(std::move(ex));
  EXPECT_EQ(sides.control.outcome, Outcome::reply) << sides.control.detail;
  EXPECT_FALSE(sides.gre.has_value());
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace vpncheck::client
