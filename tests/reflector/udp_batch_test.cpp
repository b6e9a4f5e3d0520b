// The probe listener's batched UDP I/O: the pure parts (recvmmsg slots, reply
// headers with their source-address pins, sendmmsg accounting) on hand-made
// headers, then a burst of probes queued before the listener runs, so it
// reads them in full batches, and every reply checked: its own, to its own
// socket, from the address its probe was sent to.
#include "reflector/udp_batch.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "probes/wireguard.h"
#include "reflector/arrival.h"
#include "reflector/control_api.h"
#include "reflector/log.h"
#include "reflector/services.h"
#include "reflector/session_table.h"
#include "reflector/udp_listener.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

in_addr ipv4(const char* text) {
  in_addr a{};
  ::inet_pton(AF_INET, text, &a);
  return a;
}

in6_addr ipv6(const char* text) {
  in6_addr a{};
  ::inet_pton(AF_INET6, text, &a);
  return a;
}

// The pktinfo cmsg a reply header carries, if any.
struct Pin {
  int level = 0;
  int type = 0;
  std::string address;
};

std::optional<Pin> pin_of(msghdr& msg) {
  if (msg.msg_control == nullptr || msg.msg_controllen == 0) return std::nullopt;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr) return std::nullopt;
  Pin pin{c->cmsg_level, c->cmsg_type, {}};
  char text[INET6_ADDRSTRLEN] = {};
  if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
    EXPECT_EQ(c->cmsg_len, CMSG_LEN(sizeof(in_pktinfo)));
    in_pktinfo pi{};
    std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
    EXPECT_EQ(pi.ipi_ifindex, 0);  // routing picks the interface; only the source is pinned
    ::inet_ntop(AF_INET, &pi.ipi_spec_dst, text, sizeof text);
  } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
    EXPECT_EQ(c->cmsg_len, CMSG_LEN(sizeof(in6_pktinfo)));
    in6_pktinfo pi{};
    std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
    ::inet_ntop(AF_INET6, &pi.ipi6_addr, text, sizeof text);
  }
  pin.address = text;
  EXPECT_EQ(CMSG_NXTHDR(&msg, c), nullptr) << "one control message per reply";
  return pin;
}

DatagramInfo arrived_at_v4(const char* address) {
  DatagramInfo info;
  in_pktinfo pi{};
  pi.ipi_ifindex = 7;
  pi.ipi_addr = ipv4(address);
  pi.ipi_spec_dst = ipv4("10.9.9.9");  // the kernel's route guess: not what a reply must use
  info.pktinfo4 = pi;
  return info;
}

DatagramInfo arrived_at_v6(const char* address) {
  DatagramInfo info;
  in6_pktinfo pi{};
  pi.ipi6_addr = ipv6(address);
  pi.ipi6_ifindex = 3;
  info.pktinfo6 = pi;
  return info;
}

// --- reply headers --------------------------------------------------------------

