// The data phase's packets (ProtocolModule::data_phase): golden bytes of each
// protocol's data packet, malformed input refused, and a contract over every
// module that has one.
#include <gtest/gtest.h>

#include "probes/gre.h"
#include "probes/ip.h"
#include "probes/ipsec_esp.h"
#include "probes/l2tp.h"
#include "probes/openvpn.h"
#include "probes/pptp_module.h"
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

// ---- L2TP data messages

TEST(L2tpData, BuildsGoldenPacket) {
  const Bytes expected = hex(
      "0002"                                  //  0  T=0, no L/S/O/P, version 2
      "a593"                                  //  2  tunnel id: the reflector's for the token
      "b2f9"                                  //  4  session id: the reflector's for the token
      "ff030021"                              //  6  PPP address, control, protocol IPv4
      "45000032" "1e1f0000" "400148aa"        // 10  IPv4: length 50, id (random), TTL 64, ICMP, checksum
      "0a000002" "0a000001"                   // 22  10.0.0.2 -> 10.0.0.1
      "08006d68" "0405" "0001"                // 30  echo request, checksum, identifier (random), sequence 0 + 1
      "a1a2a3a4a5a60102"                      // 38  token: the first echo data
      "101112131415161718191a1b1c1d");        // 46  the rest of the echo data (random)
  EXPECT_EQ(l2tp::build_data(make_token(0x0102), 0, 60, counter_fill(0)), expected);
  auto parsed = l2tp::parse_data(expected);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->token, make_token(0x0102));
  EXPECT_EQ(parsed->sequence, 0U);
  EXPECT_EQ(l2tp::reflector_tunnel_id(make_token(0x0102)), 0xa593);
  EXPECT_EQ(l2tp::data_session_id(make_token(0x0102)), 0xb2f9);
}

TEST(L2tpData, SizesAreTheDefaultPppLink) {
  EXPECT_EQ(l2tp::kDataMinSize, 46U);
  EXPECT_EQ(l2tp::kDataSmallSize, 94U);        // a default ping: 84 bytes of IPv4
  EXPECT_EQ(l2tp::kDataFullSize + 28, 1538U);  // MTU 1500 inside
  EXPECT_EQ(l2tp::advice_mtu(1280).front(),
            "L2TP: mtu 1236 and mru 1236 in the pppd options of both ends (xl2tpd: the file its 'pppoptfile' "
            "names; the path MTU 1280 less 44 bytes of IPv4, UDP, L2TP and PPP headers)");
  EXPECT_TRUE(l2tp::build_data(make_token(1), 0, l2tp::kDataMinSize - 1, counter_fill(0)).empty());
  EXPECT_EQ(l2tp::build_data(make_token(1), 0, l2tp::kDataMinSize, counter_fill(0)).size(), 46U);
  // ICMP's sequence is 16 bits and counts from 1.
  EXPECT_TRUE(l2tp::parse_data(l2tp::build_data(make_token(1), 0xfffe, 64, counter_fill(0))));
  EXPECT_TRUE(l2tp::build_data(make_token(1), 0xffff, 64, counter_fill(0)).empty());
}

// The golden packet with its header rewritten as RFC 2661 §3.1 allows: the
// optional fields in front of the same PPP frame.
Bytes with_header(const Bytes& packet, std::uint16_t flags, const Bytes& middle_fields, const Bytes& after_ids) {
  Bytes out = hex("0000");
  out[0] = static_cast<std::uint8_t>(flags >> 8);
  out[1] = static_cast<std::uint8_t>(flags);
  out.insert(out.end(), middle_fields.begin(), middle_fields.end());
  out.insert(out.end(), packet.begin() + 2, packet.begin() + 6);  // tunnel and session ids
  out.insert(out.end(), after_ids.begin(), after_ids.end());
  out.insert(out.end(), packet.begin() + 6, packet.end());
  return out;
}

TEST(L2tpData, ReadsTheOptionalHeaderFields) {
  const Bytes good = l2tp::build_data(make_token(2), 7, 94, counter_fill(0));
  ASSERT_TRUE(l2tp::parse_data(good));
  Bytes length = hex("0000");
  length[1] = static_cast<std::uint8_t>(good.size() + 2);
  auto with_length = with_header(good, 0x4002, length, {});
  EXPECT_TRUE(l2tp::parse_data(with_length));  // xl2tpd's "length bit = yes"
  EXPECT_FALSE(l2tp::parse_data(with_byte(with_length, 3, static_cast<std::uint8_t>(with_length.size() + 1))));
  auto with_sequence = with_header(good, 0x0802, {}, hex("00050000"));  // Ns 5, Nr 0
  auto parsed = l2tp::parse_data(with_sequence);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->sequence, 7U);  // the data phase's own count, not Ns
  EXPECT_TRUE(l2tp::parse_data(with_header(good, 0x0202, {}, hex("0003aabbcc"))));  // 3 bytes of offset padding
  EXPECT_FALSE(l2tp::parse_data(with_header(good, 0x0202, {}, hex("0200aabbcc"))));  // padding past the end
  EXPECT_TRUE(l2tp::parse_data(with_header(good, 0x0102, {}, {})));  // P, priority
}

