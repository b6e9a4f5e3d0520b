// The data phase's packets (ProtocolModule::data_phase): golden bytes of each
// protocol's data packet, malformed input refused, and a contract over every
// module that has one.
#include <gtest/gtest.h>

#include "probes/ipsec_esp.h"
#include "probes/openvpn.h"
#include "probes/registry.h"
#include "probes/wireguard.h"
#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::counter_bytes;
using fixtures::counter_fill;
using fixtures::expect_truncations_refused;
using fixtures::hex;
using fixtures::make_token;
using fixtures::with_byte;

// A packet one byte past the largest UDP payload is no datagram, and no
// builder makes one (the largest one they do make parses).
template <typename Build, typename Parse>
void expect_oversize_refused(Build build, Parse parse) {
  Bytes largest = build(make_token(3), 9, kMaxUdpPayload, counter_fill(0));
  ASSERT_EQ(largest.size(), kMaxUdpPayload);
  EXPECT_TRUE(parse(largest));
  largest.push_back(0);
  EXPECT_FALSE(parse(largest));
  EXPECT_TRUE(build(make_token(3), 9, kMaxUdpPayload + 1, counter_fill(0)).empty());
}

// ---- WireGuard transport data

TEST(WireguardData, BuildsGoldenPacket) {
  const Bytes expected = hex(
      "04000000"                          //  0  type 4 (LE u32)
      "04050607"                          //  4  receiver index (random)
      "0403020100000000"                  //  8  counter = sequence 0x01020304 (LE u64)
      "a1a2a3a4a5a60102"                  // 16  token, in the first encrypted bytes
      "18191a1b1c1d1e1f2021222324252627");  // 24  the rest (random), the tag's 16 bytes among it
  EXPECT_EQ(wireguard::build_data(make_token(0x0102), 0x01020304, 40, counter_fill(0)), expected);
  auto parsed = wireguard::parse_data(expected);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->token, make_token(0x0102));
  EXPECT_EQ(parsed->sequence, 0x01020304U);
}

TEST(WireguardData, SizesAreTheDefaultTunnelsPackets) {
  EXPECT_EQ(wireguard::kDataFullSize, 1452U);  // MTU 1420 + header 16 + tag 16
  EXPECT_EQ(wireguard::kDataFullSize + 28, 1480U);
  EXPECT_EQ(wireguard::advice_mtu(1280),
            "WireGuard: MTU = 1220 (in [Interface]: the path MTU 1280 less 60 bytes of IPv4, UDP and WireGuard "
            "headers)");
  EXPECT_TRUE(wireguard::build_data(make_token(1), 0, wireguard::kDataMinSize - 1, counter_fill(0)).empty());
  EXPECT_EQ(wireguard::build_data(make_token(1), 0, wireguard::kDataMinSize, counter_fill(0)).size(), 32U);
}

TEST(WireguardData, RefusesMalformed) {
  const Bytes good = wireguard::build_data(make_token(3), 9, 64, counter_fill(0));
  ASSERT_TRUE(wireguard::parse_data(good));
  expect_truncations_refused(ByteView(good).first(wireguard::kDataMinSize),
                             [](ByteView b) { return wireguard::parse_data(b); });
  EXPECT_FALSE(wireguard::parse_data(with_byte(good, 0, 1)));   // a handshake initiation's type
  EXPECT_FALSE(wireguard::parse_data(with_byte(good, 0, 3)));   // a cookie reply's
  EXPECT_FALSE(wireguard::parse_data(with_byte(good, 2, 1)));   // reserved bytes must be zero
  EXPECT_FALSE(wireguard::parse_data(with_byte(good, 12, 1)));  // a counter above 2^32: not ours
  // The handshake initiation is not data.
  EXPECT_FALSE(wireguard::parse_data(wireguard::build_initiation(make_token(3), {}, counter_fill(0))));
  expect_oversize_refused(wireguard::build_data, wireguard::parse_data);
}