TEST(ReplyBatch, EachReplyHasItsOwnDestinationBytesAndSourcePin) {
  ReplyBatch batch(4);
  const probes::Bytes a{1, 2, 3}, b{4, 5}, c{6}, d{7, 8, 9, 10};
  const udp::endpoint to_a(asio::ip::make_address("198.51.100.1"), 1111);
  const udp::endpoint to_b(asio::ip::make_address("198.51.100.2"), 2222);
  const udp::endpoint to_c(asio::ip::make_address("2001:db8::7"), 3333);
  const udp::endpoint to_d(asio::ip::make_address("198.51.100.4"), 4444);
  ASSERT_TRUE(batch.add(a, to_a, arrived_at_v4("203.0.113.5")));
  ASSERT_TRUE(batch.add(b, to_b, arrived_at_v4("203.0.113.6")));
  ASSERT_TRUE(batch.add(c, to_c, arrived_at_v6("2001:db8:2::5")));
  ASSERT_TRUE(batch.add(d, to_d, DatagramInfo{}));  // a socket bound to one address: no pin needed
  EXPECT_FALSE(batch.add(a, to_a, DatagramInfo{})) << "full";
  ASSERT_EQ(batch.size(), 4u);

  auto messages = batch.messages();
  const probes::Bytes* bytes[] = {&a, &b, &c, &d};
  const udp::endpoint* to[] = {&to_a, &to_b, &to_c, &to_d};
  for (std::size_t i = 0; i < 4; ++i) {
    msghdr& m = messages[i].msg_hdr;
    ASSERT_EQ(m.msg_iovlen, 1u);
    EXPECT_EQ(m.msg_iov->iov_base, bytes[i]->data()) << i << ": the reply's own bytes, not a copy";
    EXPECT_EQ(m.msg_iov->iov_len, bytes[i]->size()) << i;
    ASSERT_EQ(m.msg_namelen, to[i]->size()) << i;
    EXPECT_EQ(std::memcmp(m.msg_name, to[i]->data(), to[i]->size()), 0) << i;
  }
  auto pin_a = pin_of(messages[0].msg_hdr);
  auto pin_b = pin_of(messages[1].msg_hdr);
  auto pin_c = pin_of(messages[2].msg_hdr);
  ASSERT_TRUE(pin_a && pin_b && pin_c);
  EXPECT_EQ(pin_a->level, IPPROTO_IP);
  EXPECT_EQ(pin_a->type, IP_PKTINFO);
  EXPECT_EQ(pin_a->address, "203.0.113.5");
  EXPECT_EQ(pin_b->address, "203.0.113.6");
  EXPECT_EQ(pin_c->level, IPPROTO_IPV6);
  EXPECT_EQ(pin_c->type, IPV6_PKTINFO);
  EXPECT_EQ(pin_c->address, "2001:db8:2::5");
  EXPECT_FALSE(pin_of(messages[3].msg_hdr));
  EXPECT_NE(messages[0].msg_hdr.msg_control, messages[1].msg_hdr.msg_control) << "own control buffer each";

  batch.clear();
  EXPECT_EQ(batch.size(), 0u);
  EXPECT_TRUE(batch.messages().empty());
}

TEST(ReplyBatch, AMappedIpv4ArrivalOnADualStackSocketIsNotPinned) {
  // Linux refuses an IPv4-mapped IPV6_PKTINFO source; routing picks it, as before batching.
  ReplyBatch batch(1);
  const probes::Bytes r{1};
  ASSERT_TRUE(batch.add(r, udp::endpoint(asio::ip::make_address("::ffff:198.51.100.1"), 1),
                        arrived_at_v6("::ffff:203.0.113.5")));
  EXPECT_FALSE(pin_of(batch.messages()[0].msg_hdr));
}

TEST(WriteSourcePin, NeedsRoomAndAnIpv4ReplyForIpPktinfo) {
  alignas(cmsghdr) std::array<char, kReplyControlSize> control{};
  EXPECT_EQ(write_source_pin(arrived_at_v4("203.0.113.5"), true, control), CMSG_SPACE(sizeof(in_pktinfo)));
  EXPECT_EQ(write_source_pin(arrived_at_v4("203.0.113.5"), false, control), 0u);
  EXPECT_EQ(write_source_pin(arrived_at_v4("203.0.113.5"), true, std::span(control).first(8)), 0u);
  EXPECT_EQ(write_source_pin(DatagramInfo{}, true, control), 0u);
}

// --- recvmmsg slots -------------------------------------------------------------

// What recvmmsg would leave in slot `i`.
void fill_slot(mmsghdr& h, const probes::Bytes& payload, const char* from, std::uint16_t port,
               std::optional<int> ttl, std::optional<const char*> destination, int flags = 0) {
  msghdr& m = h.msg_hdr;
  std::memcpy(m.msg_iov->iov_base, payload.data(), std::min(payload.size(), m.msg_iov->iov_len));
  h.msg_len = static_cast<unsigned>(std::min(payload.size(), m.msg_iov->iov_len));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr = ipv4(from);
  ASSERT_GE(m.msg_namelen, sizeof sa);
  std::memcpy(m.msg_name, &sa, sizeof sa);
  m.msg_namelen = sizeof sa;
  std::size_t used = 0;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  if (ttl) {
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_TTL;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &*ttl, sizeof(int));
    used += CMSG_SPACE(sizeof(int));
    m.msg_controllen = used + CMSG_SPACE(sizeof(in_pktinfo));  // room for the next header
    c = CMSG_NXTHDR(&m, c);
  }
  if (destination) {
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo pi{};
    pi.ipi_addr = ipv4(*destination);
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    used += CMSG_SPACE(sizeof(in_pktinfo));
  }
  m.msg_controllen = used;
  m.msg_flags = flags;
}

