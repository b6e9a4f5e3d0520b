// Streams a module's server conversation claims (reflector/stream_conversation.h),
// on byte vectors (no sockets): the generic driver with a synthetic
// conversation and demux, then PPTP's control connection through the real
// demux, and the GRE answers its calls enable.
#include "reflector/stream_conversation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <span>

#include "probes/gre.h"
#include "probes/ip.h"
#include "probes/pptp.h"
#include "probes/pptp_module.h"
#include "probes/pptp_server.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

using probes::Bytes;
using probes::ByteView;
namespace pptp = probes::pptp;
using State = pptp::ServerConversation::State;
namespace conv = probes::conversation;

constexpr std::int64_t kNow = 1700000000000;
const probes::Endpoint kClient{"198.51.100.7", 40001};

// ---- The generic driver ---------------------------------------------------

// A synthetic protocol: messages are "<n><n bytes>"; 'S' messages go to the
// demux, 'x' ones are skipped, and a message starting "q" ends the stream
// once answered. A zero length is invalid and closes.
class Synthetic : public conv::ServerConversation {
 public:
  conv::ServerAction step(const conv::ServerEvent& e) override {
    using K = conv::ServerAction::Kind;
    if (e.kind == conv::ServerEvent::Kind::answered) return {quit_ ? K::close : K::need_more, 0};
    if (e.data.empty()) return {K::need_more, 0};
    const std::size_t size = std::size_t{e.data[0]} + 1;
    if (size == 1) return {K::close, 0};
    if (e.data.size() < size) return {K::need_more, 0};
    quit_ = e.data[1] == 'q';
    return {e.data[1] == 'x' ? K::skip : K::submit, size};
  }

 private:
  bool quit_ = false;
};
std::unique_ptr<conv::ServerConversation> start_synthetic() { return std::make_unique<Synthetic>(); }
bool sniff_synthetic(ByteView head) { return !head.empty() && head[0] == 0xee; }
const conv::ServerStream kSyntheticStream{sniff_synthetic, start_synthetic};
const probes::ProtocolModule kSyntheticModule{
    .id = "synthetic",
    .title = "Synthetic",
    .description = "",
    .variants = {},
    .build_request = nullptr,
    .parse_request = nullptr,
    .build_reply = nullptr,
    .is_reply_to = nullptr,
    .advice_use_variant = nullptr,
    .advice_signature_blocked = "",
    .server_stream = &kSyntheticStream,
};

Bytes msg(std::string_view text) {
  Bytes out{static_cast<std::uint8_t>(text.size())};
  out.insert(out.end(), text.begin(), text.end());
  return out;
}

struct FakeDemux {
  std::vector<Arrival> seen;
  std::vector<Bytes> payloads;
  bool drop = false;
  ArrivalOutcome operator()(const Arrival& a) {
    seen.push_back(a);
    payloads.emplace_back(a.payload.begin(), a.payload.end());
    ArrivalOutcome out;
    if (drop) {
      out.dropped = DropReason::unknown_session;
      return out;
    }
    out.reply = Bytes(a.payload.begin(), a.payload.end() - 1);  // one byte shorter than the request
    out.sequence = seen.size();
    return out;
  }
};

