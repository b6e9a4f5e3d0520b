// Our raw IP datagrams read back by an independent implementation: libtins
// (Debian's libtins-dev) parses the IPv4 header, ESP and AH the probes put on
// the wire. Our codecs stay the source of the bytes (they need exact control:
// AH's ICV over the header with mutable fields zeroed, PPTP's enhanced GRE,
// tags in fixed places); libtins checks we wrote what we meant to.
#include <gtest/gtest.h>
#include <tins/ip.h>
#include <tins/ip_address.h>
#include <tins/ipsec.h>
#include <tins/rawpdu.h>

#include "probes/gre.h"
#include "probes/ip.h"
#include "probes/ipsec.h"
#include "probes/ipsec_esp.h"
#include "test_support.h"

namespace vpncheck::probes {
namespace {

const ProbeToken kToken{{0x11, 0x22, 0x33, 0x44, 0x55, 0x66}, 0x0102};

Bytes raw_probe(std::string_view piece) {
  for (const auto& v : ipsec::kModule.variants) {
    if (v.piece != piece) continue;
    ProbeContext context = default_context(ipsec::kModule, kToken);
    context.variant = v;
    context.local = IpPort{{192, 168, 1, 10}, 0};
    context.remote = IpPort{{203, 0, 113, 5}, 0};
    return ipsec::kModule.build_request(context, fixtures::counter_fill(3));
  }
  return {};
}

Tins::IP parse_with_libtins(const Bytes& datagram) {
  return Tins::IP(datagram.data(), static_cast<std::uint32_t>(datagram.size()));
}

TEST(LibtinsCrossCheck, EspProbeIsAWellFormedIpv4EspDatagram) {
  Bytes datagram = raw_probe(ipsec::kPieceEsp);
  ASSERT_FALSE(datagram.empty());
  Tins::IP ip = parse_with_libtins(datagram);
  EXPECT_EQ(ip.protocol(), 50);
  EXPECT_EQ(ip.src_addr(), Tins::IPv4Address("192.168.1.10"));
  EXPECT_EQ(ip.dst_addr(), Tins::IPv4Address("203.0.113.5"));
  EXPECT_EQ(ip.tot_len(), datagram.size());
  const auto* esp = ip.find_pdu<Tins::IPSecESP>();
  ASSERT_NE(esp, nullptr);
  auto ours = esp::parse_esp(ByteView(datagram).subspan(20));
  ASSERT_TRUE(ours);
  EXPECT_EQ(esp->spi(), ours->spi);
  EXPECT_EQ(esp->seq_number(), 1U);  // the first packet of an SA (RFC 4303)
}

TEST(LibtinsCrossCheck, AhProbeHasTheHeaderLibtinsExpects) {
  Bytes datagram = raw_probe(ipsec::kPieceAh);
  ASSERT_FALSE(datagram.empty());
  Tins::IP ip = parse_with_libtins(datagram);
  EXPECT_EQ(ip.protocol(), 51);
  EXPECT_EQ(ip.tot_len(), datagram.size());
  // The header checksum we wrote is the one libtins reads and ours verifies.
  EXPECT_EQ(ip::ipv4_checksum(ByteView(datagram).first(20)), 0);
  EXPECT_EQ(ip.checksum(), static_cast<std::uint16_t>(datagram[10] << 8 | datagram[11]));
  const auto* ah = ip.find_pdu<Tins::IPSecAH>();
  ASSERT_NE(ah, nullptr);
  auto ours = esp::parse_ah_ipv4_datagram(datagram);
  ASSERT_TRUE(ours);
  EXPECT_EQ(ah->spi(), ours->spi);
  EXPECT_EQ(ah->seq_number(), 1U);
  EXPECT_EQ(ah->next_header(), ours->next_header);
  EXPECT_EQ(ah->length(), 4);        // (24-byte AH with a 96-bit ICV) / 4 - 2
  EXPECT_EQ(ah->icv().size(), 12U);  // HMAC-SHA1-96
  EXPECT_TRUE(ours->icv_valid);
}

TEST(LibtinsCrossCheck, GreProbeWrappedInIpv4CarriesTheGreBytesUnchanged) {
  Bytes gre = gre::build_probe(kToken, 0x4242);
  Bytes datagram = ip::ipv4_datagram({192, 168, 1, 10}, {203, 0, 113, 5}, ip::kGre, gre, 7, 64);
  Tins::IP ip = parse_with_libtins(datagram);
  EXPECT_EQ(ip.protocol(), 47);
  EXPECT_EQ(ip.id(), 7);
  EXPECT_EQ(ip.ttl(), 64);
  const auto* raw = ip.find_pdu<Tins::RawPDU>();
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(Bytes(raw->payload().begin(), raw->payload().end()), gre);
}

}  // namespace
}  // namespace vpncheck::probes