TEST(L2tpData, RefusesMalformed) {
  const auto token = make_token(3);
  const Bytes good = l2tp::build_data(token, 9, 94, counter_fill(0));
  ASSERT_TRUE(l2tp::parse_data(good));
  expect_truncations_refused(good, [](ByteView b) { return l2tp::parse_data(b); });
  Bytes longer = good;
  longer.push_back(0);  // the IPv4 total length no longer matches
  EXPECT_FALSE(l2tp::parse_data(longer));
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 0, 0x80)));  // T=1: a control message
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 1, 0x03)));  // L2TPv3
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 1, 0x12)));  // a reserved bit
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 2, static_cast<std::uint8_t>(good[2] ^ 1))));  // another tunnel
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 5, static_cast<std::uint8_t>(good[5] ^ 1))));  // another session
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 9, 0x57)));   // PPP protocol IPv6
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 8, 0xc0)));   // LCP (0xc021)
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 6, 0x00)));   // no address and control
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 19, 17)));    // UDP inside, not ICMP
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 16, 0x20)));  // a fragment (MF) inside
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 20, static_cast<std::uint8_t>(good[20] ^ 1))));  // IPv4 checksum
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 30, 0)));     // an echo reply
  EXPECT_FALSE(l2tp::parse_data(with_byte(good, 90, static_cast<std::uint8_t>(good[90] ^ 1))));  // ICMP checksum
  Bytes sequence_zero = good;  // ping sequences start at 1 (the checksum fixed up, as only the sequence is wrong)
  sequence_zero[37] = 0;
  const std::uint16_t sum = static_cast<std::uint16_t>((good[32] << 8 | good[33]) + 10);  // one's complement: +10
  sequence_zero[32] = static_cast<std::uint8_t>(sum >> 8);
  sequence_zero[33] = static_cast<std::uint8_t>(sum);
  ASSERT_EQ(ip::ipv4_checksum(ByteView(sequence_zero).subspan(30)), 0);
  EXPECT_FALSE(l2tp::parse_data(sequence_zero));
  // The control messages of the probe's own exchange are not data.
  EXPECT_FALSE(l2tp::parse_data(l2tp::build_sccrq(token, l2tp::client_tunnel_id(token))));
  EXPECT_FALSE(l2tp::parse_data(l2tp::build_zlb(l2tp::reflector_tunnel_id(token), 1, 1)));
  Bytes largest = l2tp::build_data(token, 9, kMaxUdpPayload, counter_fill(0));
  ASSERT_EQ(largest.size(), kMaxUdpPayload);
  EXPECT_TRUE(l2tp::parse_data(largest));
  EXPECT_TRUE(l2tp::build_data(token, 9, kMaxUdpPayload + 1, counter_fill(0)).empty());
}

// ---- PPTP: MPPE-encrypted PPP in enhanced GRE

TEST(PptpData, BuildsGoldenPacket) {
  const Bytes expected = hex(
      "3001880b"          //  0  K and S, version 1 | protocol PPP
      "00204321"          //  4  payload length 32 | the receiver's Call ID 0x4321
      "00000030"          //  8  GRE sequence: the data's 0x2f + 1 (the LCP probe was 0)
      "ff0300fd"          // 12  PPP: address, control, compressed datagram (MPPE)
      "902f"              // 16  MPPE: A (flushed) and D (encrypted), coherency count 0x02f
      "a1a2a3a4a5a60102"  // 18  token, first of the encrypted bytes
      "08090a0b0c0d0e0f"  // 26  the rest (random)
      "10111213141516171819");
  EXPECT_EQ(gre::build_data(make_token(0x0102), 0x2f, 44, 0x4321, counter_fill(0)), expected);
  auto parsed = gre::parse_data(expected);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->token, make_token(0x0102));
  EXPECT_EQ(parsed->sequence, 0x2fU);
  EXPECT_EQ(parsed->flow_key, 0x4321U);
}

TEST(PptpData, CoherencyCountWrapsAt4096WhileTheGreSequenceGoesOn) {
  auto packet = gre::build_data(make_token(7), 4096 + 5, 60, 9, counter_fill(0));
  ASSERT_EQ(packet.size(), 60U);
  EXPECT_EQ(packet[16], 0x90);
  EXPECT_EQ(packet[17], 0x05);
  auto parsed = gre::parse_data(packet);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->sequence, 4096U + 5);
}

