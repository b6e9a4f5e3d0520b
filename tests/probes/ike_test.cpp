#include "probes/ike.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::cat;
using fixtures::counter_bytes;
using fixtures::counter_fill;
using fixtures::expect_truncations_refused;
using fixtures::hex;
using fixtures::make_token;
using fixtures::with_byte;

const ike::IpPort kLocal{{192, 168, 1, 10}, 500};
const ike::IpPort kRemote{{203, 0, 113, 5}, 500};
const ike::IpPort kObserved{{198, 51, 100, 7}, 40000};

ike::Spi spi_of(std::string_view h) {
  ike::Spi spi{};
  Bytes b = hex(h);
  std::copy(b.begin(), b.end(), spi.begin());
  return spi;
}

// ---- NAT detection ----------------------------------------------------------

// PROTOCOLS.md §4.2: 01..08 | 00x8 | 192.168.1.10 | 500.
TEST(IkeNatDetection, KnownVector) {
  auto h = ike::nat_detection_hash(spi_of("0102030405060708"), ike::Spi{}, {{192, 168, 1, 10}, 500});
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(to_hex(*h), "0411ab15380679f33945785b6a781d15051614a9");
}

TEST(IkeNatDetection, HashesIpv6AndRejectsOtherAddressSizes) {
  ike::IpPort v6{Bytes(16, 0x20), 4500};
  EXPECT_TRUE(ike::nat_detection_hash({}, {}, v6).has_value());
  for (std::size_t n : {0U, 3U, 5U, 15U, 17U})
    EXPECT_FALSE(ike::nat_detection_hash({}, {}, {Bytes(n, 1), 500}).has_value()) << n;
}

TEST(IkeNatDetection, PortAndAddressChangeTheHash) {
  auto base = ike::nat_detection_hash({}, {}, kLocal);
  ike::IpPort other_port = kLocal;
  other_port.port = 501;
  ike::IpPort other_ip = kLocal;
  other_ip.address[3] = 11;
  EXPECT_NE(base, ike::nat_detection_hash({}, {}, other_port));
  EXPECT_NE(base, ike::nat_detection_hash({}, {}, other_ip));
}

// ---- IKEv2 IKE_SA_INIT request -------------------------------------------------

// Hand-written from PROTOCOLS.md §4.2 / RFC 7296 §3; NAT-D hashes from Python's
// hashlib.sha1 over the token, eight zero bytes and the address/port.
Bytes golden_sa_init_request() {
  return cat({
      hex("a1a2a3a4a5a60102" "0000000000000000" "21202208" "00000000" "0000025c"),  // HDR, 604 B
      hex("220000d4"                                            // SA, next KE, 212
          "02000060" "0101000a"                                 // proposal 1: IKE, 10 transforms
          "0300000c" "0100000c" "800e0100"                      //   AES-CBC 256
          "0300000c" "0100000c" "800e0080"                      //   AES-CBC 128
          "03000008" "02000005" "03000008" "02000006" "03000008" "02000002"  // PRFs
          "03000008" "0300000c" "03000008" "0300000d" "03000008" "03000002"  // INTEGs
          "03000008" "0400000e" "00000008" "04000013"           //   MODP2048, ECP256
          "02000040" "02010006"                                 // proposal 2: 6 transforms
          "0300000c" "01000014" "800e0100" "0300000c" "01000014" "800e0080"  // AES-GCM-16
          "03000008" "02000005" "03000008" "02000006"
          "03000008" "0400000e" "00000008" "04000013"
          "00000030" "03010005"                                 // proposal 3 (last): 5 transforms
          "03000008" "01000003" "03000008" "02000002" "03000008" "03000002"
          "03000008" "0400000e" "00000008" "04000002"),
      hex("28000108" "000e0000"), counter_bytes(0, 256),        // KE, next Nonce: group 14
      hex("29000024"), counter_bytes(0, 32),                    // Ni
      hex("2900001c" "00004004" "fbd7eb467b3466d023857b54311b684847b96eeb"),  // NAT-D src
      hex("2900001c" "00004005" "2da1fee879bcdf64329b7e7944387db1da75d2e6"),  // NAT-D dst
      hex("00000008" "0000402e"),                               // FRAGMENTATION_SUPPORTED
  });
}

Bytes default_request() {
  return ike::build_sa_init_request(make_token(0x0102), kLocal, kRemote, counter_fill());
}

