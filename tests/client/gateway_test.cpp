// The pure parts of the gateway query: the default route from
// /proc/net/route text and whole HTTP responses (plain and chunked).
#include <gtest/gtest.h>

#include "src/nat/gateway.h"

#include <cstring>

namespace vpncheck::nat {
namespace {

constexpr std::string_view kHeader =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

TEST(DefaultGateway, FromProcNetRoute) {
  // 192.168.1.1 printed as the in-memory value on a little-endian host.
  std::string text = std::string(kHeader) +
                     "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
                     "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
  auto gw = parse_default_gateway(text);
  ASSERT_TRUE(gw);
  std::uint32_t v = 0x0101A8C0;
  Ipv4 want{};
  std::memcpy(want.data(), &v, 4);
  EXPECT_EQ(*gw, want);
}

TEST(DefaultGateway, LowestMetricWinsAndOnlyRealDefaultRoutesCount) {
  std::string text = std::string(kHeader) +
                     "wlan0\t00000000\t0101000A\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
                     "eth0\t00000000\t0102000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                     "tun0\t00000000\t0103000A\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"   // no RTF_GATEWAY
                     "eth1\t00000000\t0104000A\t0002\t0\t0\t0\t00000000\t0\t0\t0\n";  // not up
  auto gw = parse_default_gateway(text);
  ASSERT_TRUE(gw);
  std::uint32_t v = 0x0102000A;
  Ipv4 want{};
  std::memcpy(want.data(), &v, 4);
  EXPECT_EQ(*gw, want);
}

TEST(DefaultGateway, NoneOrGarbage) {
  EXPECT_FALSE(parse_default_gateway(""));
  EXPECT_FALSE(parse_default_gateway(kHeader));
  EXPECT_FALSE(parse_default_gateway(std::string(kHeader) + "eth0\tzz\t0101A8C0\t0003\t0\t0\t0\t00000000\n"));
  EXPECT_FALSE(parse_default_gateway(std::string(kHeader) + "eth0\t00000000\t0101A8C0\n"));
}

TEST(HttpResponse, ContentLength) {
  auto r = parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\nhello tail");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"));
}

TEST(HttpResponse, ChunkedAndUntilClose) {
  auto r = parse_http_response("HTTP/1.1 500 Internal\r\ntransfer-encoding: chunked\r\n\r\n4\r\n<s:E\r\n3;x=1\r\nnv>\r\n0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "<s:Env>");
  EXPECT_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\nabc\r\n0\r\n\r\n"));
  EXPECT_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc\r\n"));
  r = parse_http_response("HTTP/1.0 404 Not Found\n\nnothing here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "nothing here");
}

TEST(HttpResponse, NotHttp) {
  EXPECT_FALSE(parse_http_response(""));
  EXPECT_FALSE(parse_http_response("SSH-2.0-OpenSSH\r\n\r\n"));
  EXPECT_FALSE(parse_http_response("HTTP/1.1 2x0 OK\r\n\r\n"));
  EXPECT_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nno end of headers"));
}

TEST(GatewayFacts, ExternalAddressPrefersNatPmpThenUpnp) {
  GatewayFacts f;
  EXPECT_FALSE(f.external_address());
  EXPECT_FALSE(f.any_answered());
  f.upnp = {true, Ipv4{198, 51, 100, 7}, ""};
  EXPECT_EQ(f.external_address(), (Ipv4{198, 51, 100, 7}));
  f.natpmp = {true, Ipv4{198, 51, 100, 8}, ""};
  EXPECT_EQ(f.external_address(), (Ipv4{198, 51, 100, 8}));
  EXPECT_TRUE(f.any_answered());
}

}  // namespace
}  // namespace vpncheck::nat