TEST(ReceiveBatch, EachSlotKeepsItsOwnBytesSourceAndFacts) {
  ReceiveBatch batch(3, 16);
  ASSERT_EQ(batch.slots(), 3u);
  auto headers = batch.arm();
  ASSERT_EQ(headers.size(), 3u);
  fill_slot(headers[0], {1, 2, 3}, "192.0.2.1", 1000, 64, "127.0.0.2");
  fill_slot(headers[1], {9, 9, 9, 9, 9}, "192.0.2.2", 2000, 17, "127.0.0.3");
  fill_slot(headers[2], probes::Bytes(40, 0xAA), "192.0.2.3", 3000, std::nullopt, std::nullopt, MSG_TRUNC);

  auto d0 = batch.datagram(0);
  auto d1 = batch.datagram(1);
  auto d2 = batch.datagram(2);
  EXPECT_EQ(d0.from, udp::endpoint(asio::ip::make_address("192.0.2.1"), 1000));
  EXPECT_EQ(d1.from, udp::endpoint(asio::ip::make_address("192.0.2.2"), 2000));
  EXPECT_EQ(d0.length, 3u);
  EXPECT_EQ(d1.length, 5u);
  EXPECT_FALSE(d0.truncated);
  EXPECT_TRUE(d2.truncated);
  EXPECT_EQ(d2.length, 16u);
  EXPECT_EQ(d0.info.ttl, 64);
  EXPECT_EQ(d1.info.ttl, 17);
  EXPECT_FALSE(d2.info.ttl);
  EXPECT_FALSE(d2.info.pktinfo4);
  ASSERT_TRUE(d0.info.pktinfo4 && d1.info.pktinfo4);
  EXPECT_EQ(d0.info.pktinfo4->ipi_addr.s_addr, ipv4("127.0.0.2").s_addr);
  EXPECT_EQ(d1.info.pktinfo4->ipi_addr.s_addr, ipv4("127.0.0.3").s_addr);
  auto p0 = batch.payload(0, d0.length);
  auto p1 = batch.payload(1, d1.length);
  EXPECT_EQ(probes::Bytes(p0.begin(), p0.end()), (probes::Bytes{1, 2, 3}));
  EXPECT_EQ(probes::Bytes(p1.begin(), p1.end()), (probes::Bytes{9, 9, 9, 9, 9}));
  EXPECT_EQ(batch.payload(2, 1000).size(), 16u) << "never beyond the slot";

  // The next recvmmsg gets full-size name and control buffers and clean flags again.
  headers = batch.arm();
  for (auto& h : headers) {
    EXPECT_EQ(h.msg_hdr.msg_namelen, udp::endpoint(asio::ip::udp::v6(), 0).capacity());
    EXPECT_EQ(h.msg_hdr.msg_controllen, ReceiveBatch::kControlSize);
    EXPECT_EQ(h.msg_hdr.msg_flags, 0);
    EXPECT_EQ(h.msg_hdr.msg_iov->iov_len, 16u);
  }
  EXPECT_NE(headers[0].msg_hdr.msg_control, headers[1].msg_hdr.msg_control);
  EXPECT_NE(headers[0].msg_hdr.msg_name, headers[1].msg_hdr.msg_name);
}

// --- sendmmsg accounting ----------------------------------------------------------

struct Batch5 {
  std::vector<probes::Bytes> bytes{{1}, {2, 2}, {3, 3, 3}, {4}, {5, 5}};
  ReplyBatch replies{5};
  std::vector<std::pair<std::size_t, int>> settled;
  ReplySettled record = [this](std::size_t i, int error) { settled.emplace_back(i, error); };
  Batch5() {
    const udp::endpoint to(asio::ip::make_address("127.0.0.1"), 9);
    for (const auto& b : bytes) replies.add(b, to, DatagramInfo{});
  }
};