TEST(PptpData, SizesAreATunnelOfMtu1400) {
  EXPECT_EQ(gre::kDataSmallSize, 104U);  // a default ping inside
  EXPECT_EQ(gre::kDataFullSize, 1420U);  // 1400 inside
  const auto* pptp = find_protocol("pptp");
  ASSERT_NE(pptp, nullptr);
  ASSERT_NE(pptp->data_phase, nullptr);
  const auto& d = *pptp->data_phase;
  EXPECT_EQ(d.full_payload(Transport::ip, false) + 20, 1440U);
  EXPECT_EQ(d.df, DontFragment::system_default);
  // It follows the GRE piece, and nothing on TCP.
  for (const auto& v : pptp->variants) EXPECT_EQ(d.follows(v), v.transport == Transport::ip) << describe_place(v);
  EXPECT_EQ(d.advice_mtu(1280),
            std::vector<std::string>{"PPTP: mtu 1236 and mru 1236 in the pppd options of both ends (Windows: the VPN "
                                     "connection's interface MTU; the path MTU 1280 less 44 bytes of IPv4, GRE, PPP "
                                     "and MPPE headers)"});
  EXPECT_TRUE(gre::build_data(make_token(1), 0, gre::kDataMinSize - 1, 1, counter_fill(0)).empty());
  EXPECT_EQ(gre::build_data(make_token(1), 0, gre::kDataMinSize, 1, counter_fill(0)).size(), 26U);
  EXPECT_TRUE(gre::build_data(make_token(1), 0xffffffffU, 100, 1, counter_fill(0)).empty());
}

TEST(PptpData, RefusesMalformedPackets) {
  const auto token = make_token(0x0203);
  const Bytes good = gre::build_data(token, 3, 64, 0x1111, counter_fill(0));
  ASSERT_TRUE(gre::parse_data(good));
  expect_truncations_refused(good, [](ByteView b) { return gre::parse_data(b).has_value(); });
  EXPECT_FALSE(gre::parse_data(with_byte(good, 0, 0x20)));   // no sequence number
  EXPECT_FALSE(gre::parse_data(with_byte(good, 1, 0x81)));   // an acknowledgment flag (the header is then short)
  EXPECT_FALSE(gre::parse_data(with_byte(good, 1, 0x00)));   // version 0: plain GRE
  EXPECT_FALSE(gre::parse_data(with_byte(good, 11, 0x00)));  // GRE sequence 0 is the LCP probe's
  EXPECT_FALSE(gre::parse_data(with_byte(good, 12, 0xfe)));  // not PPP's address
  EXPECT_FALSE(gre::parse_data(with_byte(good, 15, 0x21)));  // plain IPv4, not MPPE
  EXPECT_FALSE(gre::parse_data(with_byte(good, 16, 0xd0)));  // MPPE flag C (reset)
  EXPECT_FALSE(gre::parse_data(with_byte(good, 17, 0x04)));  // coherency count that is not its sequence's
  Bytes padded = good;
  padded.push_back(0);
  EXPECT_FALSE(gre::parse_data(padded));  // bytes after the payload
  // The handshake's GRE packets are not data, either way.
  EXPECT_FALSE(gre::parse_data(gre::build_probe(token, 0x1111)));
  EXPECT_FALSE(gre::parse_data(gre::build_reply(gre::build_probe(token, 0x1111), 0x2222)));
}

// ---- every module with a data phase