TEST(StreamConversation, SubmitsWholeMessagesToTheDemuxAndHandsBackItsAnswers) {
  auto demux = std::make_shared<FakeDemux>();
  StreamConversation c(kSyntheticModule, [demux](const Arrival& a) { return (*demux)(a); }, 1723, kClient,
                       "203.0.113.5");
  EXPECT_FALSE(c.named());
  Bytes stream = msg("Shello");
  Bytes skip = msg("xignored");
  Bytes quit = msg("qbye");
  stream.insert(stream.end(), skip.begin(), skip.end());
  stream.insert(stream.end(), quit.begin(), quit.end());

  // A partial message waits for more.
  auto step = c.on_bytes(ByteView(stream).first(3), kNow);
  EXPECT_EQ(step.consumed, 0u);
  EXPECT_FALSE(step.close);
  EXPECT_TRUE(demux->seen.empty());

  step = c.on_bytes(stream, kNow);
  EXPECT_EQ(step.consumed, 7u);
  EXPECT_EQ(step.reply, (Bytes{6, 'S', 'h', 'e', 'l', 'l'}));
  ASSERT_TRUE(step.outcome.has_value());
  EXPECT_EQ(step.outcome->sequence, 1u);
  EXPECT_FALSE(step.close);
  EXPECT_TRUE(c.named()) << "a recorded message names the peer's session";
  ASSERT_EQ(demux->seen.size(), 1u);
  EXPECT_EQ(demux->payloads[0], msg("Shello"));
  EXPECT_EQ(demux->seen[0].framing, Framing::self_delimited);
  EXPECT_EQ(demux->seen[0].local_port, 1723);
  EXPECT_EQ(demux->seen[0].source, kClient);
  EXPECT_EQ(demux->seen[0].destination_address, "203.0.113.5");
  EXPECT_EQ(demux->seen[0].received_at_unix_ms, kNow);

  ByteView rest = ByteView(stream).subspan(step.consumed);
  step = c.on_bytes(rest, kNow);
  EXPECT_EQ(step.consumed, skip.size()) << "skipped: neither recorded nor answered";
  EXPECT_TRUE(step.reply.empty());
  EXPECT_EQ(demux->seen.size(), 1u);

  rest = rest.subspan(step.consumed);
  step = c.on_bytes(rest, kNow);
  EXPECT_EQ(step.consumed, quit.size());
  EXPECT_FALSE(step.reply.empty()) << "the last answer is written before the close";
  EXPECT_TRUE(step.close);
  EXPECT_TRUE(c.closed());
  EXPECT_TRUE(c.on_bytes(stream, kNow).close) << "a closed stream stays closed";
  EXPECT_EQ(demux->seen.size(), 2u);
}

TEST(StreamConversation, ADroppedMessageNamesNoSessionAndInvalidBytesClose) {
  auto demux = std::make_shared<FakeDemux>();
  demux->drop = true;
  StreamConversation c(kSyntheticModule, [demux](const Arrival& a) { return (*demux)(a); }, 1723, kClient);
  auto step = c.on_bytes(msg("Sstranger"), kNow);
  EXPECT_TRUE(step.reply.empty());
  EXPECT_FALSE(step.outcome.has_value());
  EXPECT_FALSE(c.named());
  EXPECT_TRUE(c.on_bytes(Bytes{0, 1, 2}, kNow).close);
}

TEST(StreamConversation, AModulesSniffChoosesItsConversation) {
  Bytes sccrq = pptp::build_sccrq(probes::ProbeToken{probes::SessionTag{1, 2, 3, 4, 5, 6}, 1});
  EXPECT_EQ(conversation_for(ByteView(sccrq).first(4)), &pptp::kModule);
  EXPECT_EQ(conversation_for(Bytes{0x00, 0x0e, 0x38, 0x01}), nullptr) << "OpenVPN's framing is not a conversation";
  EXPECT_EQ(conversation_for(probes::as_bytes("GET ")), nullptr);
}

// ---- PPTP through the real demux ------------------------------------------


class PptpServer : public ::testing::Test {
 protected:
  PptpServer() : table_(limits(), test::FakeClock{}.fn()), handler_(table_, {}, test::counter_fill(42)) {
    auto created = table_.create({"198.51.100.7", 5555}, rnd_);
    session_id_ = created.session->id;
    token_ = probes::ProbeToken{created.session->tag, 3};
    gre_token_ = probes::ProbeToken{created.session->tag, 5};
  }
  static SessionLimits limits() {
    SessionLimits l;
    l.max_observations = 1000;
    return l;
  }
  std::vector<probes::Observation> observations() { return table_.find(session_id_)->observations.all(); }

  static StreamConversation connection(ArrivalHandler& handler, probes::Endpoint client = kClient) {
    return StreamConversation(pptp::kModule, [&handler](const Arrival& a) { return handler.handle(a); }, 1723,
                              std::move(client));
  }
  static State state(const StreamConversation& c) {
    return dynamic_cast<const pptp::ServerConversation&>(c.conversation()).state();
  }
  std::size_t calls(const ArrivalHandler& handler) const { return handler.server_state(pptp::kModule)->size(); }