TEST(IkeV2Codec, BuildsGoldenSaInitRequest) {
  Bytes expected = golden_sa_init_request();
  ASSERT_EQ(expected.size(), ike::kSaInitRequestSize);
  EXPECT_EQ(default_request(), expected);
}

TEST(IkeV2Codec, RequestNeedsValidAddresses) {
  EXPECT_TRUE(ike::build_sa_init_request(make_token(1), {{1, 2, 3}, 500}, kRemote, counter_fill()).empty());
  EXPECT_TRUE(ike::build_sa_init_request(make_token(1), kLocal, {{}, 500}, counter_fill()).empty());
  ike::IpPort v6{Bytes(16, 0xfd), 500};
  EXPECT_EQ(ike::build_sa_init_request(make_token(1), v6, v6, counter_fill()).size(),
            ike::kSaInitRequestSize);
}

TEST(IkeV2Codec, ParsesRequest) {
  Bytes msg = default_request();
  auto m = ike::parse_sa_init(msg);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->header.spi_i, make_token(0x0102).encode());
  EXPECT_EQ(m->header.spi_r, ike::Spi{});
  EXPECT_EQ(m->header.flags, ike::kFlagInitiator);
  EXPECT_EQ(m->header.exchange, ike::kExchangeIkeSaInit);
  EXPECT_EQ(m->header.message_id, 0U);
  EXPECT_EQ(m->header.length, msg.size());
  EXPECT_FALSE(m->is_response());
  EXPECT_EQ(m->payload_types, (std::vector<std::uint8_t>{33, 34, 40, 41, 41, 41}));
  EXPECT_EQ(m->notify_types, (std::vector<std::uint16_t>{16388, 16389, 16430}));
  ASSERT_EQ(m->proposals.size(), 3U);
  EXPECT_EQ(m->proposals[0].transforms.size(), 10U);
  EXPECT_EQ(m->proposals[1].transforms.size(), 6U);
  EXPECT_EQ(m->proposals[2].transforms.size(), 5U);
  EXPECT_EQ(m->ke_group, ike::kDhGroup14);
  EXPECT_EQ(m->ke_data_size, 256U);
  EXPECT_EQ(m->nonce_size, 32U);
  ASSERT_EQ(m->nat_source_hashes.size(), 1U);
  EXPECT_EQ(m->nat_source_hashes[0], ike::nat_detection_hash(m->header.spi_i, {}, kLocal));
  EXPECT_EQ(m->nat_destination_hash, ike::nat_detection_hash(m->header.spi_i, {}, kRemote));
}

TEST(IkeV2Codec, RoundTripsEveryBoundaryIndex) {
  for (std::uint16_t index : fixtures::kProbeIndices) {
    Bytes msg = ike::build_sa_init_request(make_token(index), kLocal, kRemote, fixtures::seeded_fill(index));
    auto m = ike::parse_sa_init(msg);
    ASSERT_TRUE(m.has_value()) << index;
    EXPECT_EQ(ProbeToken::decode(m->header.spi_i), make_token(index));
  }
}

TEST(IkeV2Codec, ParseRejectsEveryTruncationAndExtension) {
  Bytes msg = default_request();
  expect_truncations_refused(msg, [&](ByteView v) { return ike::parse_sa_init(v).has_value(); });
  Bytes longer = msg;
  longer.push_back(0);
  EXPECT_FALSE(ike::parse_sa_init(longer).has_value());
}

// Offsets of the generic payload headers in the default request.
constexpr std::size_t kRequestPayloadOffsets[] = {28, 240, 504, 540, 568, 596};

TEST(IkeV2Codec, ParseRejectsCorruptedLengths) {
  Bytes msg = default_request();
  for (std::uint32_t bad : {0U, 603U, 605U, 0xffffffffU}) {
    Bytes wrong = msg;
    for (std::size_t i = 0; i < 4; ++i) wrong[24 + i] = static_cast<std::uint8_t>(bad >> (24 - 8 * i));
    EXPECT_FALSE(ike::parse_sa_init(wrong).has_value()) << "header length " << bad;
  }
  for (std::size_t off : kRequestPayloadOffsets) {
    std::uint16_t len = static_cast<std::uint16_t>((msg[off + 2] << 8) | msg[off + 3]);
    for (std::uint16_t bad : {std::uint16_t{0}, std::uint16_t{3}, static_cast<std::uint16_t>(len - 1),
                              static_cast<std::uint16_t>(len + 1), std::uint16_t{0xffff}}) {
      Bytes wrong = msg;
      wrong[off + 2] = static_cast<std::uint8_t>(bad >> 8);
      wrong[off + 3] = static_cast<std::uint8_t>(bad);
      EXPECT_FALSE(ike::parse_sa_init(wrong).has_value()) << "payload at " << off << " length " << bad;
    }
  }
  // Proposal and transform lengths inside the SA.
  for (std::size_t off : {32U, 40U, 52U, 136U, 200U, 208U}) {
    Bytes wrong = msg;
    wrong[off + 3] ^= 0x04;
    EXPECT_FALSE(ike::parse_sa_init(wrong).has_value()) << "substructure at " << off;
  }
}

