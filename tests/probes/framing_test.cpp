// The generic stream-framing helpers on byte vectors: frame_first (preamble),
// first_message_length and unframe over partial, malformed and trailing
// input, the two 16-bit length conventions, and claim_stream's order of
// answers. Each protocol's own framing is tested with its module.
#include "probes/framing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "probes/openvpn.h"
#include "probes/registry.h"
#include "probes/sstp.h"
#include "probes/tls.h"
#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::hex;

// A framing like RFC 8229's: a 3-byte preamble "PRE", then a 16-bit length
// that counts itself. Its sniff says mine once the preamble is whole.
constexpr std::array<std::uint8_t, 3> kPre{'P', 'R', 'E'};
Sniff sniff_pre(ByteView head) {
  for (std::size_t i = 0; i < kPre.size(); ++i) {
    if (i >= head.size()) return Sniff::need_more;
    if (head[i] != kPre[i]) return Sniff::not_mine;
  }
  return Sniff::mine;
}
const StreamFraming kWithPreamble{
    .name = "test-preamble",
    .preamble = kPre,
    .header_size = 2,
    .frame = [](ByteView m) { return frame_be16(m, true); },
    .message_length = [](ByteView h) { return be16_message_length(h, true); },
    .sniff = sniff_pre,
};
// One that never decides (needs more bytes, whatever it sees).
const StreamFraming kUndecided{
    .name = "test-undecided",
    .preamble = {},
    .header_size = 2,
    .frame = [](ByteView m) { return frame_be16(m, false); },
    .message_length = [](ByteView h) { return be16_message_length(h, false); },
    .sniff = [](ByteView) { return Sniff::need_more; },
};
// One that claims everything.
const StreamFraming kGreedy{
    .name = "test-greedy",
    .preamble = {},
    .header_size = 2,
    .frame = [](ByteView m) { return frame_be16(m, false); },
    .message_length = [](ByteView h) { return be16_message_length(h, false); },
    .sniff = [](ByteView) { return Sniff::mine; },
};

TEST(Be16Framing, TheTwoLengthConventions) {
  const Bytes message = hex("aabbcc");
  EXPECT_EQ(frame_be16(message, false), hex("0003aabbcc"));  // the message only (OpenVPN)
  EXPECT_EQ(frame_be16(message, true), hex("0005aabbcc"));   // counts itself (RFC 8229 §3)
  EXPECT_EQ(be16_message_length(hex("0003"), false), MessageLength::of(5));
  EXPECT_EQ(be16_message_length(hex("0005"), true), MessageLength::of(5));
  EXPECT_TRUE(frame_be16({}, false).empty());
  EXPECT_TRUE(frame_be16({}, true).empty());
  EXPECT_EQ(frame_be16(Bytes(0xfffd, 1), true).size(), 0xffffU);
  EXPECT_TRUE(frame_be16(Bytes(0xfffe, 1), true).empty()) << "the length would not fit";
  EXPECT_EQ(frame_be16(Bytes(0xffff, 1), false).size(), 0x10001U);
}

TEST(Be16Framing, MalformedAndPartialLengths) {
  EXPECT_EQ(be16_message_length({}, true), MessageLength::more());
  EXPECT_EQ(be16_message_length(hex("00"), true), MessageLength::more());
  // A length that counts itself must leave room for a message.
  EXPECT_EQ(be16_message_length(hex("0000"), true), MessageLength::bad());
  EXPECT_EQ(be16_message_length(hex("0001"), true), MessageLength::bad());
  EXPECT_EQ(be16_message_length(hex("0002"), true), MessageLength::bad());
  EXPECT_EQ(be16_message_length(hex("0003"), true), MessageLength::of(3));
  EXPECT_EQ(be16_message_length(hex("0000"), false), MessageLength::bad());
  EXPECT_EQ(be16_message_length(hex("0001"), false), MessageLength::of(3));
  EXPECT_EQ(be16_message_length(hex("ffff99"), true), MessageLength::of(0xffff)) << "bytes after the field are not read";
}

