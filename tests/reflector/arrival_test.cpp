#include "reflector/arrival.h"

#include <gtest/gtest.h>

#include "probes/control.h"
#include "probes/crypto.h"
#include "probes/gre.h"
#include "probes/ike.h"
#include "probes/ip.h"
#include "probes/ipsec.h"
#include "probes/ipsec_esp.h"
#include "probes/openvpn.h"
#include "probes/pptp.h"
#include "probes/sstp.h"
#include "probes/registry.h"
#include "probes/wireguard.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

using probes::Bytes;
using probes::ByteView;
using test::counter_fill;

std::array<std::uint8_t, 32> test_key() {
  std::array<std::uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0xA0 + i);
  return key;
}

class ReflectorArrival : public ::testing::Test {
 protected:
  ReflectorArrival()
      : table_(limits(), test::FakeClock{}.fn()), handler_(table_, hints(), counter_fill(42)) {
    auto created = table_.create({"203.0.113.9", 5555}, rnd_);
    session_id_ = created.session->id;
    token_.tag = created.session->tag;
    token_.probe_index = 7;
  }

  static SessionLimits limits() {
    SessionLimits l;
    l.max_observations = 10000;
    return l;
  }
  static probes::ServerHints hints() {
    probes::ServerHints h;
    h.wireguard_public_key = test_key();
    return h;
  }

  ArrivalOutcome arrive(ByteView payload, Framing framing = Framing::datagram, std::uint16_t port = 51820,
                        std::string source = "198.51.100.7") {
    Arrival a;
    a.payload = payload;
    a.framing = framing;
    if (framing == Framing::framed_stream) a.stream_framing = &probes::openvpn::kTcpFraming;
    a.local_port = port;
    a.source = {source, 40001};
    a.ttl = 57;
    a.tos = 0x28;
    a.received_at_unix_ms = 1700000000000;
    return handler_.handle(a);
  }

  std::vector<probes::Observation> observations() { return table_.find(session_id_)->observations.all(); }

  probes::RandomFill rnd_ = counter_fill(9);
  SessionTable table_;
  ArrivalHandler handler_;
  std::string session_id_;
  probes::ProbeToken token_;
};

TEST_F(ReflectorArrival, WireGuardInitiationIsRecordedAndAnswered) {
  Bytes init = probes::wireguard::build_initiation(token_, hints(), rnd_);
  ASSERT_EQ(init.size(), probes::wireguard::kInitiationSize);

  auto out = arrive(init);
  ASSERT_FALSE(out.dropped);
  EXPECT_EQ(out.protocol, "wireguard");
  ASSERT_EQ(out.reply.size(), probes::wireguard::kResponseSize);
  EXPECT_EQ(out.reply[0], probes::wireguard::kTypeResponse);
  // receiver index of the response = sender index of the initiation
  EXPECT_TRUE(std::equal(out.reply.begin() + 8, out.reply.begin() + 12, init.begin() + 4));
  EXPECT_TRUE(probes::wireguard::is_response_to(out.reply, init));

  ASSERT_EQ(observations().size(), 1u);
  const auto o = observations()[0];
  EXPECT_EQ(o.sequence, 1u);
  EXPECT_EQ(o.probe_index, 7);
  EXPECT_EQ(o.protocol, "wireguard");
  EXPECT_EQ(o.kind, "genuine");
  EXPECT_EQ(o.transport, probes::Transport::udp);
  EXPECT_EQ(o.local_port, 51820);
  EXPECT_EQ(o.source, (probes::Endpoint{"198.51.100.7", 40001}));
  EXPECT_EQ(o.ttl, 57);
  EXPECT_EQ(o.tos, 0x28);
  EXPECT_EQ(o.payload_length, 148u);
  EXPECT_EQ(o.payload_sha256, probes::to_hex(probes::sha256(init)));
  EXPECT_EQ(o.fields.at("mac1"), "valid");
  EXPECT_EQ(o.fields.at("mac2"), "zero");
  EXPECT_TRUE(o.fields.contains("sender_index"));
  EXPECT_EQ(o.received_at_unix_ms, 1700000000000);
  EXPECT_TRUE(o.reply.sent);
  EXPECT_EQ(o.reply.length, 92u);
  EXPECT_EQ(o.reply.kind, "wireguard/reply");
}

TEST_F(ReflectorArrival, WireGuardWithWrongKeyIsRecordedWithInvalidMac1) {
  probes::ServerHints other;
  other.wireguard_public_key = std::array<std::uint8_t, 32>{};
  Bytes init = probes::wireguard::build_initiation(token_, other, rnd_);
  auto out = arrive(init);
  ASSERT_FALSE(out.dropped);
  EXPECT_EQ(observations().at(0).fields.at("mac1"), "invalid");
}

TEST_F(ReflectorArrival, OpenVpnResetOverUdp) {
  Bytes reset = probes::openvpn::build_client_reset(token_, {}, rnd_);
  auto out = arrive(reset, Framing::datagram, 1194);
  ASSERT_FALSE(out.dropped);
  EXPECT_EQ(out.protocol, "openvpn");
  EXPECT_EQ(out.reply.size(), probes::openvpn::kServerResetSize);
  EXPECT_TRUE(probes::openvpn::is_server_reset_for(out.reply, reset));
  const auto o = observations().at(0);
  EXPECT_EQ(o.fields.at("wrapping"), "tls-auth-sha1");
  EXPECT_EQ(o.fields.at("session_id"), probes::to_hex(token_.encode()));
  EXPECT_EQ(o.transport, probes::Transport::udp);
}

TEST_F(ReflectorArrival, OpenVpnFramedResetOverTcp) {
  Bytes reset = probes::openvpn::build_client_reset(token_, {}, rnd_);
  Bytes frame = probes::openvpn::kTcpFraming.frame(reset);
  auto out = arrive(frame, Framing::framed_stream, 443);
  ASSERT_FALSE(out.dropped);
  // A stream's peer completed a TCP handshake: the genuine answer, in the request's wrapping.
  const auto size = probes::openvpn::server_reset_size(probes::openvpn::Form::tls_auth_sha1);
  ASSERT_EQ(out.reply.size(), 2 + size);
  EXPECT_EQ(out.reply[0], 0);
  EXPECT_EQ(out.reply[1], size);
  EXPECT_TRUE(probes::openvpn::is_server_reset_for(ByteView(out.reply).subspan(2), reset));
  const auto o = observations().at(0);
  EXPECT_EQ(o.transport, probes::Transport::tcp);
  EXPECT_EQ(o.local_port, 443);
  EXPECT_EQ(o.payload_length, frame.size());  // what the client wrote, length included
  EXPECT_EQ(o.payload_sha256, probes::to_hex(probes::sha256(frame)));
  EXPECT_EQ(o.reply.length, out.reply.size());
}

TEST_F(ReflectorArrival, PlainOpenVpnResetIsRecordedButNotAnswered) {
  // The 14-byte reset from a source the session has not validated: its
  // 26-byte answer would amplify.
  Bytes reset = probes::openvpn::build_client_reset(token_, {}, rnd_);
  reset.resize(14);
  auto out = arrive(reset, Framing::datagram, 1194);
  ASSERT_FALSE(out.dropped);
  EXPECT_TRUE(out.reply.empty());
  const auto o = observations().at(0);
  EXPECT_EQ(o.fields.at("wrapping"), "none");
  EXPECT_FALSE(o.reply.sent);
  EXPECT_NE(o.reply.reason.find("amplification"), std::string::npos);
  EXPECT_NE(o.reply.reason.find("not an address this session validated"), std::string::npos);
  // The reflector's own rule, not the network: the client's verdict is not "blocked".
  EXPECT_EQ(o.reply.code, "amplification");
  EXPECT_TRUE(probes::withheld_by_reflector(o.reply.code));
}