TEST(IkeV2Codec, ParseRejectsBrokenChainAndHeaderFields) {
  Bytes msg = default_request();
  auto reject = [&](std::size_t offset, std::uint8_t value, const char* what) {
    EXPECT_FALSE(ike::parse_sa_init(with_byte(msg, offset, value)).has_value()) << what;
  };
  reject(596, 41, "last payload claims a successor");
  reject(568, 0, "chain ends early");
  reject(17, 0x10, "IKEv1 version");
  reject(17, 0x21, "minor version");
  reject(18, 35, "IKE_AUTH exchange");
  reject(19, 0x09, "unknown flag bit");
  reject(23, 1, "message id 1");
  reject(16, 46, "SK in IKE_SA_INIT");
  Bytes zero_spi = msg;
  std::fill_n(zero_spi.begin(), 8, std::uint8_t{0});
  EXPECT_FALSE(ike::parse_sa_init(zero_spi).has_value());
}

// ---- IKEv2 responder and client checks ----------------------------------------

Bytes golden_sa_init_reply() {
  return cat({
      hex("a1a2a3a4a5a60102" "8081828384858687" "21202220" "00000000" "000001b8"),  // 440 B
      hex("22000030" "0000002c" "01010004"            // SA: proposal 1, one transform per type
          "0300000c" "0100000c" "800e0100" "03000008" "02000005"
          "03000008" "0300000c" "00000008" "0400000e"),
      hex("28000108" "000e0000"), counter_bytes(0x88, 256),
      hex("29000024"), counter_bytes(0x88, 32),
      hex("2900001c" "00004004" "7d970c3d834100506a6cab7c6839f0636338a472"),  // hash(responder)
      hex("2900001c" "00004005" "4c5fc9c17de1ab30bbf99b0b2c51bcf90cc831e3"),  // hash(observed)
      hex("00000008" "0000402e"),
  });
}

Bytes default_reply(const Bytes& request) {
  auto m = ike::parse_sa_init(request);
  if (!m) return {};
  return ike::build_sa_init_reply(*m, kObserved, kRemote, counter_fill(0x80));
}

TEST(IkeV2Codec, BuildsGoldenSaInitReply) {
  Bytes reply = default_reply(default_request());
  EXPECT_EQ(reply, golden_sa_init_reply());
}

TEST(IkeV2Codec, ReplyIsNeverLargerThanRequest) {
  Bytes request = default_request();
  Bytes reply = default_reply(request);
  ASSERT_FALSE(reply.empty());
  EXPECT_LE(reply.size(), request.size());
  // A request whose SA offers just one transform per type (the smallest genuine
  // request) plus a small KE would need a larger reply: the builder refuses.
  auto m = ike::parse_sa_init(request);
  ASSERT_TRUE(m.has_value());
  m->header.length = static_cast<std::uint32_t>(reply.size() - 1);
  EXPECT_TRUE(ike::build_sa_init_reply(*m, kObserved, kRemote, counter_fill()).empty());
  m->header.length = static_cast<std::uint32_t>(reply.size());
  EXPECT_EQ(ike::build_sa_init_reply(*m, kObserved, kRemote, counter_fill(0x80)), reply);
}

