// IPsec end to end on loopback: the client's real exchanges (make_exchange +
// run_exchange: source port 500, NAT-T's three messages, raw ESP/AH with
// IP_HDRINCL) against an in-process reflector, then the reflector's
// observations and the verdict. Raw pieces need root (CAP_NET_RAW) and are
// skipped without it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "probes/ipsec.h"
#include "reflector/server.h"
#include "src/run/exchange.h"
#include "src/run/runner.h"
#include "src/verdict/verdict.h"
#include "tests/reflector/test_util.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class IpsecExchange : public ::testing::Test {
 protected:
  void start(bool raw, bool with_ipv6 = false) {
    reflector::Config config = reflector::test::loopback_config();
    if (with_ipv6) config.listen = {"127.0.0.1", "::1"};
    config.raw_protocols = raw ? std::vector<std::string>{"esp", "ah"} : std::vector<std::string>{};
    server_ = std::make_unique<reflector::Server>(config, &log_);
    auto error = server_->start();
    ASSERT_FALSE(error) << *error;
    io_ = std::thread([this] { server_->run(); });
    auto created = reflector::test::blocking_http_call(server_->ports().control, reflector::http::verb::post,
                                                       "/v1/sessions");
    ASSERT_EQ(created.result(), reflector::http::status::created) << created.body();
    std::string err;
    auto info = probes::session_info_from_json(created.body(), err);
    ASSERT_TRUE(info) << err;
    session_id_ = info->session_id;
    settings_.reflector = asio::ip::make_address("127.0.0.1");
    if (with_ipv6) settings_.reflector_v6 = asio::ip::make_address("::1");
    settings_.tag = *probes::tag_from_hex(info->tag_hex);
    settings_.random = reflector::test::counter_fill(9);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (io_.joinable()) io_.join();
  }

  const probes::ProbeVariant& variant(std::string_view piece) const {
    for (const auto& v : probes::ipsec::kModule.variants)
      if (v.piece == piece) return v;
    throw std::runtime_error("no piece");
  }

  // One probe of `piece`, sent to the reflector's (ephemeral) UDP or TCP port or raw.
  ProbeResult probe(std::string_view piece, std::uint16_t index, Family family = Family::ipv4,
                    ProbeKind kind = ProbeKind::genuine) {
    PlannedProbe planned{index, &probes::ipsec::kModule, variant(piece), kind, std::nullopt, family};
    Exchange ex = make_exchange(planned, settings_);
    if (planned.variant.transport == probes::Transport::udp) ex.port = server_->ports().udp.at(0);
    if (planned.variant.transport == probes::Transport::tcp) ex.port = server_->ports().tcp.at(0);
    ex.deadline = Clock::now() + 2s;
    asio::io_context ctx;
    auto future = asio::co_spawn(ctx, run_exchange(std::move(ex)), asio::use_future);
    ctx.run();
    return ProbeResult{planned, future.get(), {}, {}};
  }

  // The reflector's observations, attached to the results by probe index.
  void attach_observations(std::vector<ProbeResult>& results) {
    auto read = reflector::test::blocking_http_call(server_->ports().control, reflector::http::verb::get,
                                                    "/v1/sessions/" + session_id_ + "/observations");
    ASSERT_EQ(read.result(), reflector::http::status::ok);
    std::string err;
    auto list = probes::observations_from_json(read.body(), err);
    ASSERT_TRUE(list) << err;
    for (auto& obs : list->observations)
      for (auto& r : results)
        if (r.probe.index == obs.probe_index) r.arrivals.push_back(obs);
  }

  std::ostringstream log_stream_;
  reflector::Logger log_{reflector::LogLevel::warn, &log_stream_};
  std::unique_ptr<reflector::Server> server_;
  std::thread io_;
  std::string session_id_;
  RunSettings settings_;
};