// The session's own address (its control connection's) gets the genuine
// answer, in the request's wrapping, even where that is larger than the request.
TEST_F(ReflectorArrival, ValidatedSourceGetsEachFormsGenuineAnswer) {
  for (auto form : probes::openvpn::kForms) {
    SCOPED_TRACE(std::string(probes::openvpn::form_name(form)));
    Bytes reset = probes::openvpn::build_client_reset(form, token_, rnd_);
    auto out = arrive(reset, Framing::datagram, 1194, "203.0.113.9");
    ASSERT_FALSE(out.dropped);
    EXPECT_EQ(out.reply.size(), probes::openvpn::server_reset_size(form));
    EXPECT_TRUE(probes::openvpn::is_server_reset_for(out.reply, reset));
    EXPECT_TRUE(observations().back().reply.sent);
    EXPECT_EQ(observations().back().fields.at("piece"), probes::openvpn::form_name(form));

    Bytes frame = probes::openvpn::kTcpFraming.frame(reset);
    auto framed = arrive(frame, Framing::framed_stream, 443, "203.0.113.9");
    ASSERT_EQ(framed.reply.size(), 2 + probes::openvpn::server_reset_size(form));
    EXPECT_TRUE(probes::openvpn::is_server_reset_for(ByteView(framed.reply).subspan(2), reset));
  }
}

// Any other source gets at most what it brought over UDP: the plain reset for
// the wrapped forms (as before), nothing for the plain form. On a TCP stream
// the peer completed a handshake from its address, so it gets the genuine answer.
TEST_F(ReflectorArrival, OtherSourcesNeverGetMoreThanTheyBrought) {
  for (auto form : probes::openvpn::kForms) {
    SCOPED_TRACE(std::string(probes::openvpn::form_name(form)));
    Bytes reset = probes::openvpn::build_client_reset(form, token_, rnd_);
    for (const char* source : {"198.51.100.7", "203.0.113.10", "::ffff:203.0.113.8", "2001:db8::9"}) {
      auto out = arrive(reset, Framing::datagram, 1194, source);
      ASSERT_FALSE(out.dropped);
      EXPECT_LE(out.reply.size(), reset.size()) << source;
      if (form == probes::openvpn::Form::plain) {
        EXPECT_TRUE(out.reply.empty());
        EXPECT_EQ(observations().back().reply.code, "amplification");
      } else {
        EXPECT_TRUE(probes::openvpn::is_server_reset_for(out.reply, reset)) << source;
      }
      Bytes frame = probes::openvpn::kTcpFraming.frame(reset);
      auto framed = arrive(frame, Framing::framed_stream, 443, source);
      EXPECT_EQ(framed.reply.size(), 2 + probes::openvpn::server_reset_size(form)) << source;
    }
  }
}

// An address proved later over TCP (POST /v1/sessions/{id}/addresses) is
// validated like the control connection's; a bounded few per session.
TEST_F(ReflectorArrival, AddressProvedLaterIsValidatedToo) {
  Bytes reset = probes::openvpn::build_client_reset(probes::openvpn::Form::plain, token_, rnd_);
  EXPECT_TRUE(arrive(reset, Framing::datagram, 1194, "2001:db8::7").reply.empty());
  EXPECT_EQ(table_.validate(session_id_, "2001:db8::7"), SessionTable::ValidateResult::added);
  auto out = arrive(reset, Framing::datagram, 1194, "2001:db8::7");
  EXPECT_EQ(out.reply.size(), probes::openvpn::kServerResetSize);
  EXPECT_TRUE(probes::openvpn::is_server_reset_for(out.reply, reset));
  // Another address of the same /64 is not.
  EXPECT_TRUE(arrive(reset, Framing::datagram, 1194, "2001:db8::8").reply.empty());

  EXPECT_EQ(table_.validate(session_id_, "2001:db8::7"), SessionTable::ValidateResult::added);  // again: no-op
  EXPECT_EQ(table_.validate(session_id_, "192.0.2.1"), SessionTable::ValidateResult::added);
  EXPECT_EQ(table_.validate(session_id_, "192.0.2.2"), SessionTable::ValidateResult::added);
  EXPECT_EQ(table_.validate(session_id_, "192.0.2.3"), SessionTable::ValidateResult::full);
  EXPECT_TRUE(arrive(reset, Framing::datagram, 1194, "192.0.2.3").reply.empty());
  EXPECT_EQ(table_.validate("0000000000000000", "192.0.2.4"), SessionTable::ValidateResult::unknown_session);
}

// Control probes are echoed at their own size whoever sends them.
TEST_F(ReflectorArrival, ControlProbesAreEchoedAtTheirSizeFromAValidatedSourceToo) {
  Bytes control = probes::control::build_request(token_, 14, rnd_);
  auto out = arrive(control, Framing::datagram, 1194, "203.0.113.9");
  EXPECT_EQ(out.reply.size(), control.size());
}

TEST_F(ReflectorArrival, ControlProbesOverUdpAndTcp) {
  Bytes request = probes::control::build_request(token_, 148, rnd_);
  auto out = arrive(request, Framing::datagram, 51820);
  ASSERT_FALSE(out.dropped);
  EXPECT_EQ(out.protocol, "control");
  EXPECT_EQ(out.reply.size(), request.size());
  EXPECT_TRUE(probes::control::is_reply_to(out.reply, request));

  Bytes tcp_request = probes::control::build_request(token_, 44, rnd_);
  auto tcp_out = arrive(tcp_request, Framing::raw_stream, 443);
  ASSERT_FALSE(tcp_out.dropped);
  EXPECT_TRUE(probes::control::is_reply_to(tcp_out.reply, tcp_request));

  ASSERT_EQ(observations().size(), 2u);
  EXPECT_EQ(observations()[0].kind, "control");
  EXPECT_EQ(observations()[0].protocol, "control");
  EXPECT_EQ(observations()[0].probe_index, 7);
  EXPECT_EQ(observations()[0].reply.kind, "control/echo");
  EXPECT_EQ(observations()[1].transport, probes::Transport::tcp);
  EXPECT_EQ(observations()[1].payload_length, 44u);
}

TEST_F(ReflectorArrival, UnknownSessionIsDroppedAndCounted) {
  probes::ProbeToken stranger{{1, 2, 3, 4, 5, 6}, 0};
  auto out = arrive(probes::wireguard::build_initiation(stranger, hints(), rnd_));
  EXPECT_EQ(out.dropped, DropReason::unknown_session);
  EXPECT_TRUE(out.reply.empty());
  out = arrive(probes::control::build_request(stranger, 64, rnd_));
  EXPECT_EQ(out.dropped, DropReason::unknown_session);
  EXPECT_EQ(handler_.drops().get(DropReason::unknown_session), 2u);
  EXPECT_TRUE(observations().empty());
}