TEST(IkeV2Codec, ReplyRefusesResponsesAndIncompleteRequests) {
  Bytes request = default_request();
  Bytes reply = default_reply(request);
  auto as_request = ike::parse_sa_init(reply);
  ASSERT_TRUE(as_request.has_value());
  EXPECT_TRUE(ike::build_sa_init_reply(*as_request, kObserved, kRemote, counter_fill()).empty());
  auto m = ike::parse_sa_init(request);
  ASSERT_TRUE(m.has_value());
  auto no_ke = *m;
  no_ke.ke_group.reset();
  EXPECT_TRUE(ike::build_sa_init_reply(no_ke, kObserved, kRemote, counter_fill()).empty());
  auto no_sa = *m;
  no_sa.proposals.clear();
  EXPECT_TRUE(ike::build_sa_init_reply(no_sa, kObserved, kRemote, counter_fill()).empty());
  EXPECT_TRUE(ike::build_sa_init_reply(*m, {{1, 2}, 1}, kRemote, counter_fill()).empty());
}

TEST(IkeV2Codec, ResponderSpiIsNeverZero) {
  Bytes request = default_request();
  auto m = ike::parse_sa_init(request);
  ASSERT_TRUE(m.has_value());
  Bytes reply = ike::build_sa_init_reply(*m, kObserved, kRemote, fixtures::constant_fill(0));
  auto r = ike::parse_sa_init(reply);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->header.spi_r, ike::Spi{});
  EXPECT_TRUE(ike::is_sa_init_response_to(reply, request));
}

TEST(IkeV2Codec, ClientRecognisesTheResponse) {
  Bytes request = default_request();
  Bytes reply = default_reply(request);
  EXPECT_TRUE(ike::is_sa_init_response_to(reply, request));
  EXPECT_FALSE(ike::is_sa_init_response_to(request, request));
  EXPECT_FALSE(ike::is_sa_init_response_to(reply, reply));
  Bytes other = ike::build_sa_init_request(make_token(0x0103), kLocal, kRemote, counter_fill());
  EXPECT_FALSE(ike::is_sa_init_response_to(reply, other));
  Bytes zero_spi_r = reply;
  std::fill_n(zero_spi_r.begin() + 8, 8, std::uint8_t{0});
  EXPECT_FALSE(ike::is_sa_init_response_to(zero_spi_r, request));
  expect_truncations_refused(reply, [&](ByteView v) { return ike::is_sa_init_response_to(v, request); });
}

TEST(IkeV2Codec, ClientDetectsNat) {
  Bytes request = default_request();
  // No NAT: the reflector saw the client's own address.
  auto direct = ike::parse_sa_init(
      ike::build_sa_init_reply(*ike::parse_sa_init(request), kLocal, kRemote, counter_fill(0x80)));
  ASSERT_TRUE(direct.has_value());
  auto check = ike::check_behind_nat(*direct, kLocal);
  ASSERT_TRUE(check.has_value());
  EXPECT_FALSE(check->nat);
  EXPECT_EQ(check->expected_hex, "cc4e2a7f5fbc4f62dad6b946eb6af0d7ec9155d6");  // Python hashlib
  EXPECT_EQ(check->received_hex, std::vector<std::string>{check->expected_hex});

  // Behind NAT: the reflector saw 198.51.100.7:40000.
  auto natted = ike::parse_sa_init(default_reply(request));
  ASSERT_TRUE(natted.has_value());
  check = ike::check_behind_nat(*natted, kLocal);
  ASSERT_TRUE(check.has_value());
  EXPECT_TRUE(check->nat);
  EXPECT_EQ(check->expected_hex, "cc4e2a7f5fbc4f62dad6b946eb6af0d7ec9155d6");
  EXPECT_EQ(check->received_hex,
            std::vector<std::string>{"4c5fc9c17de1ab30bbf99b0b2c51bcf90cc831e3"});

  // Only the port translated is NAT too.
  ike::IpPort port_only = kLocal;
  port_only.port = 1500;
  auto ported = ike::parse_sa_init(
      ike::build_sa_init_reply(*ike::parse_sa_init(request), port_only, kRemote, counter_fill(0x80)));
  EXPECT_TRUE(ike::check_behind_nat(*ported, kLocal)->nat);

  ike::SaInitMessage no_natd = *natted;
  no_natd.nat_destination_hash.reset();
  EXPECT_FALSE(ike::check_behind_nat(no_natd, kLocal).has_value());
}

