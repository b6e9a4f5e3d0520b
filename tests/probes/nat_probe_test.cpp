// The NAT test service's message codec: golden bytes, strict parsing, and the
// no-amplification reply plan.
#include <gtest/gtest.h>

#include <algorithm>

#include "probes/nat_probe.h"

namespace vpncheck::probes::natprobe {
namespace {

probes::ProbeToken token() {
  probes::ProbeToken t;
  t.tag = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6};
  t.probe_index = 0xff01;
  return t;
}

Request bind_request(std::uint8_t flags = 0) {
  Request q;
  q.type = Type::bind;
  q.flags = flags;
  q.token = token();
  q.nonce = 0x01020304;
  return q;
}

Request size_request(std::uint8_t flags) {
  Request q = bind_request();
  q.type = Type::size;
  q.flags = flags;
  return q;
}

TEST(NatProbe, RequestGoldenBytes) {
  auto bytes = build_request(bind_request(kFlagOtherPort | kFlagOtherAddress));
  ASSERT_EQ(bytes.size(), kMinRequestSize);
  const Bytes head{'V', 'C', 'N', 'T', 1, 1, 3, 0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xff, 0x01,
                   0x01, 0x02, 0x03, 0x04, 0x00, 0x00};
  EXPECT_EQ(Bytes(bytes.begin(), bytes.begin() + 22), head);
  EXPECT_TRUE(std::all_of(bytes.begin() + 22, bytes.end(), [](std::uint8_t b) { return b == 0; }));
}

TEST(NatProbe, RequestRoundTrip) {
  for (auto q : {bind_request(), bind_request(kFlagOtherPort), bind_request(kFlagOtherAddress)}) {
    auto parsed = parse_request(build_request(q));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, q);
  }
  Request life = bind_request();
  life.type = Type::lifetime;
  life.gap_s = 45;
  auto bytes = build_request(life, 200);
  EXPECT_EQ(bytes.size(), 200u);
  EXPECT_EQ(bytes[20], 0);
  EXPECT_EQ(bytes[21], 45);
  auto parsed = parse_request(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, life);
}

TEST(NatProbe, RequestSizeIsClamped) {
  EXPECT_EQ(build_request(bind_request(), 10).size(), kMinRequestSize);
  EXPECT_EQ(build_request(bind_request(), 5000).size(), kMaxRequestSize);
}

TEST(NatProbe, RequestRejectsEverythingElse) {
  const auto good = build_request(bind_request());
  auto mutate = [&](std::size_t at, std::uint8_t value) {
    auto b = good;
    b[at] = value;
    return parse_request(b);
  };
  EXPECT_FALSE(mutate(0, 'X'));   // magic
  EXPECT_FALSE(mutate(4, 2));     // version
  EXPECT_FALSE(mutate(5, 0));     // type
  EXPECT_FALSE(mutate(5, 4));
  EXPECT_FALSE(mutate(6, 0x04));  // unknown flag
  EXPECT_FALSE(mutate(7, 1));     // reserved
  EXPECT_FALSE(mutate(21, 5));    // a gap on a bind request
  EXPECT_FALSE(mutate(100, 1));   // padding must be zero
  EXPECT_FALSE(parse_request(Bytes(good.begin(), good.end() - 1)));  // too short
  Bytes too_long(kMaxRequestSize + 1, 0);
  std::copy(good.begin(), good.begin() + 22, too_long.begin());
  EXPECT_FALSE(parse_request(too_long));
  EXPECT_FALSE(parse_request({}));

  Request life = bind_request();
  life.type = Type::lifetime;
  life.gap_s = 0;
  EXPECT_FALSE(parse_request(build_request(life)));  // gap 0
  life.gap_s = kMaxGapS + 1;
  EXPECT_FALSE(parse_request(build_request(life)));  // gap too long
  life.gap_s = 10;
  life.flags = kFlagOtherPort;
  EXPECT_FALSE(parse_request(build_request(life)));  // flags only on bind
}