TEST_F(ReflectorArrival, GarbageAndTruncatedAreDropped) {
  Bytes init = probes::wireguard::build_initiation(token_, hints(), rnd_);
  Bytes truncated(init.begin(), init.end() - 1);
  EXPECT_EQ(arrive(truncated).dropped, DropReason::unrecognised);
  EXPECT_EQ(arrive(Bytes{}).dropped, DropReason::empty);
  EXPECT_EQ(arrive(Bytes{0xFF, 1, 2}).dropped, DropReason::unrecognised);  // control marker, no token
  EXPECT_EQ(arrive(Bytes(kMaxDatagram + 1, 0xFF)).dropped, DropReason::oversized);
  Bytes noise(100);
  rnd_(noise);
  noise[0] = 0x42;
  EXPECT_EQ(arrive(noise).dropped, DropReason::unrecognised);

  // TCP framing: zero, too long, or not what arrived.
  EXPECT_EQ(arrive(Bytes{0, 0}, Framing::framed_stream).dropped, DropReason::bad_frame);
  EXPECT_EQ(arrive(Bytes{0x07}, Framing::framed_stream).dropped, DropReason::bad_frame);
  Bytes too_long(2 + 1501);
  too_long[0] = 0x05;
  too_long[1] = 0xDD;
  EXPECT_EQ(arrive(too_long, Framing::framed_stream).dropped, DropReason::bad_frame);
  Bytes frame = probes::openvpn::kTcpFraming.frame(probes::openvpn::build_client_reset(token_, {}, rnd_));
  frame.pop_back();
  EXPECT_EQ(arrive(frame, Framing::framed_stream).dropped, DropReason::bad_frame);
  // A stream without the framing that claimed it cannot be delimited.
  Arrival unclaimed;
  unclaimed.payload = probes::openvpn::kTcpFraming.frame(probes::openvpn::build_client_reset(token_, {}, rnd_));
  unclaimed.framing = Framing::framed_stream;
  EXPECT_EQ(handler_.handle(unclaimed).dropped, DropReason::bad_frame);
  // A WireGuard message framed for TCP: WireGuard has no stream form.
  Bytes wg_framed = probes::openvpn::kTcpFraming.frame(init);
  EXPECT_EQ(arrive(wg_framed, Framing::framed_stream).dropped, DropReason::unrecognised);
  // A genuine probe on the raw control path is not a control probe.
  EXPECT_EQ(arrive(init, Framing::raw_stream).dropped, DropReason::unrecognised);

  EXPECT_TRUE(observations().empty());
  EXPECT_GE(handler_.drops().total(), 10u);
}

TEST_F(ReflectorArrival, ObservationLimitDropsAndCounts) {
  SessionLimits l;
  l.max_observations = 1;
  SessionTable table(l, test::FakeClock{}.fn());
  ArrivalHandler handler(table, hints(), counter_fill());
  auto created = table.create({"192.0.2.1", 1}, rnd_);
  probes::ProbeToken token{created.session->tag, 1};
  Bytes request = probes::control::build_request(token, 64, rnd_);
  Arrival a;
  a.payload = request;
  EXPECT_FALSE(handler.handle(a).dropped);
  auto second = handler.handle(a);
  EXPECT_EQ(second.dropped, DropReason::observation_limit);
  EXPECT_TRUE(second.reply.empty());
  EXPECT_EQ(table.observations(*table.find(created.session->id)).dropped, 1u);
}

TEST_F(ReflectorArrival, ReplyFailedRewritesTheRecord) {
  auto out = arrive(probes::control::build_request(token_, 64, rnd_));
  handler_.reply_failed(out, probes::reply_code::kSendFailed, "send failed: Network is unreachable");
  EXPECT_FALSE(observations().at(0).reply.sent);
  EXPECT_EQ(observations().at(0).reply.reason, "send failed: Network is unreachable");
  EXPECT_EQ(observations().at(0).reply.code, "send_failed");
}

// The no-amplification contract over every registered probe, every framing it
// supports, truncations and mutations of it, and random garbage carrying a
// live session's tag.
TEST_F(ReflectorArrival, ReplyIsNeverLargerThanRequest) {
  std::vector<std::pair<Bytes, Framing>> inputs;
  for (const auto* module : probes::all_protocols()) {
    Bytes request = probes::build_request(*module, token_, hints(), rnd_);
    for (std::size_t n = 0; n <= request.size(); ++n) {
      Bytes cut(request.begin(), request.begin() + static_cast<std::ptrdiff_t>(n));
      inputs.emplace_back(cut, Framing::datagram);
      if (std::any_of(module->variants.begin(), module->variants.end(),
                      [](const auto& v) { return v.framing == &probes::openvpn::kTcpFraming; }))
        inputs.emplace_back(probes::openvpn::kTcpFraming.frame(cut), Framing::framed_stream);
    }
    for (int i = 0; i < 64; ++i) {
      Bytes mutated = request;
      std::array<std::uint8_t, 2> pick{};
      rnd_(pick);
      mutated[16 + pick[0] % (mutated.size() - 16)] = pick[1];  // type and token stay intact
      inputs.emplace_back(mutated, Framing::datagram);
    }
  }
  for (std::size_t size = probes::control::kMinSize; size < 300; size += 7) {
    inputs.emplace_back(probes::control::build_request(token_, size, rnd_), Framing::datagram);
    inputs.emplace_back(probes::control::build_request(token_, size, rnd_), Framing::raw_stream);
  }
  for (int i = 0; i < 500; ++i) {
    std::array<std::uint8_t, 2> len{};
    rnd_(len);
    Bytes garbage(len[0] % 200);
    rnd_(garbage);
    if (garbage.size() > 9 && len[1] % 2 == 0) {  // a live tag behind a plausible first byte
      auto tok = token_.encode();
      std::copy(tok.begin(), tok.end(), garbage.begin() + 1);
    }
    inputs.emplace_back(garbage, static_cast<Framing>(len[1] % 3));
  }

  std::size_t answered = 0;
  for (const auto& [bytes, framing] : inputs) {
    auto out = arrive(bytes, framing);
    // Datagrams only: a stream's peer completed a TCP handshake from its address.
    if (framing == Framing::datagram || framing == Framing::ip_datagram) {
      EXPECT_LE(out.reply.size(), bytes.size()) << "framing " << static_cast<int>(framing);
    }
    if (!out.reply.empty()) ++answered;
  }
  EXPECT_GT(answered, 100u);  // the check above is not vacuous
}

// A stream's answer goes to the peer that completed the TCP handshake, so it
// is not held to the datagram rule: SSTP's Call Connect Ack (48 B) answers a
// 14-byte Call Connect Request, the stream's second message, attributed
// through the flow its HTTP request opened.
TEST_F(ReflectorArrival, StreamAnswersMayOutgrowTheirRequest) {
  auto on_stream = [&](ByteView payload, bool later, std::uint16_t source_port) {
    Arrival a;
    a.payload = payload;
    a.framing = Framing::framed_stream;
    a.stream_framing = &probes::sstp::kTcpFraming;
    a.later_in_stream = later;
    a.local_port = 443;
    a.source = {"198.51.100.7", source_port};
    a.received_at_unix_ms = 1700000000000;
    return handler_.handle(a);
  };
  const Bytes request = probes::build_request(probes::sstp::kModule, token_, hints(), rnd_);
  const Bytes call_connect = probes::sstp::build_call_connect_request();
  auto first = on_stream(request, false, 40001);
  ASSERT_FALSE(first.dropped);
  EXPECT_EQ(first.reply, probes::sstp::build_http_response());
  auto second = on_stream(call_connect, true, 40001);
  ASSERT_FALSE(second.dropped);
  EXPECT_EQ(second.reply.size(), probes::sstp::kCallConnectAckSize);
  EXPECT_GT(second.reply.size(), call_connect.size());
  ASSERT_EQ(observations().size(), 2U);
  EXPECT_TRUE(observations().at(1).reply.sent) << observations().at(1).reply.reason;
  EXPECT_EQ(observations().at(1).probe_index, token_.probe_index);
  // Another connection (another source port) opened no flow: nobody's.
  EXPECT_EQ(on_stream(call_connect, true, 40002).dropped, DropReason::unrecognised);
}