TEST(IkeV2Codec, ResponderDetectsTranslatedSource) {
  auto m = ike::parse_sa_init(default_request());
  ASSERT_TRUE(m.has_value());
  auto same = ike::check_source_translated(*m, kLocal);
  ASSERT_TRUE(same.has_value());
  EXPECT_FALSE(same->nat);
  EXPECT_EQ(same->expected_hex, "fbd7eb467b3466d023857b54311b684847b96eeb");
  auto moved = ike::check_source_translated(*m, kObserved);
  ASSERT_TRUE(moved.has_value());
  EXPECT_TRUE(moved->nat);
  EXPECT_EQ(moved->expected_hex, "8f6c327af23e7d9fac700f9f2734820647c8fa3b");  // Python hashlib
  EXPECT_EQ(moved->received_hex, std::vector<std::string>{"fbd7eb467b3466d023857b54311b684847b96eeb"});
  // Several source hashes (multi-homed initiator): any match means no NAT.
  auto multi = *m;
  multi.nat_source_hashes.insert(multi.nat_source_hashes.begin(), ike::NatHash{});
  EXPECT_FALSE(ike::check_source_translated(multi, kLocal)->nat);
  multi.nat_source_hashes.clear();
  EXPECT_FALSE(ike::check_source_translated(multi, kLocal).has_value());
}

TEST(IkeV2Codec, ParseRejectsDuplicateDestinationHashAndBadNatdSize) {
  Bytes msg = default_request();
  Bytes dup = msg;
  dup[540 + 7] = 0x05;  // first NAT-D becomes a second DESTINATION_IP
  EXPECT_FALSE(ike::parse_sa_init(dup).has_value());
  Bytes ok_two_sources = msg;
  ok_two_sources[568 + 7] = 0x04;  // two SOURCE_IP, no DESTINATION_IP: allowed
  auto m = ike::parse_sa_init(ok_two_sources);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->nat_source_hashes.size(), 2U);
  EXPECT_FALSE(m->nat_destination_hash.has_value());
}

// ---- large IKE_AUTH -----------------------------------------------------------

TEST(IkeAuthCodec, BuildsGoldenMinimalMessageAndReply) {
  auto spi_r = spi_of("0102030405060708");
  Bytes msg = ike::build_ike_auth(make_token(0x0102), spi_r, counter_fill(), ike::kIkeAuthMinSize);
  EXPECT_EQ(msg, cat({hex("a1a2a3a4a5a60102" "0102030405060708" "2e202308" "00000001" "00000040"
                          "23000024"),  // SK, inner first payload IDi, 36
                      counter_bytes(0, 32)}));
  Bytes reply = ike::build_ike_auth_reply(msg, counter_fill(0x80));
  EXPECT_EQ(reply, cat({hex("a1a2a3a4a5a60102" "0102030405060708" "2e202320" "00000001" "00000040"
                            "24000024"),  // SK, inner first payload IDr
                        counter_bytes(0x80, 32)}));
  EXPECT_TRUE(ike::is_ike_auth_reply_to(reply, msg));
  EXPECT_FALSE(ike::is_ike_auth_reply_to(msg, msg));
  EXPECT_FALSE(ike::is_ike_auth_reply_to(reply, reply));
  EXPECT_TRUE(ike::build_ike_auth_reply(reply, counter_fill()).empty());
}

TEST(IkeAuthCodec, DefaultSizeIsFragmentedAndReplyMatches) {
  auto spi_r = spi_of("1111111111111111");
  Bytes msg = ike::build_ike_auth(make_token(9), spi_r, counter_fill());
  ASSERT_EQ(msg.size(), 2600U);
  auto m = ike::parse_ike_auth(msg);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->header.spi_i, make_token(9).encode());
  EXPECT_EQ(m->header.spi_r, spi_r);
  EXPECT_EQ(m->header.message_id, 1U);
  EXPECT_EQ(m->header.flags, ike::kFlagInitiator);
  EXPECT_EQ(m->sk_next_payload, ike::kPayloadIdi);
  EXPECT_EQ(m->sk_size, 2600U - 32U);
  Bytes reply = ike::build_ike_auth_reply(msg, counter_fill());
  EXPECT_EQ(reply.size(), msg.size());
  EXPECT_TRUE(ike::is_ike_auth_reply_to(reply, msg));
  Bytes other = ike::build_ike_auth(make_token(10), spi_r, counter_fill());
  EXPECT_FALSE(ike::is_ike_auth_reply_to(reply, other));
}