// A kernel that takes at most `per_call` messages per call, whole.
SendMessages taking(std::size_t per_call, int* calls) {
  return [per_call, calls](std::span<mmsghdr> rest, int& error) {
    ++*calls;
    error = 0;
    const std::size_t n = std::min(per_call, rest.size());
    for (std::size_t i = 0; i < n; ++i) rest[i].msg_len = static_cast<unsigned>(rest[i].msg_hdr.msg_iov->iov_len);
    return static_cast<int>(n);
  };
}

TEST(SendReplies, OneCallSendsTheWholeBatch) {
  Batch5 b;
  int calls = 0;
  std::size_t next = 0;
  EXPECT_EQ(send_replies(b.replies.messages(), next, taking(64, &calls), b.record), SendProgress::finished);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(next, 5u);
  EXPECT_EQ(b.settled, (std::vector<std::pair<std::size_t, int>>{{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}}));
}

TEST(SendReplies, APartialSendContinuesWithTheRest) {
  Batch5 b;
  int calls = 0;
  std::size_t next = 0;
  EXPECT_EQ(send_replies(b.replies.messages(), next, taking(2, &calls), b.record), SendProgress::finished);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(b.settled, (std::vector<std::pair<std::size_t, int>>{{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}}));
}

TEST(SendReplies, WouldBlockStopsAtTheFirstUnsentAndResumesThere) {
  Batch5 b;
  int calls = 0;
  bool full = false;
  auto kernel = [&](std::span<mmsghdr> rest, int& error) {
    if (full) {
      error = EAGAIN;
      return -1;
    }
    full = true;  // three go, then the send buffer is full
    return taking(3, &calls)(rest, error);
  };
  std::size_t next = 0;
  EXPECT_EQ(send_replies(b.replies.messages(), next, kernel, b.record), SendProgress::would_block);
  EXPECT_EQ(next, 3u);
  EXPECT_EQ(b.settled.size(), 3u) << "the unsent ones are neither sent nor failed yet";
  full = false;  // writable again
  EXPECT_EQ(send_replies(b.replies.messages(), next, taking(64, &calls), b.record), SendProgress::finished);
  EXPECT_EQ(next, 5u);
  EXPECT_EQ(b.settled, (std::vector<std::pair<std::size_t, int>>{{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}}));
}

TEST(SendReplies, AFailingMessageIsCountedAndTheOthersStillGo) {
  Batch5 b;
  // The kernel sends up to the failing message (index 2), then fails it alone,
  // as sendmmsg does; EINTR once on the way is retried.
  int call = 0;
  auto kernel = [&](std::span<mmsghdr> rest, int& error) -> int {
    ++call;
    const std::size_t first = 5 - rest.size();
    if (call == 2) {
      error = EINTR;
      return -1;
    }
    if (first == 2) {
      error = ENETUNREACH;
      return -1;
    }
    std::size_t n = 0;
    for (; n < rest.size() && first + n != 2; ++n) rest[n].msg_len = static_cast<unsigned>(rest[n].msg_hdr.msg_iov->iov_len);
    error = 0;
    return static_cast<int>(n);
  };
  std::size_t next = 0;
  EXPECT_EQ(send_replies(b.replies.messages(), next, kernel, b.record), SendProgress::finished);
  EXPECT_EQ(b.settled,
            (std::vector<std::pair<std::size_t, int>>{{0, 0}, {1, 0}, {2, ENETUNREACH}, {3, 0}, {4, 0}}));
}

TEST(SendReplies, AShortSendIsAFailureOfThatReply) {
  Batch5 b;
  auto kernel = [](std::span<mmsghdr> rest, int& error) {
    error = 0;
    for (auto& h : rest) h.msg_len = static_cast<unsigned>(h.msg_hdr.msg_iov->iov_len);
    if (rest.size() == 5) rest[2].msg_len = 1;  // 1 of 3 bytes
    return static_cast<int>(rest.size());
  };
  std::size_t next = 0;
  EXPECT_EQ(send_replies(b.replies.messages(), next, kernel, b.record), SendProgress::finished);
  EXPECT_EQ(b.settled, (std::vector<std::pair<std::size_t, int>>{{0, 0}, {1, 0}, {2, EMSGSIZE}, {3, 0}, {4, 0}}));
}

TEST(SendReplies, AnEmptyBatchMakesNoCall) {
  ReplyBatch empty(4);
  int calls = 0;
  std::size_t next = 0;
  EXPECT_EQ(send_replies(empty.messages(), next, taking(64, &calls), [](std::size_t, int) { FAIL(); }),
            SendProgress::finished);
  EXPECT_EQ(calls, 0);
}