// Over the per-source limit: still recorded (the client learns the probe got
// out), not answered, counted; other sources are unaffected.
TEST_F(ReflectorArrival, OverTheRateLimitIsRecordedButNotAnswered) {
  test::FakeClock clock;
  RateLimiter limiter({1, 2}, clock.fn());
  Metrics metrics;
  ArrivalHandler handler(table_, hints(), counter_fill(), &metrics, &limiter);
  auto from = [&](std::string address) {
    Arrival a;
    a.source = {std::move(address), 4000};
    a.local_port = 4500;
    return a;
  };
  Bytes request = probes::control::build_request(token_, 64, rnd_);
  Arrival a = from("198.51.100.7");
  a.payload = request;
  EXPECT_FALSE(handler.handle(a).reply.empty());
  EXPECT_FALSE(handler.handle(a).reply.empty());
  auto limited = handler.handle(a);
  EXPECT_FALSE(limited.dropped);  // recorded
  EXPECT_TRUE(limited.reply.empty());
  ASSERT_EQ(observations().size(), 3u);
  EXPECT_FALSE(observations()[2].reply.sent);
  EXPECT_EQ(observations()[2].reply.reason, "rate limited");
  // A stable code for the client (a missing answer is then not the network's doing),
  // and a count in the session's limits.
  EXPECT_EQ(observations()[2].reply.code, "rate_limited");
  EXPECT_TRUE(probes::withheld_by_reflector(observations()[2].reply.code));
  auto limits = table_.observations(*table_.find(session_id_)).limits;
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0].limit, "rate_limit");
  EXPECT_EQ(limits[0].count, 1u);
  EXPECT_EQ(limits[0].ports, std::vector<std::uint16_t>{4500});
  EXPECT_NE(limits[0].detail.find("--rate-limit"), std::string::npos) << limits[0].detail;
  EXPECT_EQ(metrics.drops.get(DropReason::rate_limited), 1u);
  EXPECT_EQ((metrics.probes_recorded[{"control", "control"}]), 3u);

  Arrival other = from("198.51.100.8");
  other.payload = request;
  EXPECT_FALSE(handler.handle(other).reply.empty());
  clock.advance(std::chrono::seconds(1));
  EXPECT_FALSE(handler.handle(a).reply.empty());
  EXPECT_EQ(metrics.drops.get(DropReason::rate_limited), 1u);

  // Garbage takes no token: only answers are limited.
  Arrival junk = from("198.51.100.9");
  Bytes noise(64, 0x42);
  junk.payload = noise;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(handler.handle(junk).dropped, DropReason::unrecognised);
  EXPECT_EQ(limiter.tracked(), 2u);
}

TEST_F(ReflectorArrival, CountsRecordedProbesAndSentReplies) {
  Metrics metrics;
  ArrivalHandler handler(table_, hints(), counter_fill(), &metrics);
  Arrival a;
  Bytes init = probes::wireguard::build_initiation(token_, hints(), rnd_);
  a.payload = init;
  auto out = handler.handle(a);
  handler.reply_sent(out);
  Bytes request = probes::control::build_request(token_, 64, rnd_);
  a.payload = request;
  out = handler.handle(a);
  handler.reply_failed(out, probes::reply_code::kSendFailed, "send failed");
  EXPECT_EQ((metrics.probes_recorded[{"wireguard", "genuine"}]), 1u);
  EXPECT_EQ((metrics.probes_recorded[{"control", "control"}]), 1u);
  EXPECT_EQ(metrics.replies_sent, 1u);
  EXPECT_EQ(metrics.replies_failed, 1u);
  EXPECT_EQ(&handler.drops(), &metrics.drops);
}

}  // namespace
}  // namespace vpncheck::reflector