TEST(IkeAuthCodec, RejectsBadSizesSpisAndTruncation) {
  auto spi_r = spi_of("0102030405060708");
  EXPECT_TRUE(ike::build_ike_auth(make_token(1), ike::Spi{}, counter_fill()).empty());
  EXPECT_TRUE(ike::build_ike_auth(make_token(1), spi_r, counter_fill(), ike::kIkeAuthMinSize - 1).empty());
  EXPECT_TRUE(ike::build_ike_auth(make_token(1), spi_r, counter_fill(), ike::kIkeAuthMaxSize + 1).empty());
  EXPECT_EQ(ike::build_ike_auth(make_token(1), spi_r, counter_fill(), ike::kIkeAuthMaxSize).size(),
            ike::kIkeAuthMaxSize);
  Bytes msg = ike::build_ike_auth(make_token(1), spi_r, counter_fill(), 200);
  expect_truncations_refused(msg, [&](ByteView v) { return ike::parse_ike_auth(v).has_value(); });
  Bytes wrong = msg;
  wrong[31] ^= 1;  // SK length
  EXPECT_FALSE(ike::parse_ike_auth(wrong).has_value());
  wrong = msg;
  wrong[16] = 33;  // first payload not SK
  EXPECT_FALSE(ike::parse_ike_auth(wrong).has_value());
  wrong = msg;
  wrong[23] = 0;  // message id 0
  EXPECT_FALSE(ike::parse_ike_auth(wrong).has_value());
  // An IKE_SA_INIT is not an IKE_AUTH and vice versa.
  EXPECT_FALSE(ike::parse_ike_auth(default_request()).has_value());
  EXPECT_FALSE(ike::parse_sa_init(msg).has_value());
}

// ---- NAT-T on UDP 4500 --------------------------------------------------------

TEST(IkeNatT, MarkerAndClassifier) {
  Bytes ike_msg = ike::build_ike_auth(make_token(1), spi_of("0102030405060708"), counter_fill(), 64);
  Bytes on4500 = ike::add_non_esp_marker(ike_msg);
  ASSERT_EQ(on4500.size(), 68U);
  EXPECT_EQ(Bytes(on4500.begin(), on4500.begin() + 4), hex("00000000"));
  EXPECT_EQ(ike::classify_udp4500(on4500), ike::Udp4500Kind::ike);
  auto stripped = ike::strip_non_esp_marker(on4500);
  ASSERT_TRUE(stripped.has_value());
  EXPECT_TRUE(ike::parse_ike_auth(*stripped).has_value());

  EXPECT_EQ(ike::classify_udp4500(hex("ff")), ike::Udp4500Kind::keepalive);
  EXPECT_EQ(ike::classify_udp4500(hex("fe")), ike::Udp4500Kind::invalid);
  EXPECT_EQ(ike::classify_udp4500({}), ike::Udp4500Kind::invalid);
  EXPECT_EQ(ike::classify_udp4500(hex("c0ffee010000000101")), ike::Udp4500Kind::esp);  // 9 bytes
  EXPECT_EQ(ike::classify_udp4500(hex("c0ffee0100000001")), ike::Udp4500Kind::invalid);  // 8 bytes
  EXPECT_EQ(ike::classify_udp4500(Bytes(31, 0)), ike::Udp4500Kind::invalid);  // marker + short IKE
  EXPECT_EQ(ike::classify_udp4500(Bytes(32, 0)), ike::Udp4500Kind::ike);
  // IKE sent without the marker looks like ESP (SPIi != 0): the mistake NAT-T forbids.
  EXPECT_EQ(ike::classify_udp4500(ike_msg), ike::Udp4500Kind::esp);
  EXPECT_FALSE(ike::strip_non_esp_marker(ike_msg).has_value());
}

// ---- IKEv1 Main Mode ----------------------------------------------------------

Bytes golden_mm_sa() {
  return hex("0d000038" "00000001" "00000001"           // SA, next VID, 56 | DOI IPSEC | SIT_IDENTITY_ONLY
             "0000002c" "01010001"                      // proposal #1 ISAKMP, SPI 0, 1 transform
             "00000024" "01010000"                      // transform #1 KEY_IKE
             "80010007" "800e0100" "80020002" "80030001" "8004000e" "800b0001" "800c7080");
}

TEST(IkeV1Codec, BuildsGoldenMainMode1) {
  Bytes expected = cat({hex("a1a2a3a4a5a60102" "0000000000000000" "01100200" "00000000" "00000090"),
                        golden_mm_sa(),
                        hex("0d000014" "4a131c81070358455c5728f20e95452f"),   // MD5("RFC 3947")
                        hex("0d000014" "90cb80913ebb696e086381b5ec427b1f"),   // MD5(draft-02 + "\n")
                        hex("00000014" "afcad71368a1f1c96b8696fc77570100")}); // DPD, RFC 3706
  ASSERT_EQ(expected.size(), ike::kMainMode1Size);
  EXPECT_EQ(ike::build_main_mode_1(make_token(0x0102)), expected);
}