  // Feeds one whole message and expects it consumed.
  StreamConversation::Step feed(StreamConversation& c, const Bytes& message) {
    auto step = c.on_bytes(message, kNow);
    EXPECT_TRUE(step.close || step.consumed == message.size());
    return step;
  }
  // SCCRQ then OCRQ(call_id): the connection is in a call.
  StreamConversation::Step open_call(StreamConversation& c, std::uint16_t call_id, std::uint16_t original_call_id) {
    EXPECT_FALSE(feed(c, pptp::build_sccrq(token_)).reply.empty());
    Bytes ocrq = pptp::build_ocrq(token_, original_call_id, 1);
    ocrq[12] = static_cast<std::uint8_t>(call_id >> 8);  // an ALG rewrote the Call ID field
    ocrq[13] = static_cast<std::uint8_t>(call_id);
    return feed(c, ocrq);
  }
  ArrivalOutcome gre_arrival(const Bytes& datagram, const std::string& from) {
    Arrival a;
    a.payload = datagram;
    a.framing = Framing::ip_datagram;
    a.local_port = 47;
    a.source = {from, 0};
    a.destination_address = "203.0.113.5";
    a.received_at_unix_ms = kNow + 10;
    return handler_.handle(a);
  }
  Bytes gre_probe(std::uint16_t key, std::string_view from = "198.51.100.7") {
    probes::IpPort local{{198, 51, 100, 7}, 0};
    if (from != "198.51.100.7") local.address = {198, 51, 100, 8};
    return pptp::build_gre_datagram(gre_token_, key, local, probes::IpPort{{203, 0, 113, 5}, 0});
  }

  probes::RandomFill rnd_ = test::counter_fill(9);
  SessionTable table_;
  ArrivalHandler handler_;
  std::string session_id_;
  probes::ProbeToken token_;
  probes::ProbeToken gre_token_;
};

TEST_F(PptpServer, AnswersTheWholeConversationAndRecordsTheTaggedMessages) {
  auto c = connection(handler_);
  EXPECT_EQ(state(c), State::wait_sccrq);

  Bytes sccrq = pptp::build_sccrq(token_);
  auto step = feed(c, sccrq);
  EXPECT_FALSE(step.close);
  EXPECT_TRUE(pptp::is_sccrp_reply_to(step.reply, sccrq));
  ASSERT_TRUE(step.outcome.has_value());
  EXPECT_EQ(state(c), State::connected);

  Bytes ocrq = pptp::build_ocrq(token_, 0x1234, 7);
  step = feed(c, ocrq);
  EXPECT_TRUE(pptp::is_ocrp_reply_to(step.reply, ocrq));
  auto ocrp = pptp::parse(step.reply).message;
  EXPECT_EQ(ocrp.peer_call_id, 0x1234);
  EXPECT_NE(ocrp.call_id, 0);
  EXPECT_EQ(state(c), State::in_call);
  EXPECT_EQ(calls(handler_), 1u) << "the call is in the module's call table";

  step = feed(c, pptp::build_set_link_info(ocrp.call_id));
  EXPECT_TRUE(step.reply.empty());
  EXPECT_FALSE(step.close);

  Bytes stop = pptp::build_stop_ccrq();
  step = feed(c, stop);
  EXPECT_TRUE(pptp::is_stop_ccrp_reply_to(step.reply, stop));
  EXPECT_TRUE(step.close);
  EXPECT_EQ(state(c), State::closed);

  // SCCRQ, OCRQ and the untagged StopCCRQ (attributed by its connection); not Set-Link-Info.
  ASSERT_EQ(observations().size(), 3u);
  for (const auto& o : observations()) {
    EXPECT_EQ(o.protocol, "pptp");
    EXPECT_EQ(o.probe_index, 3);
    EXPECT_EQ(o.fields.at("piece"), "control");
    EXPECT_TRUE(o.reply.sent);
  }
  EXPECT_EQ(observations()[0].fields.at("message_type"), "SCCRQ");
  const auto f = observations()[1].fields;
  EXPECT_EQ(f.at("message_type"), "OCRQ");
  EXPECT_EQ(f.at("call_id"), "4660");
  EXPECT_EQ(f.at("original_call_id"), "4660");
  EXPECT_EQ(f.at("call_id_rewritten"), "false");
  EXPECT_EQ(f.at("linux_pptp_helper"), "false");
  EXPECT_EQ(f.at("tcp_source_port"), "40001");
  EXPECT_EQ(observations()[2].fields.at("message_type"), "StopCCRQ");
}