TEST_F(IpsecExchange, UdpPiecesAnsweredAndObservedOnLoopback) {
  start(false);
  std::vector<ProbeResult> results;
  results.push_back(probe("ikev2", 1));
  results.push_back(probe("ikev1", 2));
  results.push_back(probe("nat-t", 3));
  results.push_back(probe("ike-large", 4));
  for (const auto& r : results)
    EXPECT_EQ(r.client.outcome, Outcome::reply) << r.probe.name() << " " << r.client.detail;

  const auto& ikev2 = results[0].client;
  ASSERT_TRUE(ikev2.local.has_value());
  EXPECT_EQ(ikev2.reply_fields.at("behind_nat"), "no") << "loopback: the responder's NAT-D hash is our own address";
  EXPECT_EQ(ikev2.reply_fields.at("nat_d_destination_expected"), ikev2.reply_fields.at("nat_d_destination_received"));
  EXPECT_EQ(ikev2.reply_fields.at("source_port"), std::to_string(ikev2.local->port));
  if (geteuid() == 0 && ikev2.detail.empty()) {
    EXPECT_EQ(ikev2.local->port, 500) << "root sends IKE from UDP 500 like a real client";
  }
  if (ikev2.local->port != 500) {
    EXPECT_EQ(ikev2.reply_fields.at("source_port_500"), "unavailable");
  }
  EXPECT_EQ(results[2].client.steps_answered, 3U) << "IKE, ESP-in-UDP and keepalive on one socket";
  EXPECT_EQ(results[3].client.sent_length, 2600U);

  attach_observations(results);
  ASSERT_EQ(results[0].arrivals.size(), 1U);
  const auto& seen = results[0].arrivals.front().fields;
  EXPECT_EQ(seen.at("piece"), "ikev2");
  EXPECT_EQ(seen.at("nat_d_source_translated"), "no");
  EXPECT_EQ(seen.at("observed_source_port"), std::to_string(ikev2.local->port));
  EXPECT_EQ(results[1].arrivals.front().fields.at("piece"), "ikev1");
  EXPECT_EQ(results[3].arrivals.front().fields.at("piece"), "ike-large");
  std::map<std::string, int> natt_messages;
  for (const auto& a : results[2].arrivals) {
    EXPECT_EQ(a.fields.at("piece"), "nat-t");
    ++natt_messages[a.fields.at("message")];
  }
  EXPECT_GE(natt_messages["ike_sa_init"], 1);
  EXPECT_GE(natt_messages["esp_in_udp"], 1);
  EXPECT_GE(natt_messages["keepalive"], 1) << "the untagged keepalive is attributed through its flow";
  // Only the first message is compared with what was sent.
  for (const auto& r : results) {
    ASSERT_FALSE(r.arrivals.empty());
    EXPECT_EQ(r.arrivals.front().payload_sha256, r.client.sent_sha256) << r.probe.name();
  }
}

// IKEv2 over TCP (RFC 8229): the client's stream opens with "IKETCP", the
// reflector's TCP listener hands it to that framing, the demux answers the
// IKE_SA_INIT in the same framing; the same-size control probe on the same
// port is told apart by its marker. Both sides digest the same bytes.
TEST_F(IpsecExchange, IkeOverTcpAnsweredAndObservedOnLoopback) {
  start(false);
  std::vector<ProbeResult> results;
  results.push_back(probe("ike-tcp", 5));
  results.push_back(probe("ike-tcp", 6, Family::ipv4, ProbeKind::control));
  for (const auto& r : results)
    EXPECT_EQ(r.client.outcome, Outcome::reply) << r.probe.name() << " " << r.client.detail;
  EXPECT_EQ(results[0].client.sent_length, results[1].client.sent_length) << "the control probe has the same size";

  attach_observations(results);
  ASSERT_EQ(results[0].arrivals.size(), 1U);
  const auto& seen = results[0].arrivals.front();
  EXPECT_EQ(seen.protocol, "ipsec");
  EXPECT_EQ(seen.transport, probes::Transport::tcp);
  EXPECT_EQ(seen.fields.at("piece"), "ike-tcp");
  EXPECT_EQ(seen.fields.at("message"), "ike_sa_init");
  EXPECT_EQ(seen.fields.at("nat_d_source_translated"), "no");
  EXPECT_EQ(seen.payload_sha256, results[0].client.sent_sha256) << "prefix, length and marker digested alike";
  ASSERT_TRUE(seen.reply.sent);
  EXPECT_EQ(seen.reply.kind, "ipsec/ike-tcp/reply");
  ASSERT_EQ(results[1].arrivals.size(), 1U);
  EXPECT_EQ(results[1].arrivals.front().kind, "control");
}