TEST(IkeV1Codec, ParsesMainMode1) {
  Bytes msg = ike::build_main_mode_1(make_token(0x0102));
  auto m = ike::parse_main_mode(msg);
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->is_request());
  EXPECT_EQ(ProbeToken::decode(m->header.spi_i), make_token(0x0102));
  EXPECT_EQ(m->payload_types, (std::vector<std::uint8_t>{1, 13, 13, 13}));
  ASSERT_EQ(m->vendor_ids.size(), 3U);
  EXPECT_EQ(m->vendor_ids[2], Bytes(ike::kVidDpd.begin(), ike::kVidDpd.end()));
  EXPECT_TRUE(m->nat_t_rfc3947);
  EXPECT_EQ(m->proposal_number, 1);
  ASSERT_EQ(m->transforms.size(), 1U);
  EXPECT_EQ(m->transforms[0].id, 1);
  EXPECT_EQ(m->transforms[0].attributes.size(), 28U);
}

TEST(IkeV1Codec, ParseRejectsTruncationAndCorruption) {
  Bytes msg = ike::build_main_mode_1(make_token(1));
  expect_truncations_refused(msg, [&](ByteView v) { return ike::parse_main_mode(v).has_value(); });
  Bytes longer = msg;
  longer.push_back(0);
  EXPECT_FALSE(ike::parse_main_mode(longer).has_value());
  // Length fields: header, SA, proposal, transform, each VID.
  for (std::size_t off : {24U + 3U, 28U + 3U, 40U + 3U, 48U + 3U, 84U + 3U, 104U + 3U, 124U + 3U}) {
    for (std::uint8_t delta : {std::uint8_t{1}, std::uint8_t{4}, std::uint8_t{0x80}}) {
      Bytes wrong = msg;
      wrong[off] ^= delta;
      EXPECT_FALSE(ike::parse_main_mode(wrong).has_value()) << off << " ^ " << int{delta};
    }
  }
  auto reject = [&](std::size_t offset, std::uint8_t value, const char* what) {
    EXPECT_FALSE(ike::parse_main_mode(with_byte(msg, offset, value)).has_value()) << what;
  };
  reject(17, 0x20, "IKEv2 version");
  reject(18, 4, "aggressive mode");
  reject(19, 1, "encrypted flag");
  reject(23, 1, "message id");
  reject(124, 13, "last VID claims a successor");
  reject(32 + 3, 2, "DOI 2");
  reject(47, 2, "transform count 2 with one transform");
  reject(16, 13, "no SA");
  // IKEv2 messages are not IKEv1 and vice versa.
  EXPECT_FALSE(ike::parse_main_mode(default_request()).has_value());
  EXPECT_FALSE(ike::parse_sa_init(msg).has_value());
}

TEST(IkeV1Codec, BuildsGoldenMainMode2) {
  Bytes request = ike::build_main_mode_1(make_token(0x0102));
  auto m = ike::parse_main_mode(request);
  ASSERT_TRUE(m.has_value());
  Bytes reply = ike::build_main_mode_2(*m, counter_fill(0x80));
  EXPECT_EQ(reply, cat({hex("a1a2a3a4a5a60102" "8081828384858687" "01100200" "00000000" "00000068"),
                        golden_mm_sa(),
                        hex("00000014" "4a131c81070358455c5728f20e95452f")}));
  EXPECT_LE(reply.size(), request.size());
  EXPECT_TRUE(ike::is_mm2_reply_to(reply, request));
  EXPECT_FALSE(ike::is_mm2_reply_to(request, request));
  EXPECT_FALSE(ike::is_mm2_reply_to(reply, reply));
  EXPECT_FALSE(ike::is_mm2_reply_to(reply, ike::build_main_mode_1(make_token(0x0103))));
  auto as_request = ike::parse_main_mode(reply);
  ASSERT_TRUE(as_request.has_value());
  EXPECT_FALSE(as_request->is_request());
  EXPECT_TRUE(ike::build_main_mode_2(*as_request, counter_fill()).empty());
  expect_truncations_refused(reply, [&](ByteView v) { return ike::is_mm2_reply_to(v, request); });
}