namespace vpncheck::reflector {
namespace {

// A raw ESP datagram (IPv4 header included, as a raw socket delivers it): the
// piece is recorded next to the parser's own fields, the digest covers what
// follows the IPv4 header (a NAT rewrites the header by design), and the
// answer is an ESP datagram of the same size to the observed source.
TEST_F(ReflectorArrival, RawEspDatagramRecordsPieceAndDigestsThePayload) {
  probes::ip::Ipv4Address client{198, 51, 100, 7};
  probes::ip::Ipv4Address reflector{203, 0, 113, 5};
  Bytes esp = probes::esp::build_esp(token_, rnd_);
  Bytes datagram = probes::ip::ipv4_datagram(client, reflector, probes::ip::kEsp, esp, 0x1234, 64);
  Arrival a;
  a.payload = datagram;
  a.framing = Framing::ip_datagram;
  a.local_port = 50;
  a.source = {"198.51.100.7", 0};
  a.destination_address = "203.0.113.5";
  a.received_at_unix_ms = 1700000000000;
  auto out = handler_.handle(a);
  ASSERT_FALSE(out.dropped);
  EXPECT_EQ(out.protocol, "ipsec");
  ASSERT_EQ(out.reply.size(), datagram.size());
  auto reply_ip = probes::ip::parse_ipv4(out.reply);
  ASSERT_TRUE(reply_ip.has_value());
  EXPECT_EQ(reply_ip->dst, client);
  EXPECT_EQ(reply_ip->src, reflector);
  ASSERT_EQ(observations().size(), 1u);
  const auto o = observations()[0];
  EXPECT_EQ(o.transport, probes::Transport::ip);
  EXPECT_EQ(o.fields.at("piece"), "esp");
  EXPECT_EQ(o.fields.at("message"), "esp");
  EXPECT_EQ(o.payload_length, esp.size());
  EXPECT_EQ(o.payload_sha256, probes::to_hex(probes::sha256(esp)));
  EXPECT_EQ(o.reply.kind, "ipsec/esp/reply");
}


// Raw ESP and AH over IPv6 as the IPv6 raw listener hands them to the demux:
// the whole datagram rebuilt from the socket's facts (probes/ip.h). Recorded
// with the piece, the digest covers what follows the IPv6 header (the part
// the client digests), AH's ICV holds (no NAT66), and the answers go to the
// observed source from the address the request was sent to.
TEST_F(ReflectorArrival, RawEspAndAhOverIpv6AreRecordedAndAnswered) {
  probes::ip6::Address client{}, reflector{};
  client[0] = reflector[0] = 0x20;
  client[1] = reflector[1] = 0x01;
  client[15] = 0x10;
  reflector[15] = 0x05;
  auto arrive6 = [&](const Bytes& datagram, std::uint16_t protocol) {
    Arrival a;
    a.payload = datagram;
    a.framing = Framing::ip_datagram;
    a.local_port = protocol;
    a.source = {"2001::10", 0};
    a.destination_address = "2001::5";
    a.ttl = 63;
    a.received_at_unix_ms = 1700000000000;
    return handler_.handle(a);
  };
  Bytes esp = probes::esp::build_esp(token_, rnd_);
  Bytes esp6 = probes::ip6::datagram(client, reflector, probes::ip::kEsp, 63, 0, esp);
  auto out = arrive6(esp6, 50);
  ASSERT_FALSE(out.dropped);
  ASSERT_EQ(out.reply.size(), esp6.size());
  auto reply_ip = probes::ip6::parse(out.reply);
  ASSERT_TRUE(reply_ip.has_value());
  EXPECT_EQ(reply_ip->dst, client);
  EXPECT_EQ(reply_ip->src, reflector);
  EXPECT_EQ(reply_ip->next_header, probes::ip::kEsp);

  auto ah_token = token_;
  ah_token.probe_index = 8;
  Bytes ah6 = probes::esp::build_ah_ipv6_datagram(client, reflector, 63, ah_token, rnd_);
  out = arrive6(ah6, 51);
  ASSERT_FALSE(out.dropped);
  EXPECT_LE(out.reply.size(), ah6.size());
  auto reply_ah = probes::esp::parse_ah_ipv6_datagram(out.reply);
  ASSERT_TRUE(reply_ah.has_value());
  EXPECT_TRUE(reply_ah->icv_valid);
  EXPECT_EQ(reply_ah->dst, client);

  ASSERT_EQ(observations().size(), 2u);
  const auto e = observations()[0];
  EXPECT_EQ(e.fields.at("piece"), "esp");
  EXPECT_EQ(e.source.address, "2001::10");
  EXPECT_EQ(e.payload_length, esp.size());
  EXPECT_EQ(e.payload_sha256, probes::to_hex(probes::sha256(esp)));
  EXPECT_EQ(e.ttl, 63);
  const auto h = observations()[1];
  EXPECT_EQ(h.fields.at("piece"), "ah");
  EXPECT_EQ(h.fields.at("icv_valid"), "yes");
  EXPECT_EQ(h.payload_length, ah6.size() - probes::ip6::kHeaderSize);
}

// No amplification on the IPv6 raw path: every truncation and many mutations
// of the IPv6 ESP and AH requests, each as the listener would rebuild it (a
// consistent IPv6 header over what arrived), never get a larger answer.
TEST_F(ReflectorArrival, RawIpv6ReplyIsNeverLargerThanRequest) {
  probes::ip6::Address client{}, reflector{};
  client[0] = reflector[0] = 0x20;
  client[15] = 0x10;
  reflector[15] = 0x05;
  std::size_t answered = 0, tried = 0;
  for (std::uint8_t protocol : {probes::ip::kEsp, probes::ip::kAh}) {
    auto token = token_;
    token.probe_index = static_cast<std::uint16_t>(100 + protocol);
    Bytes request = protocol == probes::ip::kEsp
                        ? probes::ip6::datagram(client, reflector, protocol, 64, 0, probes::esp::build_esp(token, rnd_))
                        : probes::esp::build_ah_ipv6_datagram(client, reflector, 64, token, rnd_);
    Bytes payload(request.begin() + probes::ip6::kHeaderSize, request.end());
    std::vector<Bytes> payloads;
    for (std::size_t n = 0; n <= payload.size(); ++n) payloads.emplace_back(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(n));
    for (int i = 0; i < 200; ++i) {
      Bytes mutated = payload;
      std::array<std::uint8_t, 2> pick{};
      rnd_(pick);
      mutated[pick[0] % mutated.size()] = pick[1];
      payloads.push_back(mutated);
    }
    for (const auto& p : payloads) {
      Bytes datagram = probes::ip6::datagram(client, reflector, protocol, 64, 0, p);
      Arrival a;
      a.payload = datagram;
      a.framing = Framing::ip_datagram;
      a.local_port = protocol;
      a.source = {"2000::10", 0};
      a.destination_address = "2000::5";
      a.received_at_unix_ms = 1700000000000;
      auto out = handler_.handle(a);
      ++tried;
      EXPECT_LE(out.reply.size(), datagram.size());
      if (!out.reply.empty()) {
        ++answered;
        auto ip = probes::ip6::parse(out.reply);
        ASSERT_TRUE(ip.has_value()) << "a raw IPv6 answer is a whole IPv6 datagram";
        EXPECT_LE(ip->payload.size(), p.size()) << "bytes on the wire: payload after the header";
      }
    }
  }
  EXPECT_GT(answered, 2u) << "not vacuous (of " << tried << ")";
}


// A probe's tag is random, so its first byte is any value. An IKE message
// starts with the initiator SPI (= the token, RFC 7296 §3.1) and ESP-in-UDP
// with the SPI (RFC 3948 §2.2); when that byte is 0x38 -- OpenVPN's
// P_CONTROL_HARD_RESET_CLIENT_V2, key 0 -- the OpenVPN parser, tried first,
// takes the message too and reads a token shifted by one byte that belongs to
// no session. The message must still reach the IPsec parser (1 session in 256
// otherwise lost every IKE probe on UDP 500, and 1 NAT-T flow in 256 its ESP).
TEST(ReflectorArrivalDemux, MessageOfAnotherProtocolWhoseFirstByteLooksLikeOpenVpnIsStillAttributed) {
  SessionTable table(SessionLimits{}, test::FakeClock{}.fn());
  const probes::RandomFill opcode_fill = [](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), 0x38); };
  auto created = table.create({"203.0.113.9", 5555}, opcode_fill);
  ASSERT_NE(created.session, nullptr);
  ASSERT_EQ(created.session->tag[0], probes::openvpn::opcode_byte(probes::openvpn::kOpHardResetClientV2));
  const std::string session_id = created.session->id;
  ArrivalHandler handler(table, probes::ServerHints{}, counter_fill(42));
  probes::RandomFill rnd = counter_fill(9);

  auto arrive = [&handler](ByteView payload, std::uint16_t port) {
    Arrival a;
    a.payload = payload;
    a.framing = Framing::datagram;
    a.local_port = port;
    a.source = {"198.51.100.7", port};
    a.destination_address = "203.0.113.5";
    a.received_at_unix_ms = 1700000000000;
    return handler.handle(a);
  };
  const probes::IpPort local{{192, 168, 1, 10}, 500};
  const probes::IpPort remote{{203, 0, 113, 5}, 500};

  probes::ProbeToken token{created.session->tag, 1};
  Bytes sa_init = probes::ike::build_sa_init_request(token, local, remote, rnd);
  ASSERT_EQ(sa_init[0], 0x38);
  auto out = arrive(sa_init, 500);
  EXPECT_FALSE(out.dropped) << to_string(*out.dropped);
  EXPECT_EQ(out.protocol, "ipsec");
  EXPECT_FALSE(out.reply.empty());

  token.probe_index = 2;
  Bytes main_mode = probes::ike::build_main_mode_1(token);
  out = arrive(main_mode, 500);
  EXPECT_FALSE(out.dropped) << to_string(*out.dropped);
  EXPECT_EQ(out.protocol, "ipsec");

  // NAT-T: a probe index whose ESP SPI starts with 0x38, after its IKE_SA_INIT.
  token.probe_index = 3;
  while (probes::esp::request_spi(token, false) >> 24 != 0x38) ++token.probe_index;
  out = arrive(probes::ike::add_non_esp_marker(probes::ike::build_sa_init_request(token, local, remote, rnd)), 4500);
  EXPECT_FALSE(out.dropped);
  Bytes esp = probes::esp::build_esp(token, rnd);
  ASSERT_EQ(esp[0], 0x38);
  out = arrive(esp, 4500);
  EXPECT_FALSE(out.dropped) << to_string(*out.dropped);
  EXPECT_EQ(out.protocol, "ipsec");
  EXPECT_TRUE(probes::esp::is_esp_reply_to(out.reply, esp));

