#include "probes/sstp.h"

#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::counter_bytes;
using fixtures::counter_fill;
using fixtures::hex;
using fixtures::make_token;
using fixtures::with_byte;

Bytes text(std::string_view s) { return {s.begin(), s.end()}; }

// [MS-SSTP] §2.2.9, every field fixed: version 1.0, C=1, length 14, type 1,
// one attribute: Encapsulated Protocol ID (1), length 6, PPP (1).
const Bytes kCallConnectRequest = hex("10" "01" "000e" "0001" "0001" "00" "01" "0006" "0001");

// §2.2.10 with §2.2.8's Crypto Binding Request: SHA-256 offered, nonce 00..1f.
const Bytes kCallConnectAck = fixtures::cat({hex("10" "01" "0030" "0002" "0001" "00" "04" "0028" "000000" "02"),
                                             counter_bytes(0, 32)});

// counter_fill(0) gives 00..0f; the token a1..a6|0102 takes bytes 0-5 and
// 10-11; byte 6 gets version 4, byte 8 variant 10.
constexpr std::string_view kGoldenGuid = "{A1A2A3A4-A5A6-4607-8809-01020C0D0E0F}";
constexpr std::string_view kGoldenRequest =
    "SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\n"
    "Host: 192.0.2.1\r\n"
    "Content-Length: 18446744073709551615\r\n"
    "SSTPCORRELATIONID: {A1A2A3A4-A5A6-4607-8809-01020C0D0E0F}\r\n"
    "\r\n";

TEST(SstpCodec, CorrelationGuidCarriesTheTokenAndStaysAVersion4Guid) {
  auto guid = token_guid(make_token(0x0102), counter_fill());
  EXPECT_EQ(format_guid(guid), kGoldenGuid);
  EXPECT_EQ(guid[6] >> 4, 4);          // RFC 9562 §5.4 version
  EXPECT_EQ(guid[8] & 0xc0, 0x80);     // variant 10
  EXPECT_EQ(token_of_guid(guid), make_token(0x0102));
  for (std::uint16_t index : fixtures::kProbeIndices) {
    auto g = token_guid(make_token(index), fixtures::seeded_fill(index));
    EXPECT_EQ(token_of_guid(g), make_token(index)) << index;
    EXPECT_EQ(parse_guid(format_guid(g)), g) << index;
  }
}

TEST(SstpCodec, ParsesGuidsInEitherCaseAndRefusesMalformedOnes) {
  auto upper = parse_guid(kGoldenGuid);
  auto lower = parse_guid("{a1a2a3a4-a5a6-4607-8809-01020c0d0e0f}");
  ASSERT_TRUE(upper && lower);
  EXPECT_EQ(*upper, *lower);
  for (std::string_view bad : {"A1A2A3A4-A5A6-4607-8809-01020C0D0E0F",     // no braces
                               "{A1A2A3A4-A5A6-4607-8809-01020C0D0E0}",    // short
                               "{A1A2A3A4-A5A6-4607-8809-01020C0D0E0F0}",  // long
                               "{A1A2A3A4+A5A6-4607-8809-01020C0D0E0F}",   // wrong separator
                               "{A1A2A3A4-A5A6-4607-8809-01020C0D0E0G}",   // not hex
                               "{A1A2A3A4A-5A6-4607-8809-01020C0D0E0F}", ""})
    EXPECT_FALSE(parse_guid(bad)) << bad;
}

TEST(SstpCodec, BuildsTheGoldenHttpRequest) {
  auto guid = token_guid(make_token(0x0102), counter_fill());
  EXPECT_EQ(sstp::build_http_request("192.0.2.1", guid), text(kGoldenRequest));
}

TEST(SstpCodec, ParsesTheGoldenHttpRequest) {
  auto parsed = sstp::parse_http_request(text(kGoldenRequest));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->host, "192.0.2.1");
  EXPECT_EQ(token_of_guid(parsed->correlation), make_token(0x0102));
}