// --- a burst through the real listener ------------------------------------------

// One probe listener on 0.0.0.0 (so replies need the IP_PKTINFO pin to leave
// from the address each probe was sent to: unpinned, loopback answers from
// 127.0.0.1), the demux, a session, no rate limit.
class UdpBurst : public ::testing::Test {
 protected:
  void SetUp() override {
    hints_.wireguard_public_key.emplace();
    for (std::size_t i = 0; i < 32; ++i) (*hints_.wireguard_public_key)[i] = static_cast<std::uint8_t>(0x40 + i);
    socket_.open(udp::v4());
    socket_.bind(udp::endpoint(asio::ip::address_v4::any(), 0));
    ASSERT_EQ(enable_arrival_info(socket_), "");
    // The whole burst waits in the queue before the listener runs.
    int size = 4 << 20;
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    port_ = socket_.local_endpoint().port();
    auto created = sessions_.create({"127.0.0.1", 1}, rnd_);
    ASSERT_TRUE(created.session);
    tag_ = created.session->tag;
  }
  void TearDown() override { stop(); }

  // Runs the listener on its own thread, from now until stop().
  void start(Services& services) {
    asio::co_spawn(io_, run_udp_listener(socket_, services), asio::detached);
    io_thread_ = std::thread([this] { io_.run(); });
  }
  // Closes the listener's socket, which ends it: every send it made has been delivered.
  void stop() {
    if (!io_thread_.joinable()) return;
    asio::post(io_, [this] { socket_.close(); });
    io_thread_.join();
  }

  probes::RandomFill rnd_ = test::counter_fill(9);
  probes::ServerHints hints_;
  std::ostringstream log_text_;
  Logger log_{LogLevel::warn, &log_text_};
  Metrics metrics_;
  SessionTable sessions_{SessionLimits{}};
  ControlApi control_{sessions_, ControlApiOptions{}};
  asio::io_context io_;
  udp::socket socket_{io_};
  std::uint16_t port_ = 0;
  probes::SessionTag tag_{};
  std::thread io_thread_;
};

std::uint32_t sender_index(probes::ByteView initiation) {
  std::uint32_t v = 0;
  std::memcpy(&v, initiation.data() + probes::wireguard::kSenderOffset, 4);
  return v;
}

