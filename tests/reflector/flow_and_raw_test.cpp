// Flow memory (attribution of untagged follow-ups), the raw receiver's IPv4
// header reader, and the demux rule that raw datagrams only reach raw parsers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include "probes/wireguard.h"
#include "reflector/arrival.h"
#include "reflector/raw_listener.h"
#include "reflector/server.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

using probes::Bytes;
using probes::Transport;

const probes::ProbeToken kToken{{1, 2, 3, 4, 5, 6}, 9};
const probes::Endpoint kSource{"198.51.100.7", 4500};

TEST(FlowMemory, FindsTheTokenOfTheSameFlowOnly) {
  FlowMemory flows;
  flows.remember(Transport::udp, 4500, kSource, kToken, 1000);
  EXPECT_EQ(flows.find(Transport::udp, 4500, kSource, 2000), kToken);
  EXPECT_FALSE(flows.find(Transport::tcp, 4500, kSource, 2000));
  EXPECT_FALSE(flows.find(Transport::udp, 500, kSource, 2000));
  EXPECT_FALSE(flows.find(Transport::udp, 4500, {"198.51.100.7", 4501}, 2000));
  EXPECT_FALSE(flows.find(Transport::udp, 4500, {"198.51.100.8", 4500}, 2000));
}

TEST(FlowMemory, FlowsExpire) {
  FlowMemory flows;
  flows.remember(Transport::udp, 4500, kSource, kToken, 1000);
  EXPECT_TRUE(flows.find(Transport::udp, 4500, kSource, 1000 + FlowMemory::kFlowLifetimeMs));
  EXPECT_FALSE(flows.find(Transport::udp, 4500, kSource, 1001 + FlowMemory::kFlowLifetimeMs));
}

// A token of session number `n` (many sessions, as many parties make).
probes::ProbeToken token_of(std::size_t n) {
  return {{7, 7, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n),
           1},
          0};
}
probes::Endpoint source_of(std::size_t i) {
  return {"10.0." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 0xff),
          static_cast<std::uint16_t>(i & 0xff)};
}

TEST(FlowMemory, IsBoundedAndForgetsTheOldestFirst) {
  FlowMemory flows;
  // Sessions of one flow each: the table, not a quota, is what fills.
  for (std::size_t i = 0; i < FlowMemory::kMaxFlows + 10; ++i)
    flows.remember(Transport::udp, 4500, source_of(i), token_of(i), static_cast<std::int64_t>(i));
  EXPECT_EQ(flows.size(), FlowMemory::kMaxFlows);
  EXPECT_FALSE(flows.find(Transport::udp, 4500, source_of(0), 100));
  EXPECT_TRUE(flows.find(Transport::udp, 4500, source_of(FlowMemory::kMaxFlows + 9), 100));
}

// One session flooding flows costs only its own: at its quota it forgets
// its own oldest, and another session's live flow survives.
TEST(FlowMemory, ASessionAtItsQuotaForgetsItsOwnFlowsNotAnothers) {
  FlowMemory flows;
  const probes::ProbeToken honest{{9, 9, 9, 9, 9, 9}, 3};
  flows.remember(Transport::udp, 500, kSource, honest, 0);
  std::size_t own_forgotten = 0;
  for (std::size_t i = 0; i < 2 * FlowMemory::kMaxFlows; ++i) {
    auto forgotten = flows.remember(Transport::udp, 4500, source_of(i), kToken, static_cast<std::int64_t>(1 + i));
    if (!forgotten) continue;
    EXPECT_EQ(forgotten->token, kToken) << "only the flooding session's own flows go";
    ++own_forgotten;
  }
  EXPECT_EQ(flows.size(), FlowMemory::kFlowsPerSession + 1);
  EXPECT_EQ(own_forgotten, 2 * FlowMemory::kMaxFlows - FlowMemory::kFlowsPerSession);
  EXPECT_EQ(flows.find(Transport::udp, 500, kSource, 5000), honest);
}

// Many sessions filling the table: the one holding the most gives up its
// oldest flow, so a session with few flows keeps them.
TEST(FlowMemory, AFullTableTakesFromTheSessionHoldingTheMost) {
  FlowMemory flows(64, 16);
  const probes::ProbeToken honest{{9, 9, 9, 9, 9, 9}, 3};
  flows.remember(Transport::udp, 500, kSource, honest, 0);
  std::size_t n = 0;
  for (std::size_t s = 0; s < 40; ++s)
    for (std::size_t k = 0; k < 16; ++k, ++n) {
      auto forgotten = flows.remember(Transport::udp, 4500, source_of(n), token_of(s), static_cast<std::int64_t>(1 + n));
      if (forgotten) {
        EXPECT_NE(forgotten->token, honest);
      }
    }
  EXPECT_EQ(flows.size(), 64u);
  EXPECT_EQ(flows.find(Transport::udp, 500, kSource, 5000), honest);
}

