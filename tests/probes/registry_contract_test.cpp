// One contract test over every module in the registry (STYLE.md "In practice"
// 5): a protocol added to probes::all_protocols() is covered here without
// touching this file.
#include "probes/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>
#include <ostream>
#include <set>
#include <utility>

#include "probes/control.h"
#include "probes/ip.h"
#include "test_support.h"

namespace vpncheck::probes {

// Test output names the module rather than printing its address.
void PrintTo(const ProtocolModule* module, std::ostream* os) { *os << (module ? module->id : "null"); }

namespace {

using fixtures::make_token;
using fixtures::seeded_fill;

std::vector<ServerHints> hint_sets() {
  ServerHints with_key;
  with_key.wireguard_public_key = fixtures::test_public_key();
  return {ServerHints{}, with_key};
}

const std::vector<SessionTag> kTags = {fixtures::kTag, SessionTag{}, SessionTag{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

// Where the token sits inside a request: its 8 encoded bytes, or (protocols
// whose free field is text, e.g. L2TP's Host Name AVP) the lower-case hex of
// those bytes. offset is npos when neither is there.
struct TokenSpan {
  std::size_t offset = std::string::npos;
  std::size_t size = 0;
};

TokenSpan token_span(ByteView request, const ProbeToken& token) {
  auto encoded = token.encode();
  const std::string text = to_hex(encoded);
  for (ByteView needle : {ByteView(encoded), as_bytes(text)}) {
    auto it = std::search(request.begin(), request.end(), needle.begin(), needle.end());
    if (it != request.end()) return {static_cast<std::size_t>(it - request.begin()), needle.size()};
  }
  // Or (protocols whose free field is a random GUID, e.g. SSTP's correlation
  // id) a GUID in text form carrying it (probes/token.h token_guid).
  constexpr std::size_t kGuidText = 38;
  for (std::size_t i = 0; i + kGuidText <= request.size(); ++i) {
    if (request[i] != '{') continue;
    auto guid = parse_guid(std::string_view(reinterpret_cast<const char*>(request.data()) + i, kGuidText));
    if (guid && token_of_guid(*guid) == token) return {i, kGuidText};
  }
  return {};
}
std::size_t token_offset(ByteView request, const ProbeToken& token) { return token_span(request, token).offset; }

// Protocols that frame messages on TCP by a length field of their own inside
// their conversation (ProtocolModule::server_stream, client_conversation), so
// their TCP variant names no StreamFraming.
bool frames_itself(const ProtocolModule& m) { return m.server_stream != nullptr; }

// No amplification is a rule for datagrams (UDP, raw IP), whose source can be
// forged; a stream's answer goes to a peer that completed the TCP handshake
// (reflector/arrival.cpp), so answers on TCP are as large as the protocol says.
bool under_amplification_rule(Transport t) { return t != Transport::tcp; }
bool carried_by_datagrams(const ProtocolModule& m) {
  return std::any_of(m.variants.begin(), m.variants.end(),
                     [](const ProbeVariant& v) { return under_amplification_rule(v.transport); });
}

class ProtocolContract : public ::testing::TestWithParam<const ProtocolModule*> {
 protected:
  const ProtocolModule& module() const { return *GetParam(); }

  Bytes request(const ProbeToken& token, const ServerHints& hints = {}, std::uint32_t seed = 1) const {
    return build_request(module(), token, hints, seed_fill(seed));
  }
  static RandomFill seed_fill(std::uint32_t seed) { return seeded_fill(seed); }

  // The module's reply to its own request, or an empty vector after a test failure.
  Bytes reply_to(ByteView req, const ServerHints& hints = {}, std::uint32_t seed = 2) const {
    auto parsed = parse_request(module(), req, hints);
    EXPECT_TRUE(parsed.has_value()) << module().id << ": own request not parsed";
    if (!parsed) return {};
    return build_reply(module(), req, *parsed, seed_fill(seed));
  }
};

TEST_P(ProtocolContract, DescribesItself) {
  const auto& m = module();
  EXPECT_FALSE(m.id.empty());
  EXPECT_TRUE(std::all_of(m.id.begin(), m.id.end(),
                          [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }))
      << "report ids are lowercase: " << m.id;
  EXPECT_NE(m.id, "control") << "\"control\" names control probes in observations";
  EXPECT_FALSE(m.title.empty());
  EXPECT_FALSE(m.description.empty());
  EXPECT_NE(m.build_request, nullptr);
  EXPECT_NE(m.parse_request, nullptr);
  EXPECT_NE(m.build_reply, nullptr);
  EXPECT_NE(m.is_reply_to, nullptr);
  EXPECT_EQ(find_protocol(m.id), &m);
  EXPECT_FALSE(m.advice_signature_blocked.empty());
}

TEST_P(ProtocolContract, AdvisesEveryVariantByPort) {
  const auto& m = module();
  ASSERT_NE(m.advice_use_variant, nullptr);
  for (const auto& v : m.variants) {
    std::string advice = m.advice_use_variant(v);
    EXPECT_NE(advice.find(std::to_string(v.port)), std::string::npos) << advice;
  }
}

// Multi-piece protocols (IPsec) have one standard variant per piece: the
// pieces must all work together, they are not alternatives. Pieces may share
// a port (IKEv2, IKEv1 and the large IKE message all use UDP 500). A piece
// with no standard variant is a fallback (IPsec's IKE over TCP), and a
// single-piece protocol has exactly one standard form.
TEST_P(ProtocolContract, HasExactlyOneStandardVariantPerPiece) {
  const auto& variants = module().variants;
  const bool multi_piece = std::any_of(variants.begin(), variants.end(), [](const ProbeVariant& v) { return !v.piece.empty(); });
  std::map<std::string_view, int> standard_per_piece;
  std::set<std::tuple<Transport, std::uint16_t, std::string_view>> seen;
  for (const auto& v : variants) {
    EXPECT_NE(v.port, 0);
    if (multi_piece) {
      EXPECT_FALSE(v.piece.empty()) << "every variant of a multi-piece module names its piece";
    }
    if (v.standard) ++standard_per_piece[v.piece];
    EXPECT_TRUE(seen.insert({v.transport, v.port, v.piece}).second)
        << "duplicate variant " << to_string(v.transport) << "/" << v.port << " " << v.piece;
  }
  for (const auto& v : variants) {
    if (multi_piece) {
      EXPECT_LE(standard_per_piece[v.piece], 1) << "piece '" << v.piece << "'";
    } else {
      EXPECT_EQ(standard_per_piece[v.piece], 1);
    }
  }
  if (multi_piece) {
    EXPECT_FALSE(standard_per_piece.empty()) << "a multi-piece protocol of fallbacks only";
  }
}

TEST_P(ProtocolContract, BuildParseRoundTripRecoversTheToken) {
  for (const auto& hints : hint_sets()) {
    for (const auto& tag : kTags) {
      for (std::uint16_t index : fixtures::kProbeIndices) {
        ProbeToken token = make_token(index, tag);
        // The reflector never issues an all-zero tag (session_table.cpp): with
        // index 0 it would be an all-zero IKE SPI, which RFC 7296 forbids.
        if (token == ProbeToken{}) continue;
        Bytes req = request(token, hints, index);
        auto parsed = parse_request(module(), req, hints);
        ASSERT_TRUE(parsed.has_value()) << "index " << index << " tag " << tag_to_hex(tag);
        EXPECT_EQ(parsed->token, token) << "index " << index << " tag " << tag_to_hex(tag);
        // The token survives whatever the random source returns.
        EXPECT_EQ(token_offset(req, token), token_offset(request(token, hints, index + 1000U), token));
      }
    }
  }
}

TEST_P(ProtocolContract, RequestCarriesTheEncodedToken) {
  ProbeToken token = make_token(0x0102);
  EXPECT_NE(token_offset(request(token), token), std::string::npos) << "DESIGN.md contract 1";
}

// The no-amplification contract of a module's reply to `request`: no larger
// than the request, unless the protocol has no answer that small; then it is
// the genuine answer, which the demux sends only to an address the session
// validated (reflector/arrival.cpp).
void expect_within_or_genuine(const ProtocolModule& m, ByteView request, const ParsedRequest& parsed,
                              const ArrivalContext& arrival, ByteView reply, const std::string& where) {
  if (reply.size() <= request.size()) return;
  ArrivalContext validated = arrival;
  validated.reply_limit = 1500;
  EXPECT_EQ(reply.size(), m.build_reply(request, parsed, validated, seeded_fill(2)).size())
      << where << ": larger than the request, yet not the genuine answer";
}

// Every cut that loses any token byte is rejected; a longer cut the module
// still accepts (e.g. a wrapper size it does not know) must give the same token
// and an answer no larger than what arrived (or its genuine answer, which the
// demux withholds from unvalidated sources).
TEST_P(ProtocolContract, TruncatedInputRejected) {
  for (const auto& hints : hint_sets()) {
    ProbeToken token = make_token(0xbeef);
    Bytes req = request(token, hints);
    auto [offset, token_size] = token_span(req, token);
    ASSERT_NE(offset, std::string::npos);
    for (std::size_t len = 0; len < req.size(); ++len) {
      ByteView cut = ByteView(req).first(len);
      auto parsed = parse_request(module(), cut, hints);
      if (len < offset + token_size) {
        EXPECT_FALSE(parsed.has_value()) << "accepted a " << len << "-byte prefix";
      } else if (parsed) {
        EXPECT_EQ(parsed->token, token) << len;
        if (carried_by_datagrams(module())) {
          Bytes reply = build_reply(module(), cut, *parsed, seed_fill(3));
          expect_within_or_genuine(module(), cut, *parsed, default_arrival(hints), reply, std::to_string(len));
        }
      }
    }
  }
}

TEST_P(ProtocolContract, RejectsEmptyAndConstantInput) {
  Bytes req = request(make_token(1));
  for (const auto& hints : hint_sets()) {
    EXPECT_FALSE(parse_request(module(), ByteView{}, hints).has_value());
    EXPECT_FALSE(parse_request(module(), Bytes(req.size(), 0x00), hints).has_value());
    EXPECT_FALSE(parse_request(module(), Bytes(req.size(), 0xff), hints).has_value());
  }
}

TEST_P(ProtocolContract, ReplyNeverLargerThanRequest) {
  if (!carried_by_datagrams(module())) GTEST_SKIP() << "only TCP variants: no amplification rule";
  for (const auto& hints : hint_sets()) {
    for (std::uint32_t seed = 0; seed < 16; ++seed) {
      Bytes req = request(make_token(static_cast<std::uint16_t>(seed)), hints, seed);
      Bytes reply = reply_to(req, hints, seed + 100);
      EXPECT_LE(reply.size(), req.size()) << "seed " << seed;
      // Padded requests the module still accepts must not amplify either.
      for (std::size_t extra : {1U, 64U, 1000U}) {
        Bytes padded = req;
        padded.resize(req.size() + extra, 0);
        if (auto parsed = parse_request(module(), padded, hints)) {
          EXPECT_LE(build_reply(module(), padded, *parsed, seed_fill(seed)).size(), padded.size());
        }
      }
    }
  }
}

TEST_P(ProtocolContract, IsReplyToAcceptsItsOwnReply) {
  for (const auto& hints : hint_sets()) {
    for (std::uint16_t index : fixtures::kProbeIndices) {
      Bytes req = request(make_token(index), hints, index);
      Bytes reply = reply_to(req, hints, index + 7U);
      ASSERT_FALSE(reply.empty()) << "the standard probe must get a genuine answer (PROTOCOLS.md §9.3)";
      EXPECT_TRUE(module().is_reply_to(reply, req)) << index;
    }
  }
}

TEST_P(ProtocolContract, IsReplyToRejectsTruncatedReply) {
  Bytes req = request(make_token(5));
  Bytes reply = reply_to(req);
  ASSERT_FALSE(reply.empty());
  for (std::size_t len = 0; len < reply.size(); ++len)
    EXPECT_FALSE(module().is_reply_to(ByteView(reply).first(len), req))
        << "accepted the reply truncated to " << len << " of " << reply.size() << " bytes";
}

TEST_P(ProtocolContract, IsReplyToRejectsTheControlReply) {
  Bytes req = request(make_token(5));
  EXPECT_FALSE(module().is_reply_to(control::build_reply(req, seed_fill(4)), req));
  Bytes control_request = control::build_request(make_token(5), req.size(), seed_fill(5));
  EXPECT_FALSE(module().is_reply_to(control::build_reply(control_request, seed_fill(6)), req));
}

TEST_P(ProtocolContract, IsReplyToRejectsAReplyToADifferentRequest) {
  // A protocol spoken on TCP only may answer with bytes that name nothing of
  // the request (SSTP's HTTP 200): the connection binds answer to request.
  if (!carried_by_datagrams(module())) GTEST_SKIP() << "only TCP variants: answers are bound by the connection";
  Bytes first = request(make_token(5), {}, 10);
  Bytes second = request(make_token(6), {}, 11);
  Bytes first_reply = reply_to(first);
  Bytes second_reply = reply_to(second);
  EXPECT_TRUE(module().is_reply_to(first_reply, first));
  EXPECT_FALSE(module().is_reply_to(second_reply, first));
  EXPECT_FALSE(module().is_reply_to(first_reply, second));
}

TEST_P(ProtocolContract, IsReplyToRejectsTheEchoedRequest) {
  Bytes req = request(make_token(5));
  EXPECT_FALSE(module().is_reply_to(req, req)) << "a reflected request is not an answer";
}

TEST_P(ProtocolContract, ControlProbeOfTheSameSizeIsNotTheProtocol) {
  for (std::uint32_t seed = 0; seed < 64; ++seed) {
    ProbeToken token = make_token(static_cast<std::uint16_t>(seed));
    Bytes req = request(token, {}, seed);
    Bytes control_request = control::build_request(token, req.size(), seed_fill(seed + 500));
    ASSERT_EQ(control_request.size(), req.size());
    for (const auto& hints : hint_sets())
      EXPECT_FALSE(parse_request(module(), control_request, hints).has_value()) << "seed " << seed;
    EXPECT_FALSE(control::parse_request(req).has_value()) << "seed " << seed;
    // Replies do not cross either.
    Bytes reply = reply_to(req);
    EXPECT_FALSE(control::is_reply_to(reply, control_request));
    EXPECT_FALSE(control::is_reply_to(reply, req));
  }
}

// Each genuine probe is attributed to exactly one protocol by the reflector's demux.
TEST_P(ProtocolContract, RequestIsNotParsedByAnyOtherModule) {
  for (const auto& hints : hint_sets()) {
    Bytes req = request(make_token(5), hints);
    for (const ProtocolModule* other : all_protocols()) {
      if (other == GetParam()) continue;
      EXPECT_FALSE(parse_request(*other, req, hints).has_value()) << other->id << " parsed it";
    }
  }
}

// A reply that parsed as a request would let two reflectors ping-pong.
TEST_P(ProtocolContract, ReplyIsNotItselfARequest) {
  Bytes reply = reply_to(request(make_token(5)));
  ASSERT_FALSE(reply.empty());
  EXPECT_FALSE(control::parse_request(reply).has_value());
  for (const auto& hints : hint_sets())
    for (const ProtocolModule* any : all_protocols())
      EXPECT_FALSE(parse_request(*any, reply, hints).has_value()) << any->id << " parsed the reply";
}

// Multi-message exchanges (next_request, e.g. L2TP): played against the
// module's own reflector side as the demux would (follow-ups get the token of
// a flow the first message opened), every message is recognised as this
// probe, every answer is accepted, no larger than its message, and never
// itself a request; and the exchange ends.
TEST_P(ProtocolContract, MultiStepExchangeCompletesAgainstItsOwnReflector) {
  const auto& m = module();
  if (m.next_request == nullptr) return;  // one request, one reply: covered above
  // Each piece runs its own exchange (IPsec: only NAT-T has follow-ups).
  std::size_t longest = 0;
  for (const auto& v : m.variants) {
    const ProbeToken token = make_token(21);
    ProbeContext context = default_context(m, token);
    context.variant = v;
    const RandomFill rnd = seed_fill(9);
    std::optional<ProbeToken> flow;
    std::optional<Bytes> req = m.build_request(context, rnd);
    std::size_t step = 0;
    for (; req && step < 16; ++step) {
      ArrivalContext arrival = default_arrival({}, context.variant.transport);
      arrival.flow_token = flow;
      auto parsed = m.parse_request(*req, arrival);
      ASSERT_TRUE(parsed.has_value()) << v.piece << " step " << step << " not recognised";
      EXPECT_EQ(parsed->token, token) << step;
      if (step == 0 && parsed->opens_flow) flow = parsed->token;
      Bytes reply = m.build_reply(*req, *parsed, arrival, rnd);
      ASSERT_FALSE(reply.empty()) << v.piece << " step " << step << " unanswered";
      if (under_amplification_rule(v.transport)) {
        EXPECT_LE(reply.size(), req->size()) << step;
      }
      EXPECT_TRUE(m.is_reply_to(reply, *req)) << step;
      // A NAT-T keepalive is answered with the same single byte by design.
      const bool keepalive_echo = reply.size() == 1 && reply == *req;
      if (!keepalive_echo) {
        for (const ProtocolModule* any : all_protocols())
          EXPECT_FALSE(any->parse_request(reply, arrival).has_value())
              << any->id << " parsed the reply to " << v.piece << " step " << step;
      }
      req = m.next_request(context, step, *req, reply, rnd);
    }
    EXPECT_FALSE(req.has_value()) << v.piece << ": the exchange does not end";
    longest = std::max(longest, step);
  }
  EXPECT_GE(longest, 2U) << "next_request is set but no piece has a second step";
}

// Every variant, not only the first: multi-piece modules build a different
// message per piece (ProbeContext::variant.piece), raw ones a whole IPv4
// datagram. Each round-trips with its own transport, names its piece, gets a
// genuine answer (no larger than itself unless the protocol has none that
// small), and so does every follow-up message of a multi-message exchange
// (next_request).
TEST_P(ProtocolContract, EveryVariantRoundTripsWithItsTransport) {
  const auto& m = module();
  // PPTP's GRE is answered from the call its control connection set up, and
  // that connection frames itself: both are covered by PptpModule, PptpServer
  // and PptpLoopback instead.
  if (frames_itself(m)) return;
  for (const auto& hints : hint_sets()) {
    for (const auto& v : m.variants) {
      ProbeToken token = make_token(0x0203);
      ProbeContext context = default_context(m, token, hints);
      context.variant = v;
      context.local = IpPort{{192, 168, 1, 10}, 40000};
      context.remote = IpPort{{203, 0, 113, 5}, v.transport == Transport::ip ? std::uint16_t{0} : v.port};
      ArrivalContext arrival = default_arrival(hints, v.transport);
      arrival.source = IpPort{{198, 51, 100, 7}, 61000};
      arrival.destination = IpPort{{203, 0, 113, 5}, context.remote.port};
      Bytes req = m.build_request(context, seed_fill(1));
      const std::string where = std::string(to_string(v.transport)) + "/" + std::to_string(v.port) + " " +
                                std::string(v.piece);
      for (std::size_t step = 0; step < 8; ++step) {
        ASSERT_FALSE(req.empty()) << where << " step " << step;
        auto parsed = m.parse_request(req, arrival);
        ASSERT_TRUE(parsed.has_value()) << where << " step " << step;
        EXPECT_EQ(parsed->token, token) << where;
        EXPECT_EQ(parsed->piece, v.piece) << where << " step " << step;
        if (parsed->opens_flow) arrival.flow_token = parsed->token;
        // From a source the session validated, the genuine answer (the demux
        // allows it up to one full-size packet).
        ArrivalContext validated = arrival;
        validated.reply_limit = 1500;
        Bytes genuine = m.build_reply(req, *parsed, validated, seed_fill(2));
        ASSERT_FALSE(genuine.empty()) << where << " step " << step;
        EXPECT_TRUE(m.is_reply_to(genuine, req)) << where << " step " << step;
        // From any other source: no larger than the request when the protocol
        // has such an answer; else its genuine answer, which the demux withholds.
        Bytes reply = m.build_reply(req, *parsed, arrival, seed_fill(2));
        ASSERT_FALSE(reply.empty()) << where << " step " << step;
        if (under_amplification_rule(v.transport))
          expect_within_or_genuine(m, req, *parsed, arrival, reply, where + " step " + std::to_string(step));
        EXPECT_TRUE(m.is_reply_to(reply, req)) << where << " step " << step;
        EXPECT_FALSE(m.parse_request(reply, default_arrival(hints, v.transport)).has_value())
            << where << " step " << step << ": the reply parses as a request";
        if (!m.next_request) break;
        auto next = m.next_request(context, step, req, reply, seed_fill(3 + static_cast<std::uint32_t>(step)));
        if (!next) break;
        req = std::move(*next);
      }
    }
  }
}

// Raw variants over IPv6: a whole IPv6 datagram of the variant's protocol
// between the context's addresses (probes/ip.h), answered with one to the
// observed source, never larger; and every truncation of its payload, as an
// IPv6 raw listener would rebuild it, is never answered with more.
TEST_P(ProtocolContract, RawVariantsRoundTripOverIpv6) {
  const auto& m = module();
  if (frames_itself(m)) return;  // PPTP's GRE: PptpModule.GreOverIpv6* (its answer needs a call)
  const Bytes client = fixtures::hex("20010db8000100000000000000000010");
  const Bytes reflector = fixtures::hex("20010db8000200000000000000000005");
  for (const auto& v : m.variants) {
    if (v.transport != Transport::ip) continue;
    const std::string where = std::string(v.piece) + " over IPv6";
    ProbeToken token = make_token(0x0304);
    ProbeContext context = default_context(m, token);
    context.variant = v;
    context.local = IpPort{client, 0};
    context.remote = IpPort{reflector, 0};
    ArrivalContext arrival = default_arrival({}, Transport::ip);
    arrival.source = IpPort{client, 0};
    arrival.destination = IpPort{reflector, 0};
    Bytes req = m.build_request(context, seed_fill(1));
    auto ip = ip6::parse(req);
    ASSERT_TRUE(ip.has_value()) << where;
    EXPECT_EQ(ip->next_header, v.port) << where;
    EXPECT_EQ(Bytes(ip->src.begin(), ip->src.end()), client) << where;
    EXPECT_EQ(Bytes(ip->dst.begin(), ip->dst.end()), reflector) << where;
    auto parsed = m.parse_request(req, arrival);
    ASSERT_TRUE(parsed.has_value()) << where;
    EXPECT_EQ(parsed->token, token) << where;
    EXPECT_EQ(parsed->piece, v.piece) << where;
    Bytes reply = m.build_reply(req, *parsed, arrival, seed_fill(2));
    ASSERT_FALSE(reply.empty()) << where;
    EXPECT_LE(reply.size(), req.size()) << where;
    auto rip = ip6::parse(reply);
    ASSERT_TRUE(rip.has_value()) << where;
    EXPECT_EQ(Bytes(rip->dst.begin(), rip->dst.end()), client) << where;
    EXPECT_TRUE(m.is_reply_to(reply, req)) << where;
    EXPECT_FALSE(m.parse_request(reply, arrival).has_value()) << where << ": the reply parses as a request";
    const Bytes payload(ip->payload.begin(), ip->payload.end());
    for (std::size_t n = 0; n < payload.size(); ++n) {
      Bytes cut = ip6::datagram(ip->src, ip->dst, ip->next_header, 64, 0, ByteView(payload).first(n));
      auto p = m.parse_request(cut, arrival);
      if (!p) continue;
      EXPECT_LE(m.build_reply(cut, *p, arrival, seed_fill(3)).size(), cut.size()) << where << " cut " << n;
    }
  }
}

// Every TCP variant names the framing its messages travel in (or the module
// frames itself, PPTP). Client and reflector use that one object, so: the
// request framed as the first message of a stream is claimed by that framing
// among all the registry's framings, has exactly its own length, unframes to
// the request; the reply framed the same way is one whole frame too.
TEST_P(ProtocolContract, TcpVariantsRoundTripThroughTheirFraming) {
  const auto& m = module();
  for (const auto& v : m.variants) {
    // Inside TLS only the framings of TLS-wrapped variants are asked.
    const auto framings = stream_framings(v.tls);
    if (v.transport != Transport::tcp) {
      EXPECT_EQ(v.framing, nullptr) << "only TCP variants are framed";
      continue;
    }
    if (v.framing == nullptr) {
      EXPECT_TRUE(frames_itself(m)) << "TCP " << v.port << " needs a stream framing";
      continue;
    }
    const StreamFraming& f = *v.framing;
    EXPECT_NE(std::find(framings.begin(), framings.end(), &f), framings.end()) << f.name;
    const std::string where = std::string(f.name) + " on TCP " + std::to_string(v.port);
    ProbeContext context = default_context(m, make_token(9));
    context.variant = v;
    const Bytes req = m.build_request(context, seed_fill(1));
    const Bytes wire = frame_first(f, req);
    ASSERT_FALSE(wire.empty()) << where;
    EXPECT_EQ(first_message_length(f, wire), MessageLength::of(wire.size())) << where;
    for (std::size_t n = 0; n < wire.size(); ++n) {
      // A torn frame: more is needed, or its whole length is already known.
      auto torn = first_message_length(f, ByteView(wire).first(n));
      EXPECT_TRUE(torn == MessageLength::more() || torn == MessageLength::of(wire.size())) << where << " cut " << n;
      EXPECT_FALSE(unframe(f, ByteView(wire).first(n), true).has_value()) << where << " cut " << n;
    }
    auto inner = unframe(f, wire, true);
    ASSERT_TRUE(inner.has_value()) << where;
    EXPECT_TRUE(std::equal(inner->begin(), inner->end(), req.begin(), req.end())) << where;
    auto claim = claim_stream(wire, framings);
    EXPECT_EQ(claim.sniff, Sniff::mine) << where;
    EXPECT_EQ(claim.framing, &f) << where << ": claimed by " << (claim.framing ? claim.framing->name : "none");

    ArrivalContext arrival = default_arrival({}, Transport::tcp);
    auto parsed = m.parse_request(req, arrival);
    ASSERT_TRUE(parsed.has_value()) << where;
    const Bytes answer = m.build_reply(req, *parsed, arrival, seed_fill(2));
    const Bytes reply = f.frame(answer);
    ASSERT_FALSE(reply.empty()) << where;
    EXPECT_EQ(f.message_length(reply), MessageLength::of(reply.size())) << where;
    auto reply_inner = unframe(f, reply);
    ASSERT_TRUE(reply_inner.has_value()) << where;
    EXPECT_TRUE(m.is_reply_to(*reply_inner, req)) << where;
  }
}

// The control probe (first byte 0xFF, same size as the framed request) is
// told apart before any framing is asked; no framing may claim it either.
TEST_P(ProtocolContract, NoFramingClaimsAControlProbe) {
  for (const auto& v : module().variants) {
    if (v.framing == nullptr) continue;
    ProbeContext context = default_context(module(), make_token(9));
    context.variant = v;
    const Bytes wire = frame_first(*v.framing, module().build_request(context, seed_fill(1)));
    const Bytes control = control::build_request(make_token(9), wire.size(), seed_fill(4));
    EXPECT_NE(claim_stream(control, stream_framings(v.tls)).sniff, Sniff::mine) << v.framing->name;
  }
}

std::string module_name(const ::testing::TestParamInfo<const ProtocolModule*>& info) {
  std::string name(info.param->id);
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllProtocols, ProtocolContract,
                         ::testing::ValuesIn(all_protocols().begin(), all_protocols().end()), module_name);

// ---- The registry itself ----------------------------------------------------

TEST(Registry, ListsModulesWithUniqueIds) {
  ASSERT_FALSE(all_protocols().empty());
  std::set<std::string_view> ids;
  for (const ProtocolModule* m : all_protocols()) {
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(ids.insert(m->id).second) << "duplicate id " << m->id;
  }
  EXPECT_TRUE(ids.count("wireguard"));
  EXPECT_TRUE(ids.count("openvpn"));
  EXPECT_TRUE(ids.count("pptp"));
}

TEST(Registry, FindProtocolRejectsUnknownIds) {
  EXPECT_EQ(find_protocol(""), nullptr);
  EXPECT_EQ(find_protocol("control"), nullptr);
  EXPECT_EQ(find_protocol("WireGuard"), nullptr);
  EXPECT_EQ(find_protocol("wireguar"), nullptr);
}

TEST(TransportNames, RoundTrip) {
  EXPECT_EQ(to_string(Transport::udp), "udp");
  EXPECT_EQ(to_string(Transport::tcp), "tcp");
  EXPECT_EQ(transport_from_string("udp"), Transport::udp);
  EXPECT_EQ(transport_from_string("tcp"), Transport::tcp);
  EXPECT_FALSE(transport_from_string("UDP").has_value());
  EXPECT_FALSE(transport_from_string("").has_value());
  EXPECT_FALSE(transport_from_string("sctp").has_value());
}

}  // namespace
}  // namespace vpncheck::probes