TEST(NatProbe, ReplyGoldenBytesIpv4) {
  Reply reply{Type::bind, Origin::other_port, token(), 0x01020304, {"203.0.113.1", 40000}};
  auto bytes = build_reply(reply);
  const Bytes want{'V', 'C', 'N', 'T', 1, 0x81, 1, 4, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xff, 0x01, 0x01, 0x02,
                   0x03, 0x04, 0x9c, 0x40, 0, 0, 203, 0, 113, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(bytes, want);
  auto parsed = parse_reply(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, reply);
}

TEST(NatProbe, ReplyRoundTripIpv6AndLifetime) {
  Reply reply{Type::lifetime, Origin::after_gap, token(), 7, {"2001:db8:1::10", 51820}};
  auto bytes = build_reply(reply);
  ASSERT_EQ(bytes.size(), kReplySize);
  auto parsed = parse_reply(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, reply);
}

TEST(NatProbe, ReplyRejectsEverythingElse) {
  EXPECT_TRUE(build_reply({Type::bind, Origin::primary, token(), 1, {"not an address", 1}}).empty());
  const auto good = build_reply({Type::bind, Origin::primary, token(), 1, {"192.0.2.1", 1}});
  auto mutate = [&](std::size_t at, std::uint8_t value) {
    auto b = good;
    b[at] = value;
    return parse_reply(b);
  };
  EXPECT_FALSE(mutate(0, 'x'));
  EXPECT_FALSE(mutate(5, 0x01));  // a request type (no reply bit)
  EXPECT_FALSE(mutate(5, 0x84));  // unknown type
  EXPECT_FALSE(mutate(6, 5));     // unknown origin
  EXPECT_FALSE(mutate(6, 4));     // an echo is only for a size request, and longer
  EXPECT_FALSE(mutate(7, 5));     // unknown family
  EXPECT_FALSE(mutate(22, 1));    // reserved
  EXPECT_FALSE(mutate(39, 1));    // IPv4 with bytes after the address
  EXPECT_FALSE(parse_reply(Bytes(good.begin(), good.end() - 1)));
  auto longer = good;
  longer.push_back(0);
  EXPECT_FALSE(parse_reply(longer));
  // A request is not a reply, and a reply is not a request.
  EXPECT_FALSE(parse_reply(build_request(bind_request())));
  EXPECT_FALSE(parse_request(good));
}

TEST(NatProbe, AnswersMatchesTypeTokenAndNonce) {
  auto q = bind_request();
  Reply r{Type::bind, Origin::primary, token(), q.nonce, {"192.0.2.1", 1}};
  EXPECT_TRUE(answers(r, q));
  auto other = r;
  other.nonce ^= 1;
  EXPECT_FALSE(answers(other, q));
  other = r;
  other.token.probe_index ^= 1;
  EXPECT_FALSE(answers(other, q));
  other = r;
  other.type = Type::lifetime;
  EXPECT_FALSE(answers(other, q));
}

TEST(NatProbe, PlanRepliesServesOnlyWhatWasAskedAndIsAvailable) {
  using V = std::vector<PlannedReply>;
  const V primary{{Origin::primary, 0}};
  EXPECT_EQ(plan_replies(bind_request(), kMinRequestSize, true, true, true), primary);
  EXPECT_EQ(plan_replies(bind_request(kFlagOtherPort), kMinRequestSize, true, true, true),
            (V{{Origin::primary, 0}, {Origin::other_port, 0}}));
  EXPECT_EQ(plan_replies(bind_request(kFlagOtherPort), kMinRequestSize, false, true, true), primary);
  EXPECT_EQ(plan_replies(bind_request(kFlagOtherAddress), kMinRequestSize, true, false, true), primary);
  EXPECT_EQ(plan_replies(bind_request(kFlagOtherPort | kFlagOtherAddress), kMinRequestSize, true, true, true),
            (V{{Origin::primary, 0}, {Origin::other_port, 0}, {Origin::other_address, 0}}));
  Request life = bind_request();
  life.type = Type::lifetime;
  life.gap_s = 30;
  EXPECT_EQ(plan_replies(life, kMinRequestSize, true, true, true), (V{{Origin::primary, 0}, {Origin::after_gap, 30}}));
}

TEST(NatProbe, PlannedRepliesNeverOutweighTheRequest) {
  for (std::size_t size = 0; size <= kMaxRequestSize; ++size) {
    auto plan = plan_replies(bind_request(kFlagOtherPort | kFlagOtherAddress), size, true, true, true);
    EXPECT_LE(plan.size() * kReplySize, size) << size;
  }
  EXPECT_GE(kMinRequestSize, 3 * kReplySize);
  for (std::uint8_t flags : {std::uint8_t{0}, kFlagAck, kFlagEchoDontFragment, std::uint8_t(kFlagAck | kFlagEchoDontFragment)}) {
    for (std::size_t size = 0; size <= kMaxSizeRequest + 100; ++size) {
      std::size_t out = 0;
      for (const auto& p : plan_replies(size_request(flags), size, true, true, true)) {
        // What build_reply really sends for that plan.
        Reply r{Type::size, p.origin, token(), 1, {"192.0.2.1", 1}};
        if (p.origin == Origin::echo) r.echo_size = static_cast<std::uint16_t>(p.size);
        const auto bytes = build_reply(r);
        EXPECT_EQ(bytes.size(), p.size);
        out += bytes.size();
      }
      EXPECT_LE(out, size) << size << " flags " << int(flags);
    }
  }
}

TEST(NatProbe, SizeRequestsMayBeLargeAndCarryOnlyTheirFlags) {
  auto q = size_request(kFlagEchoDontFragment | kFlagAck);
  auto bytes = build_request(q, 1472);
  ASSERT_EQ(bytes.size(), 1472u);
  EXPECT_EQ(bytes[5], 3);
  EXPECT_EQ(bytes[6], 0x0c);
  auto parsed = parse_request(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, q);
  EXPECT_EQ(build_request(q, 5000).size(), kMaxSizeRequest);
  EXPECT_TRUE(parse_request(build_request(q, kMaxSizeRequest)));
  Bytes too_long = build_request(q, kMaxSizeRequest);
  too_long.push_back(0);
  EXPECT_FALSE(parse_request(too_long));
  // Bind and lifetime requests stay small: only a size request is answered with its own size.
  auto big_bind = build_request(size_request(0), 1000);
  big_bind[5] = static_cast<std::uint8_t>(Type::bind);
  EXPECT_FALSE(parse_request(big_bind));
  EXPECT_FALSE(parse_request(build_request(size_request(kFlagOtherPort))));  // a bind flag
  EXPECT_FALSE(parse_request(build_request(bind_request(kFlagAck))));        // a size flag
  auto gap = build_request(size_request(0));
  gap[21] = 1;
  EXPECT_FALSE(parse_request(gap));
}

TEST(NatProbe, EchoGoldenBytesAndStrictParsing) {
  Reply echo{Type::size, Origin::echo, token(), 0x01020304, {"203.0.113.1", 40000}};
  echo.echo_size = 60;
  echo.received_size = 1472;
  echo.largest_fragment = 1480;
  auto bytes = build_reply(echo);
  ASSERT_EQ(bytes.size(), 60u);
  const Bytes head{'V', 'C', 'N', 'T', 1, 0x83, 4, 4, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xff, 0x01, 0x01, 0x02,
                   0x03, 0x04, 0x9c, 0x40, 0, 0, 203, 0, 113, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                   0x05, 0xc0, 0x05, 0xc8};
  EXPECT_EQ(Bytes(bytes.begin(), bytes.begin() + 44), head);
  EXPECT_TRUE(std::all_of(bytes.begin() + 44, bytes.end(), [](std::uint8_t b) { return b == 0; }));
  auto parsed = parse_reply(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, echo);

  auto dirty = bytes;
  dirty[50] = 1;
  EXPECT_FALSE(parse_reply(dirty));  // padding must be zero
  EXPECT_FALSE(parse_reply(Bytes(bytes.begin(), bytes.begin() + 43)));  // shorter than an echo header
  auto bind_echo = bytes;
  bind_echo[5] = 0x81;
  EXPECT_FALSE(parse_reply(bind_echo));  // only size requests are echoed
  auto long_ack = bytes;
  long_ack[6] = static_cast<std::uint8_t>(Origin::primary);
  EXPECT_FALSE(parse_reply(long_ack));  // only an echo is longer than a reply
  // The smallest echo is its header; an echo never exceeds the largest request.
  echo.echo_size = 1;
  EXPECT_EQ(build_reply(echo).size(), kEchoHeaderSize);
  echo.echo_size = 60000;
  EXPECT_EQ(build_reply(echo).size(), kMaxSizeRequest);
}

// A source other than the control connection's address may be spoofed: one
// reply per request, never larger, whatever the request asks for.
TEST(NatProbe, AnUnvalidatedSourceGetsOneReplyNoLargerThanItsRequest) {
  using V = std::vector<PlannedReply>;
  Request life = bind_request();
  life.type = Type::lifetime;
  life.gap_s = 30;
  const std::vector<Request> requests{bind_request(kFlagOtherPort | kFlagOtherAddress), life, size_request(kFlagAck),
                                      size_request(kFlagAck | kFlagEchoDontFragment), size_request(0)};
  for (const auto& q : requests) {
    for (std::size_t size = 0; size <= kMaxSizeRequest + 100; ++size) {
      auto plan = plan_replies(q, size, true, true, false);
      ASSERT_LE(plan.size(), 1u) << size;
      if (!plan.empty()) {
        EXPECT_LE(plan[0].size, size);
      }
    }
  }
  EXPECT_EQ(plan_replies(bind_request(kFlagOtherPort | kFlagOtherAddress), kMinRequestSize, true, true, false),
            (V{{Origin::primary, 0}}));
  EXPECT_EQ(plan_replies(life, kMinRequestSize, true, true, false), (V{{Origin::primary, 0}}));
  EXPECT_EQ(plan_replies(size_request(kFlagAck), 1972, true, true, false), (V{{Origin::echo, 0, 1972}}));
}

TEST(NatProbe, PlanForASizeRequestIsOneEchoOrAnAckAndAShorterEcho) {
  using V = std::vector<PlannedReply>;
  EXPECT_EQ(plan_replies(size_request(kFlagEchoDontFragment), 1472, true, true, true), (V{{Origin::echo, 0, 1472}}));
  EXPECT_EQ(plan_replies(size_request(kFlagAck), 1972, true, true, true),
            (V{{Origin::primary, 0, kReplySize}, {Origin::echo, 0, 1972 - kReplySize}}));
  // The other-port / other-address answers are for bind requests only.
  EXPECT_EQ(plan_replies(size_request(0), 500, true, true, true), (V{{Origin::echo, 0, 500}}));
}

}  // namespace
}  // namespace vpncheck::probes::natprobe