// sstp-server (sstpd/sstp.py) and Windows take header names in any case and any order.
TEST(SstpCodec, ParsesARequestWithOtherFieldOrderCaseAndExtraFields) {
  auto parsed = sstp::parse_http_request(
      text("SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\n"
           "SSTPCORRELATIONID: {A1A2A3A4-A5A6-4607-8809-01020C0D0E0F}\r\n"
           "content-length:18446744073709551615\r\n"
           "SSTPVERSION: 1.0\r\n"
           "host: vpn.example.net\r\n\r\n"));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->host, "vpn.example.net");
  EXPECT_EQ(token_of_guid(parsed->correlation), make_token(0x0102));
}

TEST(SstpCodec, RefusesMalformedHttpRequests) {
  const std::string good(kGoldenRequest);
  auto replaced = [&](std::string_view from, std::string_view to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return text(s);
  };
  EXPECT_FALSE(sstp::parse_http_request(replaced("SSTP_DUPLEX_POST", "POST")));
  EXPECT_FALSE(sstp::parse_http_request(replaced("HTTP/1.1", "HTTP/1.0")));
  EXPECT_FALSE(sstp::parse_http_request(replaced("CD75}/ ", "CD75} ")));
  EXPECT_FALSE(sstp::parse_http_request(replaced("18446744073709551615", "0")));
  EXPECT_FALSE(sstp::parse_http_request(replaced("Host: 192.0.2.1\r\n", "")));
  EXPECT_FALSE(sstp::parse_http_request(replaced("Host: 192.0.2.1", "Host: ")));
  EXPECT_FALSE(sstp::parse_http_request(replaced("{A1A2A3A4-", "{X1A2A3A4-")));
  EXPECT_FALSE(sstp::parse_http_request(replaced("SSTPCORRELATIONID: ", "SSTPCORRELATIONID : ")));
  EXPECT_FALSE(sstp::parse_http_request(replaced("Host: 192.0.2.1\r\n", "Host: 192.0.2.1\r\nHost: 192.0.2.2\r\n")));
  EXPECT_FALSE(sstp::parse_http_request(replaced("Host: 192.0.2.1\r\n", "Host: 192.0.2.1\n")));
  // Bytes after the blank line are not part of this head.
  EXPECT_FALSE(sstp::parse_http_request(text(good + "x")));
  fixtures::expect_truncations_refused(text(good), [](ByteView b) { return sstp::parse_http_request(b); });
  EXPECT_FALSE(sstp::parse_http_request(text(std::string(sstp::kMaxHttpHead + 1, 'A'))));
}

TEST(SstpCodec, BuildsTheAnswerWindowsGivesAndRecognisesAnswers) {
  EXPECT_EQ(sstp::build_http_response(),
            text("HTTP/1.1 200\r\nContent-Length: 18446744073709551615\r\nServer: Microsoft-HTTPAPI/2.0\r\n\r\n"));
  EXPECT_TRUE(sstp::is_http_response_ok(sstp::build_http_response()));
  // sstp-server (sstpd/sstp.py) sends a reason phrase and its own Server.
  EXPECT_TRUE(sstp::is_http_response_ok(
      text("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\nServer: SSTP-Server/0.6\r\n\r\n")));
  EXPECT_TRUE(sstp::is_http_response_ok(text("HTTP/1.1 200\r\n\r\n")));
}

TEST(SstpCodec, RefusesAnswersThatAreNotAnSstpOk) {
  for (std::string_view bad : {
           "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
           "HTTP/1.1 2000\r\n\r\n",
           "HTTP/1.0 200 OK\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",  // an ordinary web server's page
           "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n",  // head not finished
           "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\nContent-Length: 1\r\n\r\n",
           "",
       })
    EXPECT_FALSE(sstp::is_http_response_ok(text(bad))) << bad;
  fixtures::expect_truncations_refused(sstp::build_http_response(),
                                       [](ByteView b) { return sstp::is_http_response_ok(b); });
}