TEST(IkeV1Codec, Mm2ResponderSpiIsNeverZeroAndFitsSmallRequests) {
  Bytes request = ike::build_main_mode_1(make_token(1));
  auto m = ike::parse_main_mode(request);
  ASSERT_TRUE(m.has_value());
  Bytes reply = ike::build_main_mode_2(*m, fixtures::constant_fill(0));
  EXPECT_TRUE(ike::is_mm2_reply_to(reply, request));
  // Without VIDs the request is 84 bytes and the reply (no VID either) fits exactly.
  auto bare = *m;
  bare.nat_t_rfc3947 = false;
  bare.header.length = 84;
  EXPECT_EQ(ike::build_main_mode_2(bare, counter_fill()).size(), 84U);
  bare.header.length = 83;
  EXPECT_TRUE(ike::build_main_mode_2(bare, counter_fill()).empty());
}

// ---- IKE over TCP (RFC 8229) ----

TEST(IkeTcpFraming, FirstMessageIsPrefixSelfCountingLengthMarkerAndIke) {
  const auto& f = ike::kTcpFraming;
  const Bytes marked = ike::add_non_esp_marker(hex("0102030405"));
  // §4 "IKETCP", then §3 a length of 2 + 4 + 5 = 11 that counts itself.
  const Bytes first = frame_first(f, marked);
  EXPECT_EQ(first, hex("494b45544350" "000b" "00000000" "0102030405"));
  EXPECT_EQ(f.frame(marked), hex("000b" "00000000" "0102030405")) << "later messages and answers: no prefix";
  EXPECT_EQ(f.message_length(hex("000b")), MessageLength::of(11));
  EXPECT_EQ(first_message_length(f, first), MessageLength::of(17));
  auto inner = unframe(f, first, true);
  ASSERT_TRUE(inner.has_value());
  EXPECT_EQ(Bytes(inner->begin(), inner->end()), marked);
}

TEST(IkeTcpFraming, MalformedAndPartialFrames) {
  const auto& f = ike::kTcpFraming;
  EXPECT_EQ(f.message_length(hex("")), MessageLength::more());
  EXPECT_EQ(f.message_length(hex("00")), MessageLength::more());
  EXPECT_EQ(f.message_length(hex("0000")), MessageLength::bad());
  EXPECT_EQ(f.message_length(hex("0002")), MessageLength::bad()) << "a length that covers only itself";
  EXPECT_EQ(first_message_length(f, hex("494b4554")), MessageLength::more()) << "prefix torn";
  EXPECT_EQ(first_message_length(f, hex("494b45544350")), MessageLength::more()) << "length not yet here";
  EXPECT_EQ(first_message_length(f, hex("494b455443500001")), MessageLength::bad());
  EXPECT_EQ(first_message_length(f, hex("494b45544351000b")), MessageLength::bad()) << "not the prefix";
  EXPECT_EQ(first_message_length(f, hex("000b00000000")), MessageLength::bad()) << "no prefix at all";
  const Bytes first = frame_first(f, ike::add_non_esp_marker(hex("0102030405")));
  for (std::size_t n = 0; n < first.size(); ++n)
    EXPECT_FALSE(unframe(f, ByteView(first).first(n), true).has_value()) << "torn at " << n;
}

TEST(IkeTcpFraming, SniffsTheStreamPrefix) {
  const auto& f = ike::kTcpFraming;
  EXPECT_EQ(f.sniff(as_bytes("IKETCP")), Sniff::mine);
  EXPECT_EQ(f.sniff(frame_first(f, ike::add_non_esp_marker(hex("0102030405")))), Sniff::mine);
  for (std::string_view torn : {"", "I", "IK", "IKE", "IKET", "IKETC"})
    EXPECT_EQ(f.sniff(as_bytes(torn)), Sniff::need_more) << torn;
  EXPECT_EQ(f.sniff(as_bytes("IKETCQ")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(as_bytes("iketcp")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(hex("002a38")), Sniff::not_mine) << "OpenVPN";
  EXPECT_EQ(f.sniff(hex("160301")), Sniff::not_mine) << "TLS";
  EXPECT_EQ(f.sniff(hex("000b00000000")), Sniff::not_mine) << "a frame without the prefix";
}

}  // namespace
}  // namespace vpncheck::probes