  const auto& seen = table.find(session_id)->observations;
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].fields.at("piece"), "ikev2");
  EXPECT_EQ(seen[1].fields.at("piece"), "ikev1");
  EXPECT_EQ(seen[3].fields.at("piece"), "nat-t");
  EXPECT_EQ(handler.drops().get(DropReason::unknown_session), 0u);
}

// A genuine OpenVPN reset still wins over later parsers, and one whose token
// is nobody's is still dropped as an unknown session.
TEST(ReflectorArrivalDemux, UnknownTokensAreStillDroppedAsUnknownSession) {
  SessionTable table(SessionLimits{}, test::FakeClock{}.fn());
  ArrivalHandler handler(table, probes::ServerHints{}, counter_fill(42));
  probes::RandomFill rnd = counter_fill(9);
  Arrival a;
  Bytes reset = probes::openvpn::build_client_reset(probes::ProbeToken{{0x38, 1, 2, 3, 4, 5}, 0}, {}, rnd);
  a.payload = reset;
  a.framing = Framing::datagram;
  a.local_port = 1194;
  a.source = {"198.51.100.7", 40000};
  auto out = handler.handle(a);
  EXPECT_EQ(out.dropped, DropReason::unknown_session);
}

}  // namespace
}  // namespace vpncheck::reflector

namespace vpncheck::reflector {
namespace {

// Data-phase packets (ProtocolModule::data_phase): recorded as kind "data"
// under the probe they follow, echoed at their own size to the session's
// validated address, and to nobody else.
TEST_F(ReflectorArrival, DataPacketsAreRecordedAndEchoedToTheValidatedAddressOnly) {
  std::size_t modules = 0;
  for (const auto* m : probes::all_protocols()) {
    // Over UDP: the modules with a UDP place for their data (PPTP's is GRE alone).
    if (m->data_phase == nullptr || m->data_phase->full_payload_v4 == 0) continue;
    ++modules;
    SCOPED_TRACE(std::string(m->id));
    const auto& phase = *m->data_phase;
    const std::uint16_t port = [&] {
      for (const auto& v : m->variants)
        if (v.transport == probes::Transport::udp && v.piece == phase.piece) return v.port;
      return std::uint16_t{0};
    }();
    for (std::size_t size : {phase.small_payload, phase.full_payload_v4}) {
      const Bytes packet = phase.build(token_, 3, size, 0, rnd_);
      auto out = arrive(packet, Framing::datagram, port, "203.0.113.9");
      ASSERT_FALSE(out.dropped);
      ASSERT_EQ(out.reply.size(), packet.size());
      auto echo = phase.parse(out.reply);
      ASSERT_TRUE(echo);
      EXPECT_EQ(echo->token, token_);
      EXPECT_EQ(echo->sequence, 3U);
      auto o = observations().back();
      EXPECT_EQ(o.kind, probes::kDataObservation);
      EXPECT_EQ(o.protocol, m->id);
      EXPECT_EQ(o.probe_index, 7);
      EXPECT_EQ(o.payload_length, size);
      EXPECT_EQ(o.fields.at("sequence"), "3");
      EXPECT_TRUE(o.reply.sent);
      EXPECT_EQ(o.reply.kind, std::string(m->id) + "/data/echo");

      // The same packet from anyone else: recorded, never echoed (not even at its own size).
      for (const char* other : {"198.51.100.7", "2001:db8::9"}) {
        auto spoofed = arrive(packet, Framing::datagram, port, other);
        ASSERT_FALSE(spoofed.dropped);
        EXPECT_TRUE(spoofed.reply.empty()) << other;
        EXPECT_EQ(observations().back().kind, probes::kDataObservation);
        EXPECT_FALSE(observations().back().reply.sent);
        EXPECT_EQ(observations().back().reply.code, "amplification");
      }
    }
  }
  EXPECT_GE(modules, 3U);
}

// A module that forgets a session's state to make room (PPTP's call table,
// at its quota of calls per session) has the session told, under the
// module's limit and in its words.
TEST_F(ReflectorArrival, StateAModuleForgetsIsReportedAsTheModulesLimit) {
  const auto* pptp = probes::find_protocol("pptp");
  ASSERT_NE(pptp, nullptr);
  ASSERT_FALSE(pptp->state_limit.empty());
  for (std::uint16_t call = 1; call <= 65; ++call) {
    const Bytes ocrq = probes::pptp::build_ocrq(token_, call, call);
    auto out = arrive(ocrq, Framing::self_delimited, 1723, "203.0.113.9");
    ASSERT_FALSE(out.dropped) << call;
    ASSERT_FALSE(out.reply.empty()) << call;
  }
  const auto limits = table_.observations(*table_.find_by_tag(token_.tag)).limits;
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0].limit, pptp->state_limit);
  EXPECT_EQ(limits[0].count, 1u) << "the 65th call made the session forget its first";
  EXPECT_EQ(limits[0].ports, std::vector<std::uint16_t>{1723});
  EXPECT_EQ(limits[0].detail, pptp->state_limit_detail);
}

// A data phase that follows no UDP handshake (PPTP's GRE) is not looked for
// in UDP datagrams: a GRE packet there, live tag and all, is nobody's data.
TEST_F(ReflectorArrival, DataOfAPhaseWithoutAUdpPlaceIsNotTakenFromUdp) {
  std::size_t checked = 0;
  for (const auto* m : probes::all_protocols()) {
    if (m->data_phase == nullptr || m->data_phase->full_payload_v4 != 0) continue;
    ++checked;
    SCOPED_TRACE(std::string(m->id));
    const Bytes packet = m->data_phase->build(token_, 3, m->data_phase->small_payload, 0, rnd_);
    ASSERT_TRUE(m->data_phase->parse(packet));  // what the raw IP listener would take as its data
    auto out = arrive(packet, Framing::datagram, 1723, "203.0.113.9");
    EXPECT_EQ(out.dropped, DropReason::unrecognised);
    EXPECT_TRUE(out.reply.empty());
  }
  EXPECT_GE(checked, 1U);
  EXPECT_TRUE(observations().empty());
}

TEST_F(ReflectorArrival, DataPacketsOfUnknownSessionsAreDropped) {
  probes::ProbeToken stranger{{9, 8, 7, 6, 5, 4}, 1};
  for (const auto* m : probes::all_protocols()) {
    if (m->data_phase == nullptr) continue;
    auto out = arrive(m->data_phase->build(stranger, 0, m->data_phase->small_payload, 0, rnd_), Framing::datagram,
                      4500, "203.0.113.9");
    EXPECT_TRUE(out.dropped) << m->id;
    EXPECT_TRUE(out.reply.empty());
  }
  EXPECT_TRUE(observations().empty());
}