// A live flow forgotten to make room is returned, so its session can be told;
// an expired one is no loss, and goes before any live one.
TEST(FlowMemory, SaysWhichLiveFlowItForgot) {
  FlowMemory flows(4, 4);
  const probes::ProbeToken other{{9, 9, 9, 9, 9, 9}, 3};
  EXPECT_FALSE(flows.remember(Transport::udp, 500, kSource, other, 0));
  EXPECT_FALSE(flows.remember(Transport::udp, 500, {"10.0.0.9", 1}, other, 0));
  for (std::uint16_t i = 1; i <= 2; ++i)
    EXPECT_FALSE(flows.remember(Transport::udp, 4500, {"10.0.0.1", i}, kToken, i));
  // Full, both sessions equal: the largest (either) gives up its oldest, named.
  auto forgotten = flows.remember(Transport::udp, 4500, {"10.0.0.2", 1}, kToken, 5000);
  ASSERT_TRUE(forgotten);
  EXPECT_EQ(forgotten->local_port, forgotten->token == other ? 500 : 4500);
  EXPECT_FALSE(flows.remember(Transport::udp, 4500, {"10.0.0.2", 2}, kToken, 10 + 2 * FlowMemory::kFlowLifetimeMs))
      << "the flow forgotten now had expired";
  EXPECT_EQ(flows.size(), 4u);
}

TEST(AddressBytes, ParsesBothFamiliesAndUnmapsV4MappedAddresses) {
  EXPECT_EQ(address_bytes("192.0.2.1"), (Bytes{192, 0, 2, 1}));
  EXPECT_EQ(address_bytes("::ffff:192.0.2.1"), (Bytes{192, 0, 2, 1}));
  EXPECT_EQ(address_bytes("2001:db8::1").size(), 16U);
  EXPECT_TRUE(address_bytes("not an address").empty());
}

TEST(AddressBytes, ReadsScopedAndLongFormsAsAsioDoes) {
  for (const char* text : {"fe80::1%1", "2001:0db8:0000:0000:0000:0000:0000:0001", "::1", "::", "0.0.0.0",
                           "255.255.255.255", "1.2.3", "01.2.3.4", "1.2.3.4 ", "::ffff:1.2.3.4%1",
                           "2001:db8::1::2", ""}) {
    SCOPED_TRACE(text);
    boost::system::error_code ec;
    auto parsed = boost::asio::ip::make_address(text, ec);
    Bytes expected;
    if (!ec && parsed.is_v4()) {
      auto b = parsed.to_v4().to_bytes();
      expected.assign(b.begin(), b.end());
    } else if (!ec && parsed.to_v6().is_v4_mapped()) {
      auto b = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, parsed.to_v6()).to_bytes();
      expected.assign(b.begin(), b.end());
    } else if (!ec) {
      auto b = parsed.to_v6().to_bytes();
      expected.assign(b.begin(), b.end());
    }
    EXPECT_EQ(address_bytes(text), expected);
  }
}

TEST(AddressText, Ipv4IsWrittenAsInetNtopWritesIt) {
  for (unsigned v = 0; v < 256; ++v) {
    const std::array<unsigned char, 4> b{static_cast<unsigned char>(v), static_cast<unsigned char>(255 - v), 0,
                                         static_cast<unsigned char>(v * 7)};
    ASSERT_EQ(ipv4_text(b), boost::asio::ip::address_v4(b).to_string()) << v;
  }
}

Bytes ipv4_datagram(std::uint8_t protocol, std::size_t payload) {
  Bytes d(20 + payload, 0);
  d[0] = 0x45;
  d[1] = 0x28;  // TOS
  d[2] = static_cast<std::uint8_t>(d.size() >> 8);
  d[3] = static_cast<std::uint8_t>(d.size() & 0xff);
  d[8] = 61;  // TTL
  d[9] = protocol;
  d[12] = 198, d[13] = 51, d[14] = 100, d[15] = 7;
  d[16] = 203, d[17] = 0, d[18] = 113, d[19] = 5;
  return d;
}

TEST(ReadIpv4Header, ReadsTheFactsARawReceiverNeeds) {
  auto facts = read_ipv4_header(ipv4_datagram(50, 16));
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->source, "198.51.100.7");
  EXPECT_EQ(facts->destination, "203.0.113.5");
  EXPECT_EQ(facts->ttl, 61);
  EXPECT_EQ(facts->tos, 0x28);
  EXPECT_EQ(facts->protocol, 50);
}