TEST(SstpCodec, FindsTheEndOfAnHttpHeadInAStream) {
  auto stream = text(std::string(kGoldenRequest) + "\x10\x01");
  auto head = sstp::http_head_length(stream);
  EXPECT_EQ(head.status, sstp::HeadLength::Status::complete);
  EXPECT_EQ(head.length, kGoldenRequest.size());
  EXPECT_EQ(sstp::http_head_length(text(kGoldenRequest.substr(0, 40))).status,
            sstp::HeadLength::Status::need_more);
  EXPECT_EQ(sstp::http_head_length(text(std::string(sstp::kMaxHttpHead, 'A'))).status,
            sstp::HeadLength::Status::invalid);
}

TEST(SstpCodec, ReadsThe12BitPacketLengthAndIgnoresTheReservedBits) {
  EXPECT_EQ(sstp::packet_length(kCallConnectRequest).length, 14U);
  // R bits set (§2.2.1: ignored on receipt): still 14.
  auto with_r = with_byte(kCallConnectRequest, 2, 0xf0);
  EXPECT_EQ(sstp::packet_length(with_r).status, sstp::HeadLength::Status::complete);
  EXPECT_EQ(sstp::packet_length(with_r).length, 14U);
  EXPECT_TRUE(sstp::is_call_connect_request(with_r));
  EXPECT_EQ(sstp::packet_length(hex("1001")).status, sstp::HeadLength::Status::need_more);
  EXPECT_EQ(sstp::packet_length(hex("20010004")).status, sstp::HeadLength::Status::invalid);  // version 2.0
  EXPECT_EQ(sstp::packet_length(hex("10010003")).status, sstp::HeadLength::Status::invalid);  // shorter than its header
}

TEST(SstpCodec, BuildsTheCallConnectRequestOfTheSpec) {
  EXPECT_EQ(sstp::build_call_connect_request(), kCallConnectRequest);
  EXPECT_EQ(kCallConnectRequest.size(), sstp::kCallConnectRequestSize);
  EXPECT_TRUE(sstp::is_call_connect_request(kCallConnectRequest));
}

TEST(SstpCodec, RefusesMalformedCallConnectRequests) {
  fixtures::expect_truncations_refused(kCallConnectRequest, sstp::is_call_connect_request);
  EXPECT_FALSE(sstp::is_call_connect_request(with_byte(kCallConnectRequest, 0, 0x11)));  // version 1.1
  EXPECT_FALSE(sstp::is_call_connect_request(with_byte(kCallConnectRequest, 1, 0x00)));  // a data packet
  EXPECT_FALSE(sstp::is_call_connect_request(with_byte(kCallConnectRequest, 3, 0x0f)));  // length past the end
  EXPECT_FALSE(sstp::is_call_connect_request(with_byte(kCallConnectRequest, 5, 0x02)));  // an ack
  EXPECT_FALSE(sstp::is_call_connect_request(with_byte(kCallConnectRequest, 7, 0x00)));  // no attribute announced
  EXPECT_FALSE(sstp::is_call_connect_request(with_byte(kCallConnectRequest, 7, 0x02)));  // two announced, one there
  EXPECT_FALSE(sstp::is_call_connect_request(with_byte(kCallConnectRequest, 9, 0x02)));  // status info attribute
  EXPECT_FALSE(sstp::is_call_connect_request(with_byte(kCallConnectRequest, 11, 0x03)));  // attribute shorter than its header
  EXPECT_FALSE(sstp::is_call_connect_request(with_byte(kCallConnectRequest, 13, 0x02)));  // not PPP
  Bytes longer = kCallConnectRequest;
  longer.push_back(0);
  EXPECT_FALSE(sstp::is_call_connect_request(longer));
}