// Raw ESP data (DataPhase::ip_piece) as a raw listener hands it over: the
// whole datagram. Recorded as kind "data" over raw IP with the IP payload's
// size and digest, echoed only to the validated address, at the same size,
// as an ESP datagram from the address it was sent to, with DF (the real
// server's kernel ESP copies DF from inner packets that carry it).
class ReflectorRawData : public ReflectorArrival {
 protected:
  ArrivalOutcome arrive_raw(const Bytes& datagram, const std::string& source, const std::string& destination,
                            std::uint16_t protocol = probes::ip::kEsp) {
    Arrival a;
    a.payload = datagram;
    a.framing = Framing::ip_datagram;
    a.local_port = protocol;
    a.source = {source, 0};
    a.destination_address = destination;
    a.ttl = 57;
    a.received_at_unix_ms = 1700000000000;
    return handler_.handle(a);
  }
  Bytes v4(const std::string& from, const std::string& to, const Bytes& payload,
           std::uint8_t protocol = probes::ip::kEsp) {
    return probes::ip::datagram(address_bytes(from), address_bytes(to), protocol, payload);
  }
  const probes::DataPhase& phase() { return *probes::find_protocol("ipsec")->data_phase; }
};

TEST_F(ReflectorRawData, EspDataIsRecordedAndEchoedInAnIpHeaderToTheValidatedAddressOnly) {
  for (std::size_t size : {phase().small_payload, phase().full_ip_payload_v4}) {
    SCOPED_TRACE(size);
    const Bytes esp = phase().build(token_, 3, size, 0, rnd_);
    const Bytes datagram = v4("203.0.113.9", "192.0.2.5", esp);
    const std::size_t before = observations().size();
    auto out = arrive_raw(datagram, "203.0.113.9", "192.0.2.5");
    ASSERT_FALSE(out.dropped);
    EXPECT_EQ(out.protocol, "ipsec");
    ASSERT_EQ(out.reply.size(), datagram.size());
    auto ip = probes::ip::parse_ipv4(out.reply);
    ASSERT_TRUE(ip.has_value());
    EXPECT_EQ(probes::Bytes(ip->src.begin(), ip->src.end()), address_bytes("192.0.2.5"));
    EXPECT_EQ(probes::Bytes(ip->dst.begin(), ip->dst.end()), address_bytes("203.0.113.9"));
    EXPECT_EQ(ip->protocol, probes::ip::kEsp);
    EXPECT_EQ(ip->flags_fragment, 0x4000) << "DF, as the protocol's software sends it";
    EXPECT_TRUE(ip->checksum_valid);
    auto echo = phase().parse(ip->payload);
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->token, token_);
    EXPECT_EQ(echo->sequence, 3U);
    EXPECT_NE(Bytes(ip->payload.begin(), ip->payload.end()), esp) << "an echo of its own, not the packet sent back";
    ASSERT_EQ(observations().size(), before + 1);
    auto o = observations().back();
    EXPECT_EQ(o.kind, probes::kDataObservation);
    EXPECT_EQ(o.protocol, "ipsec");
    EXPECT_EQ(o.transport, probes::Transport::ip);
    EXPECT_EQ(o.local_port, probes::ip::kEsp);
    EXPECT_EQ(o.probe_index, 7);
    EXPECT_EQ(o.payload_length, size) << "the IP payload, as the client counts it";
    EXPECT_EQ(o.payload_sha256, probes::to_hex(probes::sha256(esp)));
    EXPECT_EQ(o.fields.at("sequence"), "3");
    EXPECT_TRUE(o.reply.sent);
    EXPECT_EQ(o.reply.kind, "ipsec/data/echo");

    // The same packet from an address the session never validated: recorded, never echoed.
    auto spoofed = arrive_raw(v4("198.51.100.7", "192.0.2.5", esp), "198.51.100.7", "192.0.2.5");
    ASSERT_FALSE(spoofed.dropped);
    EXPECT_TRUE(spoofed.reply.empty());
    EXPECT_EQ(observations().back().kind, probes::kDataObservation);
    EXPECT_FALSE(observations().back().reply.sent);
    EXPECT_EQ(observations().back().reply.code, "amplification");
  }
}

// PPTP's data is keyed to Call IDs: the reflector echoes a data packet to the
// client's Call ID of the call the packet's key names (as its OCRQ arrived,
// so behind a PPTP ALG the rewritten one), and echoes nothing where the key
// names no call of this source.
TEST_F(ReflectorRawData, PptpDataIsEchoedToTheClientsCallIdOfItsCallAndNotWithoutOne) {
  const auto& pptp = *probes::find_protocol("pptp")->data_phase;
  const Bytes orphan = pptp.build(token_, 0, pptp.small_payload, 0x1234, rnd_);
  auto none = arrive_raw(v4("203.0.113.9", "192.0.2.5", orphan, probes::ip::kGre), "203.0.113.9", "192.0.2.5",
                         probes::ip::kGre);
  ASSERT_FALSE(none.dropped);
  EXPECT_TRUE(none.reply.empty());
  EXPECT_EQ(observations().back().kind, probes::kDataObservation);
  EXPECT_FALSE(observations().back().reply.sent);
  EXPECT_EQ(observations().back().reply.code, probes::reply_code::kNoFlow);

  // The call: an OCRQ with the client's Call ID 0x0bcd on its control connection.
  Arrival ocrq;
  const Bytes ocrq_bytes = probes::pptp::build_ocrq(token_, 0x0bcd, 1);
  ocrq.payload = ocrq_bytes;
  ocrq.framing = Framing::self_delimited;
  ocrq.local_port = 1723;
  ocrq.source = {"203.0.113.9", 40001};
  ocrq.received_at_unix_ms = 1700000000000;
  auto ocrp = handler_.handle(ocrq);
  ASSERT_FALSE(ocrp.reply.empty());
  const auto reflector_call_id = probes::pptp::parse(ocrp.reply).message.call_id;

  for (std::size_t size : {pptp.small_payload, pptp.full_ip_payload_v4}) {
    SCOPED_TRACE(size);
    const Bytes data = pptp.build(token_, 2, size, reflector_call_id, rnd_);
    const Bytes datagram = v4("203.0.113.9", "192.0.2.5", data, probes::ip::kGre);
    auto out = arrive_raw(datagram, "203.0.113.9", "192.0.2.5", probes::ip::kGre);
    ASSERT_FALSE(out.dropped);
    EXPECT_EQ(out.protocol, "pptp");
    ASSERT_EQ(out.reply.size(), datagram.size());
    auto ip = probes::ip::parse_ipv4(out.reply);
    ASSERT_TRUE(ip.has_value());
    EXPECT_EQ(ip->protocol, probes::ip::kGre);
    EXPECT_EQ(ip->flags_fragment, 0x4000) << "DF, as Linux's PPTP sends it";
    auto echo = pptp.parse(ip->payload);
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->flow_key, 0x0bcdU) << "keyed to the client's Call ID";
    EXPECT_EQ(echo->sequence, 2U);
    EXPECT_EQ(observations().back().probe_index, 7);
    EXPECT_TRUE(observations().back().reply.sent);
    EXPECT_EQ(observations().back().reply.kind, "pptp/data/echo");
  }
  // The same packet from an address the session never validated: never echoed, whatever its key.
  const Bytes keyed = pptp.build(token_, 3, pptp.small_payload, reflector_call_id, rnd_);
  auto spoofed = arrive_raw(v4("198.51.100.7", "192.0.2.5", keyed, probes::ip::kGre), "198.51.100.7", "192.0.2.5",
                            probes::ip::kGre);
  EXPECT_TRUE(spoofed.reply.empty());
  EXPECT_EQ(observations().back().reply.code, probes::reply_code::kAmplification);
  // Validated, the same call's key from another source names no call of that source.
  ASSERT_EQ(table_.validate(session_id_, "198.51.100.7"), SessionTable::ValidateResult::added);
  const Bytes data = pptp.build(token_, 3, pptp.small_payload, reflector_call_id, rnd_);
  auto other = arrive_raw(v4("198.51.100.7", "192.0.2.5", data, probes::ip::kGre), "198.51.100.7", "192.0.2.5",
                          probes::ip::kGre);
  EXPECT_TRUE(other.reply.empty());
  EXPECT_EQ(observations().back().reply.code, probes::reply_code::kNoFlow);
}