TEST_F(PptpServer, RecordsACallIdRewrittenToTheTcpSourcePortAsTheLinuxHelper) {
  auto c = connection(handler_);
  auto step = open_call(c, 40001, 0x1234);  // nf_nat_pptp: Call ID := NATed TCP source port
  auto ocrp = pptp::parse(step.reply).message;
  EXPECT_EQ(ocrp.peer_call_id, 40001) << "the OCRP answers the Call ID as it arrived";
  const auto f = observations().back().fields;
  EXPECT_EQ(f.at("call_id"), "40001");
  EXPECT_EQ(f.at("original_call_id"), "4660");
  EXPECT_EQ(f.at("call_id_rewritten"), "true");
  EXPECT_EQ(f.at("linux_pptp_helper"), "true");
}

TEST_F(PptpServer, RecordsARewriteToAnotherValueAsAnAlgButNotTheLinuxHelper) {
  auto c = connection(handler_);
  open_call(c, 0x5555, 0x1234);
  const auto f = observations().back().fields;
  EXPECT_EQ(f.at("call_id_rewritten"), "true");
  EXPECT_EQ(f.at("linux_pptp_helper"), "false");
}

TEST_F(PptpServer, GreKeyedToTheReflectorsCallIdIsAnsweredToTheObservedClientCallId) {
  auto c = connection(handler_);
  auto ocrp = pptp::parse(open_call(c, 40001, 0x1234).reply).message;

  Bytes probe = gre_probe(ocrp.call_id);
  auto out = gre_arrival(probe, kClient.address);
  ASSERT_FALSE(out.dropped);
  EXPECT_EQ(out.protocol, "pptp");
  ASSERT_FALSE(out.reply.empty());
  EXPECT_LE(out.reply.size(), probe.size());
  // A whole IPv4 datagram from the reflector's address to the observed source.
  auto gre = probes::ip::payload(out.reply, 47);
  ASSERT_TRUE(gre.has_value());
  EXPECT_EQ(Bytes(out.reply.begin() + 12, out.reply.begin() + 16), (Bytes{203, 0, 113, 5}));
  EXPECT_EQ(Bytes(out.reply.begin() + 16, out.reply.begin() + 20), (Bytes{198, 51, 100, 7}));
  EXPECT_TRUE(pptp::is_gre_reply_datagram(out.reply, probe, 40001)) << "keyed to the Call ID as observed";
  EXPECT_FALSE(pptp::is_gre_reply_datagram(out.reply, probe, 0x1234));

  const auto o = observations().back();
  EXPECT_EQ(o.probe_index, 5);
  EXPECT_EQ(o.fields.at("piece"), "gre");
  EXPECT_EQ(o.fields.at("call_id"), std::to_string(ocrp.call_id));
  EXPECT_EQ(o.fields.at("call_known"), "true");
  EXPECT_EQ(o.fields.at("answered_call_id"), "40001");
}

TEST_F(PptpServer, TwoCallsFromOneAddressNeverShareTheReflectorsCallId) {
  // A random source that always gives the same Call ID: the second call must still get its own.
  ArrivalHandler same_ids(table_, {}, [](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), 0x42); });
  auto first = connection(same_ids);
  auto second = connection(same_ids, probes::Endpoint{kClient.address, 40002});
  ASSERT_FALSE(feed(first, pptp::build_sccrq(token_)).reply.empty());
  ASSERT_FALSE(feed(second, pptp::build_sccrq(token_)).reply.empty());
  auto ocrp1 = pptp::parse(feed(first, pptp::build_ocrq(token_, 0x1111, 1)).reply).message;
  auto step2 = feed(second, pptp::build_ocrq(token_, 0x2222, 2));
  auto ocrp2 = pptp::parse(step2.reply).message;
  EXPECT_EQ(ocrp1.call_id, 0x4242);
  EXPECT_NE(ocrp2.call_id, ocrp1.call_id);
  EXPECT_EQ(ocrp2.peer_call_id, 0x2222);
  ASSERT_TRUE(step2.outcome.has_value());
  EXPECT_EQ(step2.outcome->reply, step2.reply);  // what is accounted as sent is what is sent
  EXPECT_EQ(calls(same_ids), 2u);
  // Each call's GRE is answered keyed to its own client's Call ID.
  auto gre_for = [&](std::uint16_t key) {
    Arrival a;
    Bytes probe = gre_probe(key);
    a.payload = probe;
    a.framing = Framing::ip_datagram;
    a.local_port = 47;
    a.source = {kClient.address, 0};
    a.destination_address = "203.0.113.5";
    a.received_at_unix_ms = kNow + 10;
    auto out = same_ids.handle(a);
    return std::make_pair(probe, out.reply);
  };
  auto [probe1, reply1] = gre_for(ocrp1.call_id);
  auto [probe2, reply2] = gre_for(ocrp2.call_id);
  EXPECT_TRUE(pptp::is_gre_reply_datagram(reply1, probe1, 0x1111));
  EXPECT_TRUE(pptp::is_gre_reply_datagram(reply2, probe2, 0x2222));
}