// ---- OpenVPN P_DATA_V2

TEST(OpenVpnData, BuildsGoldenPacket) {
  const Bytes expected = hex(
      "48"                                 //  0  P_DATA_V2 (9) << 3 | key id 0
      "010203"                             //  1  peer id (random)
      "01020305"                           //  4  packet id = sequence + 1
      "a1a2a3a4a5a60102"                   //  8  token, in the first tag bytes
      "101112131415161718191a1b1c1d1e1f");  // 16  the rest of the tag, then ciphertext (random)
  EXPECT_EQ(openvpn::build_data(make_token(0x0102), 0x01020304, 32, counter_fill(0)), expected);
  auto parsed = openvpn::parse_data(expected);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->token, make_token(0x0102));
  EXPECT_EQ(parsed->sequence, 0x01020304U);
}

TEST(OpenVpnData, NeverTheUndefinedPeerId) {
  const auto all_ff = [](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), std::uint8_t{0xff}); };
  auto packet = openvpn::build_data(make_token(1), 0, 40, all_ff);
  ASSERT_EQ(packet.size(), 40U);
  EXPECT_FALSE(packet[1] == 0xff && packet[2] == 0xff && packet[3] == 0xff);
  EXPECT_TRUE(openvpn::parse_data(packet));
}

TEST(OpenVpnData, SizesFollowMssfix) {
  EXPECT_EQ(openvpn::kDataFullSizeV4 + 28, 1492U);
  EXPECT_EQ(openvpn::kDataFullSizeV6 + 48, 1492U);
  EXPECT_EQ(openvpn::advice_mtu(1280), "OpenVPN: tun-mtu 1180 and mssfix 1140 (both ends)");
  EXPECT_TRUE(openvpn::build_data(make_token(1), 0, openvpn::kDataMinSize - 1, counter_fill(0)).empty());
  EXPECT_TRUE(openvpn::build_data(make_token(1), 0xffffffffu, 64, counter_fill(0)).empty());  // packet id would wrap
}

TEST(OpenVpnData, RefusesMalformed) {
  const Bytes good = openvpn::build_data(make_token(3), 9, 64, counter_fill(0));
  ASSERT_TRUE(openvpn::parse_data(good));
  expect_truncations_refused(ByteView(good).first(openvpn::kDataMinSize),
                             [](ByteView b) { return openvpn::parse_data(b); });
  EXPECT_FALSE(openvpn::parse_data(with_byte(good, 0, openvpn::opcode_byte(openvpn::kOpHardResetClientV2))));
  EXPECT_FALSE(openvpn::parse_data(with_byte(good, 0, openvpn::opcode_byte(6))));  // P_DATA_V1
  Bytes id_zero = good;
  std::fill(id_zero.begin() + 4, id_zero.begin() + 8, std::uint8_t{0});  // packet ids start at 1
  EXPECT_FALSE(openvpn::parse_data(id_zero));
  // A key id other than 0 is still P_DATA_V2.
  EXPECT_TRUE(openvpn::parse_data(with_byte(good, 0, openvpn::opcode_byte(openvpn::kOpDataV2, 2))));
  EXPECT_FALSE(openvpn::parse_data(openvpn::build_client_reset(make_token(3), {}, counter_fill(0))));
  expect_oversize_refused(openvpn::build_data, openvpn::parse_data);
}

// ---- ESP-in-UDP

TEST(EspData, BuildsGoldenPacket) {
  const auto token = make_token(0x0102);
  ByteWriter spi;
  spi.be32(esp::request_spi(token, false));
  const Bytes expected = fixtures::cat({Bytes(spi.view().begin(), spi.view().end()),
                                        hex("00000007"),  // ESP sequence = data sequence 5 + 2
                                        counter_bytes(8, 8),  // IV (random)
                                        hex("a1a2a3a4a5a60102"), counter_bytes(24, 8)});
  EXPECT_EQ(esp::build_esp_data(token, 5, 32, counter_fill(0)), expected);
  auto parsed = esp::parse_esp_data(expected);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->token, token);
  EXPECT_EQ(parsed->sequence, 5U);
}

