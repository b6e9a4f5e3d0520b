// reflector_flood: the load generator of tests/bench/reflector-load.sh
// (issue #6). Sends COUNT random and malformed UDP datagrams to every given
// UDP port of HOST (sendmmsg, batches of 64, from 16 source ports), and opens
// TCP_CONNS connections to the given TCP ports that write garbage and close.
// Bounded: stops after COUNT datagrams or SECONDS, whichever comes first.
//
//   reflector_flood HOST UDP_PORTS TCP_PORTS COUNT SECONDS [TCP_CONNS]
//   reflector_flood 127.0.0.1 51820,1194,53,443 1194,443,8780 1000000 60 2000
//
// Prints "udp_sent=N udp_bytes=N tcp_conns=N tcp_bytes=N elapsed_s=X".
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::vector<std::uint16_t> ports_of(const char* text) {
  std::vector<std::uint16_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(static_cast<std::uint16_t>(std::stoi(item)));
  return out;
}

// Just over the reflector's datagram bound (kMaxDatagram in reflector/arrival.h,
// 4096 B since IKE_AUTH-sized probes): these must count as oversized.
constexpr std::size_t kOverBound = 4097;
constexpr std::size_t kLargestDatagram = kOverBound + 999;

// One datagram: random bytes, or a malformed imitation of a probe (right
// first byte / size, wrong content), or an oversized or empty one.
std::size_t fill(std::mt19937_64& rng, std::uint8_t* buf) {
  const std::uint64_t r = rng();
  std::size_t len = 0;
  switch (r % 8) {
    case 0: len = 148; break;   // WireGuard initiation size
    case 1: len = 14 + (r >> 8) % 40; break;  // OpenVPN-reset-ish
    case 2: len = 0; break;     // empty
    case 3: len = kOverBound + (r >> 8) % 1000; break;  // over the reflector's bound
    default: len = 1 + (r >> 8) % 1400; break;
  }
  for (std::size_t i = 0; i < len; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(buf + i, &v, std::min<std::size_t>(8, len - i));
  }
  if (r % 8 == 0) { buf[0] = 1; buf[1] = buf[2] = buf[3] = 0; }  // type 1, garbage keys/macs
  if (r % 8 == 1) buf[0] = static_cast<std::uint8_t>((7 << 3) | (r >> 40) % 3);  // P_CONTROL_HARD_RESET_CLIENT_V2
  return len;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s HOST UDP_PORTS TCP_PORTS COUNT SECONDS [TCP_CONNS]\n", argv[0]);
    return 2;
  }
  in_addr host{};
  if (::inet_pton(AF_INET, argv[1], &host) != 1) {
    std::fprintf(stderr, "bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  const auto udp_ports = ports_of(argv[2]);
  const auto tcp_ports = ports_of(argv[3]);
  const std::uint64_t count = std::strtoull(argv[4], nullptr, 10);
  const double seconds = std::strtod(argv[5], nullptr);
  const std::uint64_t tcp_conns = argc > 6 ? std::strtoull(argv[6], nullptr, 10) : 0;
  if (udp_ports.empty() || count == 0 || seconds <= 0) return 2;

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  std::mt19937_64 rng(0x5eed);

  constexpr int kSockets = 16;
  std::vector<int> socks;
  for (int i = 0; i < kSockets; ++i) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) { std::perror("socket"); return 1; }
    socks.push_back(fd);
  }
  constexpr std::size_t kBatch = 64;
  std::vector<std::array<std::uint8_t, kLargestDatagram + 8>> bufs(kBatch);  // + 8: fill() writes whole words
  std::array<sockaddr_in, kBatch> dests{};
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> msgs{};

  std::uint64_t sent = 0, bytes = 0, tcp_done = 0, tcp_bytes = 0, batches = 0;
  const std::uint64_t tcp_every = tcp_conns ? std::max<std::uint64_t>(1, count / kBatch / tcp_conns) : 0;
  while (sent < count && clock::now() < deadline) {
    const std::size_t n = std::min<std::size_t>(kBatch, count - sent);
    for (std::size_t i = 0; i < n; ++i) {
      iov[i].iov_base = bufs[i].data();
      iov[i].iov_len = fill(rng, bufs[i].data());
      dests[i].sin_family = AF_INET;
      dests[i].sin_addr = host;
      dests[i].sin_port = htons(udp_ports[rng() % udp_ports.size()]);
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &dests[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int fd = socks[batches % socks.size()];
    int done = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
    if (done < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) { ::usleep(50); continue; }
      std::perror("sendmmsg");
      return 1;
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(done); ++i) bytes += iov[i].iov_len;
    sent += static_cast<std::uint64_t>(done);
    ++batches;
    // Drain whatever answers came back (none are expected for garbage).
    std::array<std::uint8_t, 2048> sink{};
    while (::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT) > 0) {}

    if (tcp_every && !tcp_ports.empty() && batches % tcp_every == 0 && tcp_done < tcp_conns) {
      int t = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_addr = host;
      to.sin_port = htons(tcp_ports[rng() % tcp_ports.size()]);
      if (t >= 0 && ::connect(t, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
        std::uint8_t junk[512];
        std::size_t len = fill(rng, junk) % sizeof junk + 1;
        for (std::size_t i = 0; i < len; ++i) junk[i] = static_cast<std::uint8_t>(rng());
        ssize_t w = ::send(t, junk, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) tcp_bytes += static_cast<std::uint64_t>(w);
        ++tcp_done;
      }
      if (t >= 0) ::close(t);
    }
  }
  for (int fd : socks) ::close(fd);
  const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
  std::printf("udp_sent=%llu udp_bytes=%llu tcp_conns=%llu tcp_bytes=%llu elapsed_s=%.2f\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(tcp_done), static_cast<unsigned long long>(tcp_bytes), elapsed);
  return sent >= count ? 0 : 3;  // 3: the time bound hit first
}