TEST_F(ReflectorRawData, EspDataOverIpv6IsEchoedAsAnIpv6DatagramOnceTheAddressIsValidated) {
  const Bytes esp = phase().build(token_, 1, phase().full_ip_payload_v6, 0, rnd_);
  const Bytes datagram = probes::ip::datagram(address_bytes("2001:db8::7"), address_bytes("2001:db8::5"),
                                              probes::ip::kEsp, esp);
  EXPECT_TRUE(arrive_raw(datagram, "2001:db8::7", "2001:db8::5").reply.empty()) << "not validated yet";
  ASSERT_EQ(table_.validate(session_id_, "2001:db8::7"), SessionTable::ValidateResult::added);
  auto out = arrive_raw(datagram, "2001:db8::7", "2001:db8::5");
  ASSERT_EQ(out.reply.size(), datagram.size());
  auto ip = probes::ip6::parse(out.reply);
  ASSERT_TRUE(ip.has_value());
  EXPECT_EQ(probes::Bytes(ip->src.begin(), ip->src.end()), address_bytes("2001:db8::5"));
  EXPECT_EQ(probes::Bytes(ip->dst.begin(), ip->dst.end()), address_bytes("2001:db8::7"));
  EXPECT_EQ(ip->next_header, probes::ip::kEsp);
  auto echo = phase().parse(ip->payload);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->sequence, 1U);
  EXPECT_EQ(observations().back().payload_length, phase().full_ip_payload_v6);
  EXPECT_EQ(observations().back().transport, probes::Transport::ip);
}

// Where the reflector hears its own raw IP (it and the client on one
// address), its echo comes back to it: not data to echo again.
TEST_F(ReflectorRawData, ItsOwnEchoComingBackIsNotEchoedAgain) {
  const Bytes datagram = v4("203.0.113.9", "203.0.113.9", phase().build(token_, 0, 200, 0, rnd_));
  auto out = arrive_raw(datagram, "203.0.113.9", "203.0.113.9");
  ASSERT_EQ(out.reply.size(), datagram.size());
  const std::size_t recorded = observations().size();
  auto again = arrive_raw(out.reply, "203.0.113.9", "203.0.113.9");
  EXPECT_EQ(again.dropped, DropReason::unrecognised);
  EXPECT_TRUE(again.reply.empty());
  EXPECT_EQ(observations().size(), recorded);
  // The client's next packet of the same size is still data.
  auto next = arrive_raw(v4("203.0.113.9", "203.0.113.9", phase().build(token_, 1, 200, 0, rnd_)), "203.0.113.9",
                         "203.0.113.9");
  EXPECT_FALSE(next.dropped);
  EXPECT_EQ(next.reply.size(), datagram.size());
}

// An echo the raw listener could not send (an IP_HDRINCL datagram above the
// route's MTU is refused with EMSGSIZE): its record says so.
TEST_F(ReflectorRawData, AnEchoThatCouldNotBeSentIsRecordedSo) {
  auto out = arrive_raw(v4("203.0.113.9", "192.0.2.5", phase().build(token_, 4, phase().full_ip_payload_v4, 0, rnd_)),
                        "203.0.113.9", "192.0.2.5");
  ASSERT_FALSE(out.reply.empty());
  handler_.reply_failed(out, probes::reply_code::kSendFailed, "send failed: Message too long");
  const auto o = observations().back();
  EXPECT_EQ(o.kind, probes::kDataObservation);
  EXPECT_FALSE(o.reply.sent);
  EXPECT_EQ(o.reply.code, "send_failed");
  EXPECT_EQ(o.reply.reason, "send failed: Message too long");
}

// Only the raw piece the data phase follows carries data; the raw ESP
// probe's own packet (sequence 1) stays the handshake's; a fragment is no data.
TEST_F(ReflectorRawData, OnlyWholeEspDatagramsAfterTheProbeAreData) {
  const Bytes esp = phase().build(token_, 0, 200, 0, rnd_);
  auto ah = arrive_raw(v4("203.0.113.9", "192.0.2.5", esp, probes::ip::kAh), "203.0.113.9", "192.0.2.5",
                       probes::ip::kAh);
  EXPECT_TRUE(ah.dropped) << "ESP bytes in an AH datagram";
  auto probe = arrive_raw(v4("203.0.113.9", "192.0.2.5", probes::esp::build_esp(token_, rnd_)), "203.0.113.9",
                          "192.0.2.5");
  ASSERT_FALSE(probe.dropped);
  EXPECT_EQ(observations().back().kind, "genuine");
  Bytes fragment = v4("203.0.113.9", "192.0.2.5", esp);
  fragment[6] = 0x20;  // more fragments
  EXPECT_EQ(observations().size(), 1U);
  arrive_raw(fragment, "203.0.113.9", "192.0.2.5");
  for (const auto& o : observations()) EXPECT_NE(o.kind, probes::kDataObservation);
}

// Never more than arrived: an echo in our 20-byte header answers a datagram
// whose header carried options with fewer bytes; truncated ones get nothing.
TEST_F(ReflectorRawData, EchoIsNeverLargerThanTheDatagram) {
  const Bytes esp = phase().build(token_, 2, 300, 0, rnd_);
  Bytes plain = v4("203.0.113.9", "192.0.2.5", esp);
  Bytes with_options(plain.begin(), plain.begin() + 20);
  with_options.insert(with_options.end(), {1, 1, 1, 0});  // NOP NOP NOP EOL
  with_options.insert(with_options.end(), esp.begin(), esp.end());
  with_options[0] = 0x46;
  with_options[2] = static_cast<std::uint8_t>(with_options.size() >> 8);
  with_options[3] = static_cast<std::uint8_t>(with_options.size());
  auto out = arrive_raw(with_options, "203.0.113.9", "192.0.2.5");
  ASSERT_FALSE(out.dropped);
  EXPECT_EQ(out.reply.size(), plain.size());
  EXPECT_LT(out.reply.size(), with_options.size());
  for (std::size_t n = 0; n < plain.size(); n += 37) {
    auto cut = arrive_raw(Bytes(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(n)), "203.0.113.9",
                          "192.0.2.5");
    EXPECT_LE(cut.reply.size(), n);
  }
}

// The NAT-T probe's own ESP-in-UDP packet (sequence 1) stays the probe's message.
TEST_F(ReflectorArrival, TheNatTProbesEspIsNotData) {
  auto out = arrive(probes::esp::build_esp(token_, rnd_), Framing::datagram, 4500, "203.0.113.9");
  ASSERT_FALSE(out.dropped);
  EXPECT_EQ(observations().back().kind, "genuine");
  arrive(probes::esp::build_esp_data(token_, 0, 200, rnd_), Framing::datagram, 4500, "203.0.113.9");
  EXPECT_EQ(observations().back().kind, probes::kDataObservation);
}

}  // namespace
}  // namespace vpncheck::reflector