TEST(ReadIpv4Header, RejectsWhatIsNotAWholeIpv4Datagram) {
  Bytes good = ipv4_datagram(50, 16);
  for (std::size_t len = 0; len < good.size(); ++len)
    EXPECT_FALSE(read_ipv4_header(probes::ByteView(good).first(len))) << len;
  Bytes v6 = good;
  v6[0] = 0x65;
  EXPECT_FALSE(read_ipv4_header(v6));
  Bytes short_ihl = good;
  short_ihl[0] = 0x44;
  EXPECT_FALSE(read_ipv4_header(short_ihl));
  Bytes long_ihl = good;
  long_ihl[0] = 0x4f;  // 60-byte header in a 36-byte datagram
  EXPECT_FALSE(read_ipv4_header(long_ihl));
  Bytes wrong_total = good;
  wrong_total[3] ^= 1;
  EXPECT_FALSE(read_ipv4_header(wrong_total));
}

TEST(RawDemux, UdpProbeBytesInARawDatagramAreNotClaimedByUdpParsers) {
  SessionTable table(SessionLimits{}, test::FakeClock{}.fn());
  probes::RandomFill rnd = test::counter_fill(3);
  auto created = table.create({"198.51.100.7", 5555}, rnd);
  ArrivalHandler handler(table, {}, test::counter_fill(4));
  probes::ProbeToken token{created.session->tag, 1};
  Bytes init = probes::wireguard::build_initiation(token, {}, rnd);

  Arrival udp;
  udp.payload = init;
  udp.framing = Framing::datagram;
  udp.local_port = 51820;
  udp.source = kSource;
  EXPECT_FALSE(handler.handle(udp).dropped);

  Arrival raw = udp;
  raw.framing = Framing::ip_datagram;
  raw.local_port = 50;
  EXPECT_EQ(handler.handle(raw).dropped, DropReason::unrecognised);
}

TEST(RawListeners, OfferedOnlyWhenTheyCouldBeOpened) {
  Config config = test::loopback_config();
  config.raw_protocols = {"esp", "gre"};
  std::ostringstream log_text;
  Logger log(LogLevel::info, &log_text);
  Server server(config, &log);
  ASSERT_FALSE(server.start());
  std::thread io([&] { server.run(); });
  auto res = test::blocking_http_call(server.ports().control, http::verb::post, "/v1/sessions");
  server.stop();
  io.join();

  auto body = nlohmann::json::parse(res.body());
  auto offered = body["capabilities"]["raw_protocols"].get<std::vector<std::string>>();
  if (::geteuid() == 0) {
    EXPECT_EQ(server.ports().raw, (std::vector<std::string>{"esp", "gre"}));
    EXPECT_EQ(offered, (std::vector<std::string>{"esp", "gre"}));
  } else {
    // Without CAP_NET_RAW: not offered, and the log says why.
    EXPECT_TRUE(offered.empty());
    EXPECT_NE(log_text.str().find("needs CAP_NET_RAW"), std::string::npos) << log_text.str();
  }
}

// Local addresses ("0100007F" is 127.0.0.1) of this process's raw sockets for
// `protocol`, from /proc/net/raw: its columns are sl, local_address:protocol, ...,
// and the inode, matched against this process's socket descriptors.
std::vector<std::string> own_raw_socket_addresses(std::uint8_t protocol) {
  std::set<std::string> inodes;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(fd.path(), ec).string();
    if (!ec && target.starts_with("socket:[")) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::vector<std::string> out;
  std::ifstream in("/proc/net/raw");
  std::string line;
  std::getline(in, line);  // header
  char wanted[8];
  std::snprintf(wanted, sizeof wanted, ":%04X", protocol);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    if (f.size() < 10 || !inodes.contains(f[9])) continue;
    if (f[1].ends_with(wanted)) out.push_back(f[1].substr(0, f[1].find(':')));
  }
  return out;
}

// --listen names the addresses to serve; a raw listener on the wildcard would
// take ESP/GRE sent to every other address of the host too.
TEST(RawListeners, BoundToTheListenAddressesWhenNamed) {
  if (::geteuid() != 0) GTEST_SKIP() << "raw sockets need CAP_NET_RAW";
  Config config = test::loopback_config();  // --listen 127.0.0.1
  config.raw_protocols = {"gre"};
  std::ostringstream log_text;
  Logger log(LogLevel::info, &log_text);
  Server server(config, &log);
  ASSERT_FALSE(server.start());
  auto addresses = own_raw_socket_addresses(47);
  server.stop();
  EXPECT_EQ(addresses, (std::vector<std::string>{"0100007F"})) << log_text.str();
  EXPECT_EQ(server.ports().raw, (std::vector<std::string>{"gre"}));
}

}  // namespace
}  // namespace vpncheck::reflector