TEST(EspData, RefusesMalformedAndTheProbesOwnPacket) {
  const auto token = make_token(4);
  const Bytes good = esp::build_esp_data(token, 0, 64, counter_fill(0));
  ASSERT_TRUE(esp::parse_esp_data(good));
  expect_truncations_refused(ByteView(good).first(esp::kEspMinSize),
                             [](ByteView b) { return esp::parse_esp_data(b); });
  // The NAT-T probe's own ESP packet (sequence 1) is the handshake's, not data.
  EXPECT_FALSE(esp::parse_esp_data(esp::build_esp(token, counter_fill(0), 64)));
  // A reply SPI, or one a middlebox rewrote: not the client's data.
  EXPECT_FALSE(esp::parse_esp_data(with_byte(good, 0, static_cast<std::uint8_t>(good[0] ^ 0x80))));
  EXPECT_FALSE(esp::parse_esp_data(esp::build_esp_reply(esp::build_esp(token, counter_fill(0), 64), counter_fill(0))));
  EXPECT_TRUE(esp::build_esp_data(token, 0xffffffffu - 1, 64, counter_fill(0)).empty());  // would wrap
  // SPIs below 0x100 are reserved (RFC 4303 §2.1): no ESP of ours.
  Bytes reserved_spi = good;
  std::fill(reserved_spi.begin(), reserved_spi.begin() + 3, std::uint8_t{0});
  EXPECT_FALSE(esp::parse_esp_data(reserved_spi));
  expect_oversize_refused(esp::build_esp_data, esp::parse_esp_data);
}

// ---- every module with a data phase

TEST(DataPhaseContract, EveryDataPhaseRoundTripsAtItsSizesAndClaimsNoHandshake) {
  std::size_t with_data = 0;
  for (const auto* m : all_protocols()) {
    if (m->data_phase == nullptr) continue;
    ++with_data;
    SCOPED_TRACE(std::string(m->id));
    const auto& d = *m->data_phase;
    EXPECT_LT(d.small_payload, d.full_payload_v4);
    EXPECT_LT(d.small_payload, d.full_payload_v6);
    // Full-size packets fit one 1500-byte IPv4 packet and the validated-answer bound.
    EXPECT_LE(d.full_payload_v4 + 28, 1500U);
    EXPECT_LE(d.full_payload_v6 + 48, 1500U);
    // A standard UDP variant of the piece it follows exists (the runner follows only those).
    EXPECT_TRUE(std::any_of(m->variants.begin(), m->variants.end(), [&](const ProbeVariant& v) {
      return v.transport == Transport::udp && v.standard && v.piece == d.piece;
    }));
    for (std::size_t size : {d.small_payload, d.full_payload_v4, d.full_payload_v6}) {
      for (std::uint32_t seq : {0U, 1U, 47U}) {
        auto packet = d.build(make_token(11), seq, size, counter_fill(3));
        ASSERT_EQ(packet.size(), size);
        auto parsed = d.parse(packet);
        ASSERT_TRUE(parsed) << size << " " << seq;
        EXPECT_EQ(parsed->token, make_token(11));
        EXPECT_EQ(parsed->sequence, seq);
      }
    }
    EXPECT_FALSE(d.advice_mtu(1280).empty());
    EXPECT_FALSE(d.full_size_words.empty());
    // No module's handshake request is taken for data (the demux tries data first).
    for (const auto* other : all_protocols())
      for (const auto& v : other->variants) {
        if (v.transport != Transport::udp) continue;
        auto context = default_context(*other, make_token(5));
        context.variant = v;
        auto request = other->build_request(context, counter_fill(0));
        EXPECT_FALSE(d.parse(request)) << other->id << " " << v.piece;
      }
  }
  EXPECT_GE(with_data, 3U);
}

}  // namespace
}  // namespace vpncheck::probes