// UDP 500 taken (or no privilege to bind it): IKE still runs, from an
// ephemeral port, and both the probe's detail and its answer fields say so.
TEST_F(IpsecExchange, Ikev2FallsBackToAnEphemeralPortWhen500IsUnavailable) {
  start(false);
  asio::io_context holder_ctx;
  asio::ip::udp::socket holder(holder_ctx);
  holder.open(asio::ip::udp::v4());
  boost::system::error_code ec;
  holder.bind({asio::ip::address_v4::any(), 500}, ec);  // fails without root: then 500 is unavailable anyway
  auto r = probe("ikev2", 21);
  EXPECT_EQ(r.client.outcome, Outcome::reply) << r.client.detail;
  ASSERT_TRUE(r.client.local.has_value());
  EXPECT_NE(r.client.local->port, 500);
  EXPECT_NE(r.client.detail.find("could not send from UDP 500"), std::string::npos) << r.client.detail;
  EXPECT_EQ(r.client.reply_fields.at("source_port_500"), "unavailable");
  EXPECT_EQ(r.client.reply_fields.at("source_port"), std::to_string(r.client.local->port));
  std::vector<ProbeResult> results{r};
  attach_observations(results);
  auto a = assess(probes::ipsec::kModule, results, true);
  EXPECT_NE(a.summary.find("could not be sent from UDP source port 500"), std::string::npos) << a.summary;
}

TEST_F(IpsecExchange, RawEspAndAhBothWaysOnLoopback) {
  if (geteuid() != 0) GTEST_SKIP() << "raw ESP/AH need CAP_NET_RAW (run as root)";
  start(true);
  const auto& raw = server_->ports().raw;
  if (std::find(raw.begin(), raw.end(), "esp") == raw.end()) GTEST_SKIP() << "no raw ESP listener";
  std::vector<ProbeResult> results;
  results.push_back(probe("ikev2", 11));
  results.push_back(probe("nat-t", 12));
  results.push_back(probe("esp", 13));
  results.push_back(probe("ah", 14));
  EXPECT_EQ(results[2].client.outcome, Outcome::reply) << results[2].client.detail;
  EXPECT_EQ(results[3].client.outcome, Outcome::reply) << results[3].client.detail;
  attach_observations(results);
  ASSERT_FALSE(results[2].arrivals.empty());
  ASSERT_FALSE(results[3].arrivals.empty());
  EXPECT_EQ(results[2].arrivals.front().fields.at("piece"), "esp");
  EXPECT_EQ(results[2].arrivals.front().payload_sha256, results[2].client.sent_sha256)
      << "raw digests cover the datagram after its IPv4 header on both sides";
  EXPECT_EQ(results[3].arrivals.front().fields.at("icv_valid"), "yes") << "no NAT on loopback";

  auto a = assess(probes::ipsec::kModule, results, true);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(a.findings.empty());
}


// Raw ESP and AH over IPv6 (::1): the reflector's IPv6 raw listeners rebuild
// the header, AH's ICV over it holds on both sides, the reflector offers them
// as raw_protocols_v6, and both sides digest the same bytes.
TEST_F(IpsecExchange, RawEspAndAhBothWaysOverIpv6OnLoopback) {
  if (geteuid() != 0) GTEST_SKIP() << "raw ESP/AH need CAP_NET_RAW (run as root)";
  start(true, true);
  const auto& raw6 = server_->ports().raw6;
  if (raw6 != std::vector<std::string>{"esp", "ah"}) GTEST_SKIP() << "no raw IPv6 ESP/AH listeners on this host";
  auto created = reflector::test::blocking_http_call(server_->ports().control, reflector::http::verb::post,
                                                     "/v1/sessions");
  std::string err;
  auto info = probes::session_info_from_json(created.body(), err);
  ASSERT_TRUE(info) << err;
  EXPECT_EQ(info->capabilities.raw_protocols_v6, (std::vector<std::string>{"esp", "ah"}));
  EXPECT_EQ(info->capabilities.raw_protocols, (std::vector<std::string>{"esp", "ah"}));

  std::vector<ProbeResult> results;
  results.push_back(probe("esp", 31, Family::ipv6));
  results.push_back(probe("ah", 32, Family::ipv6));
  for (const auto& r : results) {
    EXPECT_EQ(r.client.outcome, Outcome::reply) << r.probe.name() << " " << r.client.detail;
    ASSERT_TRUE(r.client.local.has_value());
    EXPECT_EQ(r.client.local->address, "::1");
  }
  attach_observations(results);
  ASSERT_EQ(results[0].arrivals.size(), 1U);
  ASSERT_EQ(results[1].arrivals.size(), 1U);
  const auto& esp = results[0].arrivals.front();
  EXPECT_EQ(esp.fields.at("piece"), "esp");
  EXPECT_EQ(esp.source.address, "::1");
  EXPECT_EQ(esp.payload_sha256, results[0].client.sent_sha256) << "both sides digest what follows the IPv6 header";
  EXPECT_EQ(esp.ttl, 64) << "hop limit from IPV6_HOPLIMIT";
  EXPECT_TRUE(esp.reply.sent);
  const auto& ah = results[1].arrivals.front();
  EXPECT_EQ(ah.fields.at("icv_valid"), "yes") << "the rebuilt IPv6 header is the one the client signed";
  EXPECT_EQ(ah.payload_sha256, results[1].client.sent_sha256);
}