TEST(SstpCodec, BuildsAndParsesTheCallConnectAck) {
  std::array<std::uint8_t, sstp::kNonceSize> nonce{};
  counter_fill()(nonce);
  EXPECT_EQ(sstp::build_call_connect_ack(sstp::kHashSha256, nonce), kCallConnectAck);
  EXPECT_EQ(kCallConnectAck.size(), sstp::kCallConnectAckSize);
  auto parsed = sstp::parse_call_connect_ack(kCallConnectAck);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->hash_bitmask, sstp::kHashSha256);
  EXPECT_EQ(parsed->nonce, nonce);
  auto both = sstp::parse_call_connect_ack(with_byte(kCallConnectAck, 15, sstp::kHashSha1 | sstp::kHashSha256));
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(both->hash_bitmask, 3);
}

TEST(SstpCodec, RefusesMalformedCallConnectAcks) {
  fixtures::expect_truncations_refused(kCallConnectAck, [](ByteView b) { return sstp::parse_call_connect_ack(b); });
  auto refused = [](const Bytes& b) { return !sstp::parse_call_connect_ack(b).has_value(); };
  EXPECT_TRUE(refused(with_byte(kCallConnectAck, 5, 0x03)));   // a NAK
  EXPECT_TRUE(refused(with_byte(kCallConnectAck, 9, 0x03)));   // crypto binding, not its request
  EXPECT_TRUE(refused(with_byte(kCallConnectAck, 11, 0x27)));  // attribute one byte short
  EXPECT_TRUE(refused(with_byte(kCallConnectAck, 15, 0x00)));  // offers no hash protocol
  EXPECT_TRUE(refused(with_byte(kCallConnectAck, 15, 0x04)));  // offers only an unknown one
  EXPECT_TRUE(refused(kCallConnectRequest));
}

TEST(SstpCodec, ParsesControlPacketsWithSeveralAttributes) {
  // A Call Connect NAK (type 3) with two Status Info attributes of 12 bytes each.
  const Bytes nak = hex("10" "01" "0020" "0003" "0002"
                        "00" "02" "000c" "000000" "01" "00000004"  // value not supported, about attribute 1
                        "00" "02" "000c" "000000" "01" "00000004");
  auto parsed = sstp::parse_control(nak);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->message_type, sstp::kMsgCallConnectNak);
  ASSERT_EQ(parsed->attributes.size(), 2U);
  EXPECT_EQ(parsed->attributes[1].id, sstp::kAttribStatusInfo);
  EXPECT_EQ(parsed->attributes[1].value.size(), 8U);
  EXPECT_FALSE(sstp::parse_control(with_byte(nak, 7, 3)));     // a third announced, none there
  EXPECT_FALSE(sstp::parse_control(with_byte(nak, 11, 0x0d))); // first attribute overlaps the second
}


// ---- The module: its framing, probe, answers and exchange ----

const ProbeVariant& sstp_variant() { return sstp::kModule.variants[0]; }

ProbeContext sstp_context(std::uint16_t index = 0x0102) {
  ProbeContext context = default_context(sstp::kModule, make_token(index));
  context.remote = IpPort{{192, 0, 2, 1}, 443};
  return context;
}

TEST(SstpModule, IsOneTlsWrappedVariantOnTcp443WithItsFraming) {
  ASSERT_EQ(sstp::kModule.variants.size(), 1U);
  const auto& v = sstp_variant();
  EXPECT_EQ(v.transport, Transport::tcp);
  EXPECT_EQ(v.port, 443);
  EXPECT_TRUE(v.standard);
  EXPECT_TRUE(v.tls);
  EXPECT_EQ(v.framing, &sstp::kTcpFraming);
  EXPECT_EQ(sstp::kTcpFraming.messages_per_stream, 2U);  // the HTTP request, then the Call Connect Request
}