TEST_F(UdpBurst, EveryProbeOfABurstGetsExactlyItsOwnReplyFromTheAddressItWasSentTo) {
  ArrivalHandler handler(sessions_, hints_, test::counter_fill(3), &metrics_);
  Services services{log_, Timeouts{}, sessions_, handler, control_};

  constexpr std::size_t kSockets = 4;
  constexpr std::size_t kPerSocket = 50;  // 200 in all: more than three full batches
  const char* client_address[kSockets] = {"127.0.0.1", "127.0.0.1", "127.0.0.4", "127.0.0.4"};
  const char* reflector_address[] = {"127.0.0.2", "127.0.0.3"};
  asio::io_context client_io;  // outlives the sockets
  std::vector<std::unique_ptr<udp::socket>> clients;
  for (const char* a : client_address) {
    clients.push_back(std::make_unique<udp::socket>(client_io, udp::endpoint(asio::ip::make_address(a), 0)));
    timeval tv{10, 0};  // a failure guard only: a missing reply fails the test instead of hanging it
    ::setsockopt(clients.back()->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  // Build and send everything before the listener has read anything.
  struct Sent {
    std::size_t socket;
    std::string to;
    probes::Bytes request;
  };
  std::map<std::uint32_t, Sent> by_index;  // sender index -> probe
  probes::RandomFill probe_rnd = test::counter_fill(21);
  std::uint16_t probe = 0;
  for (std::size_t k = 0; k < kPerSocket; ++k) {
    for (std::size_t s = 0; s < kSockets; ++s) {
      const std::string to = reflector_address[(k + s) % 2];
      auto request = probes::wireguard::build_initiation({tag_, ++probe}, hints_, probe_rnd);
      ASSERT_TRUE(by_index.emplace(sender_index(request), Sent{s, to, request}).second)
          << "sender indexes must differ to tell the replies apart";
      clients[s]->send_to(asio::buffer(request), udp::endpoint(asio::ip::make_address(to), port_));
    }
  }
  ASSERT_EQ(by_index.size(), kSockets * kPerSocket);

  start(services);

  std::set<std::uint32_t> answered;
  for (std::size_t s = 0; s < kSockets; ++s) {
    for (std::size_t k = 0; k < kPerSocket; ++k) {
      std::array<std::uint8_t, 2048> reply{};
      udp::endpoint from;
      boost::system::error_code ec;
      const std::size_t n = clients[s]->receive_from(asio::buffer(reply), from, 0, ec);
      ASSERT_FALSE(ec) << "socket " << s << " got only " << k << " of its " << kPerSocket << " replies";
      ASSERT_EQ(n, probes::wireguard::kResponseSize);
      std::uint32_t receiver = 0;
      std::memcpy(&receiver, reply.data() + 8, 4);
      auto it = by_index.find(receiver);
      ASSERT_NE(it, by_index.end()) << "a reply to no probe";
      const Sent& sent = it->second;
      EXPECT_TRUE(probes::wireguard::is_response_to(probes::ByteView(reply).first(n), sent.request));
      EXPECT_EQ(sent.socket, s) << "a reply reached another socket than its probe's";
      EXPECT_EQ(from.address().to_string(), sent.to) << "a reply left from another address than its probe reached";
      EXPECT_EQ(from.port(), port_);
      EXPECT_TRUE(answered.insert(receiver).second) << "a probe answered twice";
    }
  }

  stop();
  for (std::size_t s = 0; s < kSockets; ++s) {
    std::array<std::uint8_t, 2048> extra{};
    EXPECT_LT(::recv(clients[s]->native_handle(), extra.data(), extra.size(), MSG_DONTWAIT), 0)
        << "socket " << s << " got more replies than probes";
  }
  EXPECT_EQ(answered.size(), by_index.size());
  EXPECT_EQ(metrics_.replies_sent, by_index.size());
  EXPECT_EQ(metrics_.replies_failed, 0u);
  EXPECT_EQ(handler.drops().total(), 0u);
  const Session* session = sessions_.find_by_tag(tag_);
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(session->observations.size(), by_index.size());
}

TEST_F(UdpBurst, OversizedAndEmptyDatagramsInABatchAreCountedAndTheRestAnswered) {
  ArrivalHandler handler(sessions_, hints_, test::counter_fill(3), &metrics_);
  Services services{log_, Timeouts{}, sessions_, handler, control_};
  asio::io_context client_io;
  udp::socket client(client_io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  timeval tv{10, 0};
  ::setsockopt(client.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const udp::endpoint to(asio::ip::make_address("127.0.0.2"), port_);
  probes::RandomFill probe_rnd = test::counter_fill(5);
  const auto first = probes::wireguard::build_initiation({tag_, 1}, hints_, probe_rnd);
  const auto second = probes::wireguard::build_initiation({tag_, 2}, hints_, probe_rnd);
  client.send_to(asio::buffer(first), to);
  client.send_to(asio::buffer(probes::Bytes(kMaxDatagram + 1, 0x11)), to);  // fits the slot, the demux drops it
  client.send_to(asio::buffer(probes::Bytes(20000, 0x22)), to);              // truncated in the slot
  client.send_to(asio::buffer(probes::Bytes{}), to);
  client.send_to(asio::buffer(second), to);

  start(services);
  std::vector<probes::Bytes> replies;
  for (int k = 0; k < 2; ++k) {
    probes::Bytes reply(2048);
    boost::system::error_code ec;
    reply.resize(client.receive(asio::buffer(reply), 0, ec));
    ASSERT_FALSE(ec);
    replies.push_back(reply);
  }
  stop();
  EXPECT_TRUE(probes::wireguard::is_response_to(replies[0], first));
  EXPECT_TRUE(probes::wireguard::is_response_to(replies[1], second));
  EXPECT_EQ(handler.drops().get(DropReason::oversized), 2u);
  EXPECT_EQ(handler.drops().get(DropReason::empty), 1u);
  EXPECT_EQ(metrics_.replies_sent, 2u);
}

}  // namespace
}  // namespace vpncheck::reflector