TEST(StreamFraming, TheFirstMessageCarriesThePreamble) {
  const Bytes message = hex("0102030405");
  const Bytes first = frame_first(kWithPreamble, message);
  EXPECT_EQ(first, hex("505245" "0007" "0102030405"));
  EXPECT_EQ(kWithPreamble.frame(message), hex("0007" "0102030405")) << "later messages and answers: no preamble";
  EXPECT_TRUE(frame_first(kWithPreamble, {}).empty()) << "nothing to frame, no preamble alone";
}

TEST(StreamFraming, FirstMessageLengthOverEveryPrefix) {
  const Bytes first = frame_first(kWithPreamble, hex("0102030405"));
  for (std::size_t n = 0; n < first.size(); ++n)
    EXPECT_EQ(first_message_length(kWithPreamble, ByteView(first).first(n)).status,
              n < 5 ? MessageLength::Status::need_more : MessageLength::Status::length)
        << n;
  EXPECT_EQ(first_message_length(kWithPreamble, first), MessageLength::of(10));
  Bytes trailing = first;
  trailing.push_back(0x99);
  EXPECT_EQ(first_message_length(kWithPreamble, trailing), MessageLength::of(10)) << "the next message's bytes";
}

TEST(StreamFraming, FirstMessageLengthRejectsAWrongOrTornPreamble) {
  EXPECT_EQ(first_message_length(kWithPreamble, hex("50")), MessageLength::more());
  EXPECT_EQ(first_message_length(kWithPreamble, hex("51")), MessageLength::bad());
  EXPECT_EQ(first_message_length(kWithPreamble, hex("5052")), MessageLength::more());
  EXPECT_EQ(first_message_length(kWithPreamble, hex("505246")), MessageLength::bad());
  EXPECT_EQ(first_message_length(kWithPreamble, hex("0007" "0102030405")), MessageLength::bad())
      << "a first message without its preamble";
  EXPECT_EQ(first_message_length(kWithPreamble, hex("505245" "0002")), MessageLength::bad()) << "an empty frame";
}

TEST(StreamFraming, UnframeTakesExactlyOneWholeFrame) {
  const Bytes message = hex("0102030405");
  const Bytes first = frame_first(kWithPreamble, message);
  auto inner = unframe(kWithPreamble, first, true);
  ASSERT_TRUE(inner.has_value());
  EXPECT_EQ(Bytes(inner->begin(), inner->end()), message);
  EXPECT_FALSE(unframe(kWithPreamble, first, false).has_value()) << "the preamble is no length";
  const Bytes later_frame = kWithPreamble.frame(message);
  auto later = unframe(kWithPreamble, later_frame);
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(Bytes(later->begin(), later->end()), message);
  for (std::size_t n = 0; n < first.size(); ++n)
    EXPECT_FALSE(unframe(kWithPreamble, ByteView(first).first(n), true).has_value()) << "torn at " << n;
  Bytes trailing = first;
  trailing.push_back(0);
  EXPECT_FALSE(unframe(kWithPreamble, trailing, true).has_value()) << "bytes past the frame";
  Bytes short_length = first;
  short_length[4] = 0x06;  // claims one byte less than follows
  EXPECT_FALSE(unframe(kWithPreamble, short_length, true).has_value());
  Bytes wrong_preamble = first;
  wrong_preamble[0] = 'X';
  EXPECT_FALSE(unframe(kWithPreamble, wrong_preamble, true).has_value());
}

TEST(StreamFraming, ClaimStreamFirstMineThenNeedMoreThenNotMine) {
  const std::array<const StreamFraming*, 1> only_pre{&kWithPreamble};
  EXPECT_EQ(claim_stream(hex("505245"), only_pre).sniff, Sniff::mine);
  EXPECT_EQ(claim_stream(hex("505245"), only_pre).framing, &kWithPreamble);
  EXPECT_EQ(claim_stream(hex("5052"), only_pre).sniff, Sniff::need_more);
  EXPECT_EQ(claim_stream(hex("5052"), only_pre).framing, nullptr);
  EXPECT_EQ(claim_stream(hex("1603"), only_pre).sniff, Sniff::not_mine);
  EXPECT_EQ(claim_stream({}, std::span<const StreamFraming* const>{}).sniff, Sniff::not_mine);

  // One undecided framing keeps the stream open until another claims it.
  const std::array<const StreamFraming*, 2> with_undecided{&kUndecided, &kWithPreamble};
  EXPECT_EQ(claim_stream(hex("1603"), with_undecided).sniff, Sniff::need_more);
  EXPECT_EQ(claim_stream(hex("505245"), with_undecided).framing, &kWithPreamble);
  // The first that says mine wins: the registry's order decides between claimants.
  const std::array<const StreamFraming*, 2> greedy_last{&kWithPreamble, &kGreedy};
  EXPECT_EQ(claim_stream(hex("505245"), greedy_last).framing, &kWithPreamble);
  EXPECT_EQ(claim_stream(hex("1603"), greedy_last).framing, &kGreedy);
}