TEST(SstpFraming, CutsHttpHeadsAtTheBlankLineAndPacketsByTheirLength) {
  const auto& f = sstp::kTcpFraming;
  const Bytes request = text(kGoldenRequest);
  for (std::size_t n = 0; n < request.size(); ++n)
    EXPECT_EQ(f.message_length(ByteView(request).first(n)), MessageLength::more()) << n;
  EXPECT_EQ(f.message_length(request), MessageLength::of(request.size()));
  // What follows the head (the first SSTP packet) is not part of it.
  const Bytes both = fixtures::cat({request, kCallConnectRequest});
  EXPECT_EQ(f.message_length(both), MessageLength::of(request.size()));
  // The answer's head too.
  EXPECT_EQ(f.message_length(sstp::build_http_response()), MessageLength::of(sstp::build_http_response().size()));
  // SSTP packets by the 12-bit length of §2.2.1.
  for (std::size_t n = 0; n < 4; ++n)
    EXPECT_EQ(f.message_length(ByteView(kCallConnectRequest).first(n)), MessageLength::more()) << n;
  EXPECT_EQ(f.message_length(ByteView(kCallConnectRequest).first(4)), MessageLength::of(14));
  EXPECT_EQ(f.message_length(kCallConnectAck), MessageLength::of(48));
  // Framing adds nothing: each message delimits itself.
  EXPECT_EQ(f.frame(kCallConnectRequest), kCallConnectRequest);
  EXPECT_EQ(unframe(f, kCallConnectAck).value_or(ByteView{}).size(), 48U);
}

TEST(SstpFraming, RefusesWhatCannotBeAnSstpStream) {
  const auto& f = sstp::kTcpFraming;
  EXPECT_EQ(f.message_length(hex("00")), MessageLength::bad());        // neither text nor version 1.0
  EXPECT_EQ(f.message_length(hex("160301")), MessageLength::bad());    // a TLS record: not inside TLS
  EXPECT_EQ(f.message_length(hex("11010010")), MessageLength::bad());  // SSTP version 1.1 does not exist
  EXPECT_EQ(f.message_length(hex("10010002")), MessageLength::bad());  // shorter than its own header
  // A head that never ends within the bound.
  EXPECT_EQ(f.message_length(text(std::string(sstp::kMaxHttpHead, 'A'))), MessageLength::bad());
}