TEST(DataPhaseContract, EveryDataPhaseRoundTripsAtItsSizesAndClaimsNoHandshake) {
  std::size_t with_data = 0;
  for (const auto* m : all_protocols()) {
    if (m->data_phase == nullptr) continue;
    ++with_data;
    SCOPED_TRACE(std::string(m->id));
    const auto& d = *m->data_phase;
    // A protocol with no UDP place (PPTP: GRE only) has no UDP sizes and follows a raw piece.
    const bool udp_place = d.full_payload_v4 > 0;
    if (!udp_place) {
      EXPECT_EQ(d.full_payload_v6, 0U);
      EXPECT_FALSE(d.ip_piece.empty());
      EXPECT_TRUE(std::none_of(m->variants.begin(), m->variants.end(),
                               [](const ProbeVariant& v) { return v.transport == Transport::udp; }));
    }
    // Keyed data: what goes out carries the key, and the reflector has a way to key its echo.
    const std::uint32_t key = d.echo_flow_key != nullptr ? 0x4321 : 0;
    if (udp_place) {
      EXPECT_LT(d.small_payload, d.full_payload_v4);
      EXPECT_LT(d.small_payload, d.full_payload_v6);
      // Full-size packets of a DF sender fit one 1500-byte IP packet: larger
      // ones leave the host as fragments (without DF), which only a DF-clear
      // sender, as L2TP's PPP MTU 1500 makes it, sends.
      if (d.df == DontFragment::system_default) {
        EXPECT_LE(d.full_payload_v4 + 28, 1500U);
        EXPECT_LE(d.full_payload_v6 + 48, 1500U);
      }
      // A standard UDP variant of the piece it follows exists (the runner follows only those).
      EXPECT_TRUE(std::any_of(m->variants.begin(), m->variants.end(), [&](const ProbeVariant& v) {
        return v.transport == Transport::udp && v.standard && v.piece == d.piece;
      }));
    }
    for (std::size_t size : {d.small_payload, d.full_payload_v4, d.full_payload_v6}) {
      if (size == 0) continue;
      for (std::uint32_t seq : {0U, 1U, 47U}) {
        auto packet = d.build(make_token(11), seq, size, key, counter_fill(3));
        ASSERT_EQ(packet.size(), size);
        auto parsed = d.parse(packet);
        ASSERT_TRUE(parsed) << size << " " << seq;
        EXPECT_EQ(parsed->token, make_token(11));
        EXPECT_EQ(parsed->sequence, seq);
        EXPECT_EQ(parsed->flow_key, key);
        // A cheap token reader reads the same token (the reflector parses only what it names).
        if (d.token_of != nullptr) {
          auto token = d.token_of(packet);
          ASSERT_TRUE(token);
          EXPECT_EQ(*token, make_token(11));
        }
      }
    }
    // Over raw IP (DataPhase::ip_piece): a standard raw variant of that piece
    // exists, its full size fits one 1500-byte packet without a UDP header
    // (IPsec's fills it), and the same packets round-trip at it.
    if (!d.ip_piece.empty()) {
      EXPECT_TRUE(std::any_of(m->variants.begin(), m->variants.end(), [&](const ProbeVariant& v) {
        return v.transport == Transport::ip && v.standard && v.piece == d.ip_piece;
      }));
      EXPECT_LT(d.small_payload, d.full_ip_payload_v4);
      EXPECT_LE(d.full_ip_payload_v4 + 20, 1500U);
      EXPECT_LE(d.full_ip_payload_v6 + 40, 1500U);
      if (udp_place) {
        EXPECT_EQ(d.full_ip_payload_v4 + 20, 1500U);
        EXPECT_EQ(d.full_ip_payload_v6 + 40, 1500U);
      }
      for (std::size_t size : {d.full_ip_payload_v4, d.full_ip_payload_v6}) {
        auto packet = d.build(make_token(11), 2, size, key, counter_fill(3));
        ASSERT_EQ(packet.size(), size);
        ASSERT_TRUE(d.parse(packet));
      }
    } else {
      EXPECT_EQ(d.full_ip_payload_v4, 0U);
      EXPECT_EQ(d.full_ip_payload_v6, 0U);
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
  EXPECT_GE(with_data, 5U);
}

// Which handshakes a data phase follows, and its full size there: IPsec's
// follows NAT-T (ESP-in-UDP) and raw ESP, never AH, IKE or a TCP piece.
TEST(DataPhaseContract, IpsecFollowsNatTAndRawEspAtTheirOwnFullSizes) {
  const auto* ipsec = find_protocol("ipsec");
  ASSERT_NE(ipsec, nullptr);
  ASSERT_NE(ipsec->data_phase, nullptr);
  const auto& d = *ipsec->data_phase;
  std::vector<std::string> followed;
  for (const auto& v : ipsec->variants)
    if (d.follows(v)) followed.push_back(describe_place(v));
  EXPECT_EQ(followed, (std::vector<std::string>{"UDP 4500", "ESP (IP protocol 50)"}));
  EXPECT_EQ(d.full_payload(Transport::udp, false), esp::kDataFullSizeV4);
  EXPECT_EQ(d.full_payload(Transport::udp, true), esp::kDataFullSizeV6);
  EXPECT_EQ(d.full_payload(Transport::ip, false), 1480U);
  EXPECT_EQ(d.full_payload(Transport::ip, true), 1460U);
  // A data phase without a raw piece follows no raw variant, even one named "".
  const auto* wireguard = find_protocol("wireguard");
  ASSERT_NE(wireguard, nullptr);
  EXPECT_FALSE(wireguard->data_phase->follows(ProbeVariant{Transport::ip, ip::kEsp, true}));
  EXPECT_TRUE(wireguard->data_phase->follows(ProbeVariant{Transport::udp, 51820, true}));
  EXPECT_FALSE(wireguard->data_phase->follows(ProbeVariant{Transport::tcp, 443, false}));
}

}  // namespace
}  // namespace vpncheck::probes