// The registry's framings never claim what the TCP listener serves first
// (control probes, HTTP) nor a TLS ClientHello, and none claims another's
// first message (TcpVariantsRoundTripThroughTheirFraming checks each own).
TEST(StreamFraming, RegistryFramingsLeaveGenericStreamsAlone) {
  const auto framings = stream_framings();
  ASSERT_FALSE(framings.empty());
  for (std::string_view text : {"GET / HTTP/1.1\r\n", "POST /v1/sessions HTTP/1.1\r\n"})
    EXPECT_EQ(claim_stream(as_bytes(text), framings).sniff, Sniff::not_mine) << text;
  EXPECT_EQ(claim_stream(hex("160301020001"), framings).sniff, Sniff::not_mine) << "TLS ClientHello";
  EXPECT_EQ(claim_stream(hex("ff00"), framings).sniff, Sniff::not_mine) << "control marker";
  for (const auto* f : framings) EXPECT_FALSE(f->name.empty());
}

// TCP 443 carries the control API (plain HTTP), OpenVPN (a 2-byte length)
// and SSTP (TLS): the listener tells TLS apart by its record header first,
// then asks plain streams of the plain framings and what is inside TLS of
// the TLS-wrapped ones. Each opening is claimed by exactly its own.
TEST(StreamFraming, Port443StreamsAreToldApart) {
  const Bytes client_hello = hex("16030102000100");
  const std::string_view http_text = "POST /v1/sessions HTTP/1.1\r\n";
  const Bytes http(http_text.begin(), http_text.end());
  const Bytes openvpn_reset = frame_first(openvpn::kTcpFraming, openvpn::kModule.build_request(
                                                                    default_context(openvpn::kModule, fixtures::make_token(1)),
                                                                    fixtures::counter_fill()));
  const Bytes sstp_request = sstp::kModule.build_request(default_context(sstp::kModule, fixtures::make_token(1)),
                                                         fixtures::counter_fill());
  EXPECT_TRUE(tls::looks_like_tls(client_hello));
  for (const Bytes& other : {http, openvpn_reset, sstp_request})
    EXPECT_FALSE(tls::looks_like_tls(other));

  const auto plain = stream_framings(false);
  const auto inside = stream_framings(true);
  EXPECT_EQ(std::find(plain.begin(), plain.end(), &sstp::kTcpFraming), plain.end());
  EXPECT_EQ(std::vector<const StreamFraming*>(inside.begin(), inside.end()),
            std::vector<const StreamFraming*>{&sstp::kTcpFraming});
  EXPECT_EQ(claim_stream(openvpn_reset, plain).framing, &openvpn::kTcpFraming);
  EXPECT_EQ(claim_stream(openvpn_reset, inside).sniff, Sniff::not_mine);
  EXPECT_EQ(claim_stream(sstp_request, inside).framing, &sstp::kTcpFraming);
  // SSTP in the clear is not answered: only inside the TLS the reflector terminated.
  EXPECT_EQ(claim_stream(sstp_request, plain).sniff, Sniff::not_mine);
  for (const Bytes& generic : {client_hello, http}) {
    EXPECT_EQ(claim_stream(generic, plain).sniff, Sniff::not_mine);
    EXPECT_EQ(claim_stream(generic, inside).sniff, Sniff::not_mine);
  }
}

}  // namespace
}  // namespace vpncheck::probes