TEST(SstpFraming, ClaimsAStreamByItsMethodOnly) {
  const auto& f = sstp::kTcpFraming;
  EXPECT_EQ(f.sniff(text(kGoldenRequest)), Sniff::mine);
  EXPECT_EQ(f.sniff(text("SSTP_DUPLEX_POST ")), Sniff::mine);
  EXPECT_EQ(f.sniff({}), Sniff::need_more);
  EXPECT_EQ(f.sniff(text("SSTP_DUP")), Sniff::need_more);
  EXPECT_EQ(f.sniff(text("SSTP_DUPLEX_POSTX")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(text("POST /v1/sessions HTTP/1.1\r\n")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(text("GET / HTTP/1.1\r\n")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(hex("1603010200")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(hex("002a38")), Sniff::not_mine);  // OpenVPN's length-prefixed reset
}

TEST(SstpModule, BuildsTheGoldenRequestForTheReflectorsAddress) {
  EXPECT_EQ(sstp::kModule.build_request(sstp_context(), counter_fill()), text(kGoldenRequest));
  // An IPv6 literal goes into Host in brackets (RFC 3986 §3.2.2).
  ProbeContext v6 = sstp_context();
  v6.remote = IpPort{hex("20010db8000000000000000000000001"), 443};
  auto parsed = sstp::parse_http_request(sstp::kModule.build_request(v6, counter_fill()));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->host, "[2001:db8::1]");
}

TEST(SstpModule, TheRequestOpensAFlowTheCallConnectRequestBelongsTo) {
  const auto& m = sstp::kModule;
  ArrivalContext arrival = default_arrival({}, Transport::tcp);
  auto parsed = m.parse_request(text(kGoldenRequest), arrival);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->token, make_token(0x0102));
  EXPECT_TRUE(parsed->opens_flow);
  EXPECT_EQ(parsed->fields.at("message"), "SSTP_DUPLEX_POST");
  EXPECT_EQ(parsed->fields.at("correlation_id"), kGoldenGuid);
  // The Call Connect Request has no free byte: without the stream's token it is nobody's.
  EXPECT_FALSE(m.parse_request(kCallConnectRequest, arrival).has_value());
  arrival.flow_token = make_token(0x0304);
  auto follow_up = m.parse_request(kCallConnectRequest, arrival);
  ASSERT_TRUE(follow_up.has_value());
  EXPECT_EQ(follow_up->token, make_token(0x0304));
  EXPECT_FALSE(follow_up->opens_flow);
  EXPECT_EQ(follow_up->fields.at("message"), "CALL_CONNECT_REQUEST");
  // Only on a stream: SSTP has no datagram form.
  ArrivalContext udp = default_arrival({}, Transport::udp);
  udp.flow_token = make_token(0x0304);
  EXPECT_FALSE(m.parse_request(kCallConnectRequest, udp).has_value());
  // Malformed follow-ups are nobody's either.
  EXPECT_FALSE(m.parse_request(with_byte(kCallConnectRequest, 13, 0x02), arrival).has_value());
  EXPECT_FALSE(m.parse_request(ByteView(kCallConnectRequest).first(13), arrival).has_value());
}

TEST(SstpModule, AnswersAsAnSstpServer) {
  const auto& m = sstp::kModule;
  ArrivalContext arrival = default_arrival({}, Transport::tcp);
  auto parsed = m.parse_request(text(kGoldenRequest), arrival);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(m.build_reply(text(kGoldenRequest), *parsed, arrival, counter_fill()), sstp::build_http_response());
  arrival.flow_token = make_token(0x0102);
  auto follow_up = m.parse_request(kCallConnectRequest, arrival);
  ASSERT_TRUE(follow_up.has_value());
  EXPECT_EQ(m.build_reply(kCallConnectRequest, *follow_up, arrival, counter_fill()), kCallConnectAck);
}

TEST(SstpModule, ChecksEachAnswerAgainstTheMessageItAnswers) {
  const auto& m = sstp::kModule;
  const Bytes request = text(kGoldenRequest);
  EXPECT_TRUE(m.is_reply_to(sstp::build_http_response(), request));
  EXPECT_FALSE(m.is_reply_to(kCallConnectAck, request));
  EXPECT_FALSE(m.is_reply_to(text("HTTP/1.1 403 Forbidden\r\n\r\n"), request));
  EXPECT_TRUE(m.is_reply_to(kCallConnectAck, kCallConnectRequest));
  EXPECT_FALSE(m.is_reply_to(sstp::build_http_response(), kCallConnectRequest));
  // A Call Connect Nak (§2.2.11) is an answer, but not the one a working path gives.
  EXPECT_FALSE(m.is_reply_to(with_byte(kCallConnectAck, 5, 0x03), kCallConnectRequest));
  // Something that is no SSTP request is answered by nothing.
  EXPECT_FALSE(m.is_reply_to(sstp::build_http_response(), text("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
}

TEST(SstpModule, TheExchangeIsTheRequestThenTheCallConnectRequest) {
  const auto& m = sstp::kModule;
  ASSERT_NE(m.next_request, nullptr);
  const ProbeContext context = sstp_context();
  const Bytes request = text(kGoldenRequest);
  auto second = m.next_request(context, 0, request, sstp::build_http_response(), counter_fill());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, kCallConnectRequest);
  EXPECT_FALSE(m.next_request(context, 1, kCallConnectRequest, kCallConnectAck, counter_fill()).has_value());
  ASSERT_NE(m.inspect_reply, nullptr);
  EXPECT_EQ(m.inspect_reply(kCallConnectAck, kCallConnectRequest, context).at("crypto_binding_hashes"), "sha256");
}

TEST(SstpModule, AdviceNamesThePortAndWhenSstpIsTheWayOut) {
  const std::string advice = sstp::kModule.advice_use_variant(sstp_variant());
  EXPECT_NE(advice.find("TCP 443"), std::string::npos) << advice;
  EXPECT_NE(advice.find("only HTTPS gets out"), std::string::npos) << advice;
  EXPECT_NE(std::string(sstp::kModule.advice_signature_blocked).find("only HTTPS gets out"), std::string::npos);
}

}  // namespace
}  // namespace vpncheck::probes