// The data phase after raw ESP's handshake, on the handshake's raw socket:
// small and full-size ESP packets as the IP payload (the kernel writes the
// header), echoed by the reflector's raw listener at the same size. On
// loopback both ends hear their own raw IP: the client must not take its own
// packets for echoes, nor the reflector its echoes for data.
TEST_F(IpsecExchange, RawEspDataPhaseInBothFamiliesOnLoopback) {
  if (geteuid() != 0) GTEST_SKIP() << "raw ESP needs CAP_NET_RAW (run as root)";
  start(true, true);
  const auto& raw = server_->ports().raw;
  if (std::find(raw.begin(), raw.end(), "esp") == raw.end()) GTEST_SKIP() << "no raw ESP listener";
  auto created = reflector::test::blocking_http_call(server_->ports().control, reflector::http::verb::post,
                                                     "/v1/sessions");
  std::string err;
  auto info = probes::session_info_from_json(created.body(), err);
  ASSERT_TRUE(info) << err;
  const auto& pieces = info->capabilities.pieces;
  EXPECT_NE(std::find(pieces.begin(), pieces.end(), "ipsec/data-ip"), pieces.end());
  settings_.data_phase_ip_modules = {"ipsec"};
  const auto& phase = *probes::ipsec::kModule.data_phase;
  // The session came from 127.0.0.1; ::1 is proved over TCP, as the client
  // does for its other addresses, so the IPv6 echoes may be sent there.
  auto proved = reflector::test::blocking_http_call(server_->ports().control, reflector::http::verb::post,
                                                    "/v1/sessions/" + session_id_ + "/addresses",
                                                    asio::ip::make_address("::1"));
  EXPECT_EQ(proved.result(), reflector::http::status::ok) << proved.body();

  std::vector<ProbeResult> results;
  const auto t0 = Clock::now();
  results.push_back(probe("esp", 41));
  const auto took = Clock::now() - t0;
  const auto& raw6 = server_->ports().raw6;
  const bool v6 = std::find(raw6.begin(), raw6.end(), "esp") != raw6.end();
  if (v6) results.push_back(probe("esp", 42, Family::ipv6));
  attach_observations(results);
  for (auto& r : results) {
    SCOPED_TRACE(r.probe.family == Family::ipv6 ? "IPv6" : "IPv4");
    ASSERT_EQ(r.client.outcome, Outcome::reply) << r.client.detail;
    ASSERT_TRUE(r.client.data.has_value());
    const auto& d = *r.client.data;
    EXPECT_TRUE(d.detail.empty()) << d.detail;
    EXPECT_EQ(d.small_size, phase.small_payload);
    EXPECT_EQ(d.full_size, r.probe.family == Family::ipv6 ? 1460U : 1480U);
    for (std::size_t size : {d.small_size, d.full_size})
      EXPECT_TRUE(std::any_of(d.sent.begin(), d.sent.end(), [&](const auto& s) { return s.size == size && s.echoed; }))
          << size;
    // The reflector's records: the probe once as the handshake, each data packet once as data.
    std::vector<probes::Observation> handshake, data;
    for (auto& o : r.arrivals) (o.kind == probes::kDataObservation ? data : handshake).push_back(o);
    EXPECT_EQ(handshake.size(), 1U);
    std::set<std::string> sequences;
    for (const auto& o : data) {
      EXPECT_EQ(o.transport, probes::Transport::ip);
      EXPECT_TRUE(o.reply.sent);
      EXPECT_TRUE(sequences.insert(o.fields.at("sequence")).second) << "recorded twice: " << o.fields.at("sequence");
      const auto seq = std::stoul(o.fields.at("sequence"));
      ASSERT_LT(seq, d.sent.size());
      EXPECT_EQ(o.payload_length, d.sent[seq].size);
    }
    for (const auto& s : d.sent) {
      if (s.echoed) {
        EXPECT_TRUE(sequences.contains(std::to_string(s.sequence))) << "an echo the reflector never sent";
      }
    }
    r.data_arrivals = std::move(data);
    r.arrivals = std::move(handshake);
  }
  EXPECT_LT(took, 1s) << "a clean data phase ends with its echoes, not at the deadline";
}

}  // namespace
}  // namespace vpncheck::client