TEST_F(PptpServer, GreWithoutAMatchingCallIsRecordedButNotAnswered) {
  auto c = connection(handler_);
  auto ocrp = pptp::parse(open_call(c, 0x1234, 0x1234).reply).message;

  auto wrong_key = gre_arrival(gre_probe(static_cast<std::uint16_t>(ocrp.call_id + 1)), kClient.address);
  ASSERT_FALSE(wrong_key.dropped);
  EXPECT_TRUE(wrong_key.reply.empty());
  EXPECT_EQ(observations().back().fields.at("call_known"), "false");

  // The right key from another address is not this client's call.
  auto other = gre_arrival(gre_probe(ocrp.call_id, "198.51.100.8"), "198.51.100.8");
  ASSERT_FALSE(other.dropped);
  EXPECT_TRUE(other.reply.empty());
}

TEST_F(PptpServer, StopClearsTheCall) {
  auto c = connection(handler_);
  auto ocrp = pptp::parse(open_call(c, 0x1234, 0x1234).reply).message;
  EXPECT_EQ(calls(handler_), 1u);
  feed(c, pptp::build_stop_ccrq());
  EXPECT_EQ(calls(handler_), 0u);
  EXPECT_TRUE(gre_arrival(gre_probe(ocrp.call_id), kClient.address).reply.empty());
}

TEST_F(PptpServer, WaitsForTheRestOfASplitMessage) {
  auto c = connection(handler_);
  Bytes sccrq = pptp::build_sccrq(token_);
  for (std::size_t len : {0U, 1U, 8U, 100U, 155U}) {
    auto step = c.on_bytes(ByteView(sccrq).first(len), kNow);
    EXPECT_EQ(step.consumed, 0u) << len;
    EXPECT_FALSE(step.close) << len;
  }
  // Two messages in one read: one at a time.
  Bytes both = sccrq;
  Bytes ocrq = pptp::build_ocrq(token_, 9, 1);
  both.insert(both.end(), ocrq.begin(), ocrq.end());
  auto step = c.on_bytes(both, kNow);
  EXPECT_EQ(step.consumed, sccrq.size());
  step = c.on_bytes(ByteView(both).subspan(step.consumed), kNow);
  EXPECT_EQ(step.consumed, ocrq.size());
  EXPECT_EQ(state(c), State::in_call);
}

TEST_F(PptpServer, ClosesOnProtocolViolations) {
  {  // OCRQ before SCCRQ
    auto c = connection(handler_);
    EXPECT_TRUE(feed(c, pptp::build_ocrq(token_, 9, 1)).close);
    EXPECT_EQ(state(c), State::closed);
  }
  {  // not PPTP
    auto c = connection(handler_);
    Bytes junk(156, 0x41);
    EXPECT_TRUE(c.on_bytes(junk, kNow).close);
  }
  {  // an SCCRQ for an unknown session: not answered
    auto c = connection(handler_);
    probes::ProbeToken stranger{probes::SessionTag{1, 2, 3, 4, 5, 6}, 1};
    auto step = feed(c, pptp::build_sccrq(stranger));
    EXPECT_TRUE(step.close);
    EXPECT_TRUE(step.reply.empty());
  }
  {  // a second OCRQ: one call per connection
    auto c = connection(handler_);
    open_call(c, 9, 9);
    EXPECT_TRUE(feed(c, pptp::build_ocrq(token_, 10, 2)).close);
  }
  {  // a second SCCRQ
    auto c = connection(handler_);
    feed(c, pptp::build_sccrq(token_));
    EXPECT_TRUE(feed(c, pptp::build_sccrq(token_)).close);
  }
}

TEST_F(PptpServer, BoundsTheMessagesPerConnection) {
  auto c = connection(handler_);
  open_call(c, 9, 9);
  Bytes sli = pptp::build_set_link_info(1);
  bool closed = false;
  for (std::size_t i = 0; i < pptp::ServerConversation::kMaxMessages + 2 && !closed; ++i) closed = c.on_bytes(sli, kNow).close;
  EXPECT_TRUE(closed);
}

}  // namespace
}  // namespace vpncheck::reflector
