// Reflector throughput (issue #6): a benchmark program, not a test.
//
//   ninja -C build reflector_bench && build/reflector_bench
//
// BM_HandleWireGuardInitiation / BM_HandleOpenVpnReset: ArrivalHandler::handle
// alone on one core (recognise, find the session by tag, record the
// observation, build the reply with the server's random source) -> items_per_second.
// BM_LoopbackWireGuard / BM_LoopbackOpenVpnReset: the whole in-process Server
// (one I/O thread) on 127.0.0.1 ephemeral ports; one client thread keeps a
// window of WireGuard initiations (or OpenVPN hard resets) in flight and
// counts the replies -> answered_per_s. Rate limit off (--rate-limit 0): one
// source sends everything. batched_client:0 sends and receives one datagram
// per syscall (send/recv), batched_client:1 tops the window up with one
// sendmmsg and takes whatever replies are waiting with one recvmmsg, so the
// load generator costs less than the reflector it measures. sessions:1 puts
// every probe in one session (its budgets raised); sessions:128 spreads them
// over 128 sessions within the default budgets.
// BM_BareEcho / BM_BareEchoOpenVpnReset: the same client and datagram against
// a bare recvmmsg/sendmmsg echo on one thread -> the ceiling the reflector is
// compared with: per_echo_cpu_s next to per_reflector_cpu_s (the CPU time of
// the serving thread, so the ratio holds on a shared machine).
// BM_ReflectorOverEchoWireGuard / BM_ReflectorOverEchoOpenVpnReset: both of
// the above at once on one core, fed slice by slice in turn by the batched
// client, so both are measured at the same machine speed -> the ratio of
// their rates per CPU-second, reflector_over_echo (sessions: as above).
// BM_FlowTableEvict: remembering a new flow in a full table of `capacity`
// entries held by many sessions, so every one evicts -> time per remember,
// flat as the table grows (probes/session_lru.h, which the PPTP call and NAT
// pending tables share).
#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <atomic>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "probes/openvpn.h"
#include "probes/token.h"
#include "probes/wireguard.h"
#include "reflector/arrival.h"
#include "reflector/random.h"
#include "reflector/server.h"
#include "test_util.h"  // tests/reflector: the in-process loopback helpers

namespace {

using namespace vpncheck;
using namespace vpncheck::reflector;

probes::RandomFill lcg_fill(std::uint32_t seed) {
  auto state = std::make_shared<std::uint32_t>(seed);
  return [state](std::span<std::uint8_t> out) {
    for (auto& b : out) {
      *state = *state * 1103515245u + 12345u;
      b = static_cast<std::uint8_t>(*state >> 16);
    }
  };
}

// The load generator on one core, the thread(s) it measures on another,
// where the process may use two. Whether they share one decides how full each
// recvmmsg batch is, and with it the cost per datagram: the bare echo measured
// about 350 k or about 680 k datagrams per CPU-second from one run to the
// next, as the scheduler placed the two threads. The client (the calling
// thread) gets its cores back when this ends.
class SeparateCores {
 public:
  explicit SeparateCores(std::initializer_list<std::thread*> serving) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (::pthread_getaffinity_np(::pthread_self(), sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) return;
    std::vector<std::size_t> cpus;
    for (std::size_t cpu = 0; cpu < std::size_t{CPU_SETSIZE} && cpus.size() < 2; ++cpu)
      if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
    cpu_set_t client_core, serving_core;
    CPU_ZERO(&client_core);
    CPU_ZERO(&serving_core);
    CPU_SET(cpus[0], &client_core);
    CPU_SET(cpus[1], &serving_core);
    for (std::thread* t : serving)
      if (::pthread_setaffinity_np(t->native_handle(), sizeof serving_core, &serving_core) != 0) return;
    if (::pthread_setaffinity_np(::pthread_self(), sizeof client_core, &client_core) != 0) return;
    restore_ = allowed;
  }
  SeparateCores(const SeparateCores&) = delete;
  SeparateCores& operator=(const SeparateCores&) = delete;
  ~SeparateCores() {
    if (restore_) ::pthread_setaffinity_np(::pthread_self(), sizeof *restore_, &*restore_);
  }
  bool pinned() const { return restore_.has_value(); }

 private:
  std::optional<cpu_set_t> restore_;
};

// The CPU time `thread` has used, in seconds.
double thread_cpu_s(std::thread& thread) {
  clockid_t clock{};
  timespec t{};
  if (::pthread_getcpuclockid(thread.native_handle(), &clock) != 0 || ::clock_gettime(clock, &t) != 0) return 0;
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

probes::ServerHints bench_hints() {
  probes::ServerHints h;
  h.wireguard_public_key.emplace();
  for (std::size_t i = 0; i < 32; ++i) (*h.wireguard_public_key)[i] = static_cast<std::uint8_t>(0xA0 + i);
  return h;
}

// One live session; replaced (outside the timed region) before it reaches
// max_observations, so every handled arrival is recorded and answered.
void bench_handle(benchmark::State& state, bool openvpn) {
  constexpr std::size_t kPerSession = 50'000;
  SessionLimits limits;
  limits.max_observations = kPerSession;
  limits.max_observation_bytes = std::size_t{1} << 30;
  limits.max_total_observation_bytes = std::size_t{1} << 30;
  SessionTable table(limits);
  auto rnd = lcg_fill(7);
  const probes::ServerHints hints = bench_hints();
  // The replies' random bytes as the server draws them (bulk CSPRNG): the
  // benchmark's own byte-at-a-time generator cost a seventh of each WireGuard
  // reply here, which the reflector never pays.
  ArrivalHandler handler(table, hints, csprng());

  std::string session_id;
  probes::Bytes packet;
  auto new_session = [&] {
    if (!session_id.empty()) table.remove(session_id);
    auto created = table.create({"203.0.113.9", 5555}, rnd);
    if (!created.session) throw std::runtime_error("session table refused");
    session_id = created.session->id;
    probes::ProbeToken token{created.session->tag, 1};
    packet = openvpn ? probes::openvpn::build_client_reset(token, hints, rnd)
                     : probes::wireguard::build_initiation(token, hints, rnd);
  };
  new_session();

  Arrival a;
  a.framing = Framing::datagram;
  a.local_port = openvpn ? 1194 : 51820;
  a.source = {"198.51.100.7", 40001};
  a.ttl = 57;
  a.tos = 0;
  a.received_at_unix_ms = 1700000000000;
  std::size_t in_session = 0;
  std::uint64_t answered = 0;
  for (auto _ : state) {
    if (in_session == kPerSession) {
      state.PauseTiming();
      new_session();
      in_session = 0;
      state.ResumeTiming();
    }
    a.payload = packet;
    ArrivalOutcome out = handler.handle(a);
    if (!out.reply.empty()) ++answered;
    benchmark::DoNotOptimize(out);
    ++in_session;
  }
  state.SetItemsProcessed(state.iterations());
  if (answered != static_cast<std::uint64_t>(state.iterations()))
    state.SkipWithError("an arrival was not answered");
}

void BM_HandleWireGuardInitiation(benchmark::State& state) { bench_handle(state, false); }
void BM_HandleOpenVpnReset(benchmark::State& state) { bench_handle(state, true); }
BENCHMARK(BM_HandleWireGuardInitiation);
BENCHMARK(BM_HandleOpenVpnReset);

// --- end to end over loopback -------------------------------------------------

namespace http = boost::beast::http;

// The batched client's headers: every send slot points at the same datagram,
// every receive slot has a buffer of its own.
struct ClientSlots {
  explicit ClientSlots(int window)
      : send_iov(static_cast<std::size_t>(window)),
        recv_iov(send_iov.size()),
        send_h(send_iov.size()),
        recv_h(send_iov.size()),
        recv_buf(send_iov.size()) {
    for (std::size_t i = 0; i < send_iov.size(); ++i) {
      recv_iov[i] = iovec{recv_buf[i].data(), recv_buf[i].size()};
      recv_h[i].msg_hdr.msg_iov = &recv_iov[i];
      recv_h[i].msg_hdr.msg_iovlen = 1;
      send_h[i].msg_hdr.msg_iov = &send_iov[i];
      send_h[i].msg_hdr.msg_iovlen = 1;
    }
  }
  void send(const probes::Bytes& datagram) {
    for (auto& iov : send_iov) iov = iovec{const_cast<std::uint8_t*>(datagram.data()), datagram.size()};
  }
  // Slot i sends datagrams[i % size]: a window shared by several sessions.
  void send_each(const std::vector<probes::Bytes>& datagrams) {
    for (std::size_t i = 0; i < send_iov.size(); ++i) {
      const auto& d = datagrams[i % datagrams.size()];
      send_iov[i] = iovec{const_cast<std::uint8_t*>(d.data()), d.size()};
    }
  }
  std::vector<iovec> send_iov, recv_iov;
  std::vector<mmsghdr> send_h, recv_h;
  std::vector<std::array<std::uint8_t, 256>> recv_buf;
};

// The batched load generator: tops a window of `window` datagrams up with one
// sendmmsg, takes whatever answers wait with one recvmmsg, until `total` were
// answered or lost (a 200 ms silence loses the window). Returns the answers
// of `answer_size` bytes.
std::size_t batched_client(int fd, ClientSlots& slots, int window, std::size_t total, std::size_t answer_size,
                           std::uint64_t& lost) {
  auto& send_h = slots.send_h;
  auto& recv_h = slots.recv_h;
  std::size_t sent = 0, received = 0;
  int in_flight = 0;
  while (received + lost < total || in_flight > 0) {
    // From the slot after the last one sent, so every slot's datagram is
    // sent as often as the others (ClientSlots::send_each).
    const std::size_t first = sent % static_cast<std::size_t>(window);
    const auto room = std::min({static_cast<std::size_t>(window - in_flight), total - sent,
                                static_cast<std::size_t>(window) - first});
    if (room > 0) {
      int n = ::sendmmsg(fd, send_h.data() + first, static_cast<unsigned>(room), 0);
      if (n > 0) in_flight += n;
      sent += n > 0 ? static_cast<std::size_t>(n) : room;  // a failed send is not waited for
    }
    if (in_flight == 0) break;
    int n = ::recvmmsg(fd, recv_h.data(), static_cast<unsigned>(in_flight), MSG_WAITFORONE, nullptr);
    if (n < 0) {  // timed out: count the window as lost
      lost += static_cast<std::uint64_t>(in_flight);
      in_flight = 0;
      continue;
    }
    for (int i = 0; i < n; ++i) {
      if (recv_h[static_cast<std::size_t>(i)].msg_len != answer_size) continue;
      ++received;
      --in_flight;
    }
  }
  return received;
}

// The probes the loopback benchmarks send: a WireGuard initiation (148 B; the
// reflector checks its mac1, a keyed BLAKE2s, and answers 92 B) or an OpenVPN
// P_CONTROL_HARD_RESET_CLIENT_V2 without tls-auth (42 B, answered 26 B).
enum class LoadProbe { wireguard_initiation, openvpn_reset };

probes::Bytes load_probe(LoadProbe probe, const probes::ProbeToken& token, const probes::ServerHints& hints,
                         const probes::RandomFill& rnd) {
  return probe == LoadProbe::openvpn_reset
             ? probes::openvpn::build_client_reset(probes::openvpn::Form::plain, token, rnd)
             : probes::wireguard::build_initiation(token, hints, rnd);
}

std::size_t load_answer_size(LoadProbe probe) {
  return probe == LoadProbe::openvpn_reset ? probes::openvpn::kServerResetSize : probes::wireguard::kResponseSize;
}

constexpr std::size_t kProbesPerSlice = 20'000;  // probes per benchmark iteration (per server, when paired)

// A UDP socket connected to 127.0.0.1:`port`, with the room and patience the
// batched client needs (a lost datagram frees its window slot after 200 ms).
int client_socket(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int buf = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  timeval tv{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  return fd;
}

// The whole in-process Server on its own I/O thread, set up for `sessions`
// sessions taking kProbesPerSlice probes between them (1: one session, its
// budgets raised; more: each within the default budgets).
class LoopbackReflector {
 public:
  explicit LoopbackReflector(std::size_t sessions) : log_(LogLevel::error, &log_text_), server_(config(sessions), &log_) {
    if (sessions > 1 && kProbesPerSlice / sessions + 1 > config(sessions).max_observations)
      error_ = "too few sessions for the default observation budget";
    else if (auto error = server_.start())
      error_ = *error;
    else
      io_ = std::thread([this] { server_.run(); });
  }
  LoopbackReflector(const LoopbackReflector&) = delete;
  LoopbackReflector& operator=(const LoopbackReflector&) = delete;
  ~LoopbackReflector() {
    if (!io_.joinable()) return;
    server_.stop();
    io_.join();
  }
  const std::optional<std::string>& error() const { return error_; }
  std::thread& io_thread() { return io_; }
  std::uint16_t udp_port() const { return server_.ports().udp.at(0); }
  std::uint64_t drops() const { return server_.drops().total(); }
  probes::ServerHints hints() const {
    probes::ServerHints hints;
    auto key = probes::from_hex(server_.wireguard_public_key_hex());
    hints.wireguard_public_key.emplace();
    std::copy(key->begin(), key->end(), hints.wireguard_public_key->begin());
    return hints;
  }

  // `count` new sessions over the control API, and the probe each is sent;
  // false (and error()) when the reflector refused one.
  bool open_sessions(std::size_t count, LoadProbe probe, const probes::RandomFill& rnd,
                     std::vector<probes::Bytes>& datagrams) {
    const probes::ServerHints server_hints = hints();
    std::string error;
    while (ids_.size() < count) {
      auto created = test::blocking_http_call(server_.ports().control, http::verb::post, "/v1/sessions");
      auto info = probes::session_info_from_json(created.body(), error);
      if (!info) {
        error_ = "session: " + error;
        return false;
      }
      ids_.push_back(info->session_id);
      datagrams.push_back(load_probe(probe, {*probes::tag_from_hex(info->tag_hex), 1}, server_hints, rnd));
    }
    return true;
  }
  void close_sessions() {
    for (const auto& id : ids_)
      test::blocking_http_call(server_.ports().control, http::verb::delete_, "/v1/sessions/" + id);
    ids_.clear();
  }

 private:
  static Config config(std::size_t sessions) {
    Config config = test::loopback_config();
    config.tcp_ports = {};
    config.rate_limit = 0;  // one source sends everything
    config.max_sessions_per_client = std::max(config.max_sessions_per_client, sessions);
    if (sessions == 1) {
      config.max_observations = kProbesPerSlice + 1000;
      config.max_observation_bytes = std::size_t{1} << 30;
      config.max_total_observation_bytes = std::size_t{1} << 30;
    }
    return config;
  }
  std::ostringstream log_text_;
  Logger log_;
  Server server_;
  std::thread io_;
  std::optional<std::string> error_;
  std::vector<std::string> ids_;
};

// An iteration's sessions and the probe of each, opened with the timing
// paused (the caller resumes it); nullopt when the reflector refused one (the
// benchmark is then skipped).
std::optional<std::vector<probes::Bytes>> open_sessions(benchmark::State& state, LoopbackReflector& reflector,
                                                        std::size_t sessions, LoadProbe probe,
                                                        const probes::RandomFill& rnd) {
  state.PauseTiming();
  std::vector<probes::Bytes> datagrams;
  if (reflector.open_sessions(sessions, probe, rnd, datagrams)) return datagrams;
  state.SkipWithError(reflector.error()->c_str());
  return std::nullopt;
}

void bench_loopback(benchmark::State& state, LoadProbe probe) {
  const int window = static_cast<int>(state.range(0));
  const bool batched = state.range(1) != 0;
  // 1: one session takes every probe of an iteration, its budgets raised to
  // hold them. More: that many sessions share the window (slot i sends
  // session i % sessions' probe), each within the default budgets, as a
  // reflector serving many clients keeps them.
  const auto sessions = static_cast<std::size_t>(state.range(2));

  LoopbackReflector reflector(sessions);
  if (reflector.error()) {
    state.SkipWithError(reflector.error()->c_str());
    return;
  }
  const SeparateCores cores({&reflector.io_thread()});
  // The reflector's I/O thread's own CPU time over the timed part: the machine
  // is shared, so answered probes per second of that one core's time measures
  // the reflector's capacity where wall-clock rates also measure the neighbours.
  double reflector_cpu_s = 0;
  const int fd = client_socket(reflector.udp_port());
  auto rnd = lcg_fill(3);

  std::uint64_t answered = 0, lost = 0;
  std::array<std::uint8_t, 2048> reply{};
  ClientSlots slots(window);
  for (auto _ : state) {
    const auto datagrams = open_sessions(state, reflector, sessions, probe, rnd);
    if (!datagrams) break;
    const probes::Bytes& init = datagrams->front();
    slots.send_each(*datagrams);
    const double cpu_before = thread_cpu_s(reflector.io_thread());
    state.ResumeTiming();

    std::size_t sent = 0, received = 0;
    int in_flight = 0;
    const std::size_t answer_size = load_answer_size(probe);
    if (batched) received = batched_client(fd, slots, window, kProbesPerSlice, answer_size, lost);
    while (!batched && (received + lost < kProbesPerSlice || in_flight > 0)) {
      while (in_flight < window && sent < kProbesPerSlice) {
        if (::send(fd, init.data(), init.size(), 0) == static_cast<ssize_t>(init.size())) ++in_flight;
        ++sent;
      }
      if (in_flight == 0) break;
      ssize_t n = ::recv(fd, reply.data(), reply.size(), 0);
      if (n == static_cast<ssize_t>(answer_size)) {
        ++received;
        --in_flight;
      } else if (n < 0) {  // timed out: count the window as lost
        lost += static_cast<std::uint64_t>(in_flight);
        in_flight = 0;
      }
    }
    answered += received;

    state.PauseTiming();
    reflector_cpu_s += thread_cpu_s(reflector.io_thread()) - cpu_before;
    reflector.close_sessions();
    state.ResumeTiming();
  }
  ::close(fd);
  state.counters["answered_per_s"] = benchmark::Counter(static_cast<double>(answered), benchmark::Counter::kIsRate);
  state.counters["answered"] = static_cast<double>(answered);
  state.counters["lost"] = static_cast<double>(lost);
  state.counters["per_reflector_cpu_s"] = reflector_cpu_s > 0 ? static_cast<double>(answered) / reflector_cpu_s : 0;
  state.counters["separate_cores"] = cores.pinned() ? 1 : 0;
  state.counters["drops"] = static_cast<double>(reflector.drops());
}
void BM_LoopbackWireGuard(benchmark::State& state) { bench_loopback(state, LoadProbe::wireguard_initiation); }
void BM_LoopbackOpenVpnReset(benchmark::State& state) { bench_loopback(state, LoadProbe::openvpn_reset); }
BENCHMARK(BM_LoopbackWireGuard)
    ->ArgNames({"window", "batched_client", "sessions"})
    ->Args({1, 0, 1})
    ->Args({32, 0, 1})
    ->Args({128, 0, 1})
    ->Args({32, 1, 1})
    ->Args({128, 1, 1})
    ->Args({128, 1, 128})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoopbackOpenVpnReset)
    ->ArgNames({"window", "batched_client", "sessions"})
    ->Args({128, 1, 1})
    ->Args({128, 1, 128})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- the ceiling: a bare recvmmsg/sendmmsg echo ------------------------------

// Every datagram sent back as it came, from one thread, in the reflector's
// batch size (reflector/udp_batch.h), until destroyed.
class BareEcho {
 public:
  static constexpr unsigned kVlen = 64;

  BareEcho() {
    socket_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(socket_, reinterpret_cast<sockaddr*>(&at), sizeof at);
    socklen_t at_len = sizeof at;
    ::getsockname(socket_, reinterpret_cast<sockaddr*>(&at), &at_len);
    port_ = ntohs(at.sin_port);
    timeval stop_poll{0, 50'000};  // how soon the thread sees `stopping_`
    ::setsockopt(socket_, SOL_SOCKET, SO_RCVTIMEO, &stop_poll, sizeof stop_poll);
    thread_ = std::thread([this] { run(); });
  }
  BareEcho(const BareEcho&) = delete;
  BareEcho& operator=(const BareEcho&) = delete;
  ~BareEcho() {
    stopping_ = true;
    thread_.join();
    ::close(socket_);
  }
  std::uint16_t port() const { return port_; }
  std::thread& thread() { return thread_; }

 private:
  void run() {
    std::vector<std::array<std::uint8_t, 2048>> bufs(kVlen);
    std::vector<sockaddr_in> from(kVlen);
    std::vector<iovec> iov(kVlen);
    std::vector<mmsghdr> h(kVlen);
    while (!stopping_) {
      for (unsigned i = 0; i < kVlen; ++i) {
        iov[i] = iovec{bufs[i].data(), bufs[i].size()};
        h[i].msg_hdr = msghdr{};
        h[i].msg_hdr.msg_name = &from[i];
        h[i].msg_hdr.msg_namelen = sizeof from[i];
        h[i].msg_hdr.msg_iov = &iov[i];
        h[i].msg_hdr.msg_iovlen = 1;
      }
      int n = ::recvmmsg(socket_, h.data(), kVlen, MSG_WAITFORONE, nullptr);
      if (n <= 0) continue;
      for (int i = 0; i < n; ++i) iov[static_cast<std::size_t>(i)].iov_len = h[static_cast<std::size_t>(i)].msg_len;
      ::sendmmsg(socket_, h.data(), static_cast<unsigned>(n), 0);
    }
  }
  int socket_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

void bench_bare_echo(benchmark::State& state, LoadProbe probe) {
  const int window = static_cast<int>(state.range(0));
  BareEcho echo;
  const SeparateCores cores({&echo.thread()});
  const int fd = client_socket(echo.port());
  // The datagram the reflector is measured with, echoed as it came.
  probes::ServerHints hints = bench_hints();
  auto rnd = lcg_fill(3);
  const probes::Bytes init = load_probe(probe, {{1, 2, 3, 4, 5, 6}, 1}, hints, rnd);

  ClientSlots slots(window);
  slots.send(init);
  std::uint64_t answered = 0, lost = 0;
  double cpu_s = 0;
  for (auto _ : state) {
    const double cpu_before = thread_cpu_s(echo.thread());
    answered += batched_client(fd, slots, window, kProbesPerSlice, init.size(), lost);
    cpu_s += thread_cpu_s(echo.thread()) - cpu_before;
  }
  ::close(fd);
  state.counters["answered_per_s"] = benchmark::Counter(static_cast<double>(answered), benchmark::Counter::kIsRate);
  state.counters["lost"] = static_cast<double>(lost);
  state.counters["per_echo_cpu_s"] = cpu_s > 0 ? static_cast<double>(answered) / cpu_s : 0;
  state.counters["separate_cores"] = cores.pinned() ? 1 : 0;
}
void BM_BareEcho(benchmark::State& state) { bench_bare_echo(state, LoadProbe::wireguard_initiation); }
void BM_BareEchoOpenVpnReset(benchmark::State& state) { bench_bare_echo(state, LoadProbe::openvpn_reset); }
BENCHMARK(BM_BareEcho)->ArgNames({"window"})->Arg(32)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BareEchoOpenVpnReset)->ArgNames({"window"})->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);

// --- the reflector against the echo, side by side ----------------------------

// Both servers at once, on the same core, fed in turn by the same batched
// client (window 128) a slice of kProbesPerSlice each per iteration, in
// alternating order: whatever speed the machine runs at in a moment, both
// are measured in it. The machine's speed here moves from run to run (the
// echo alone between about 350 k and 800 k per CPU-second), and a reflector
// run compared with an echo run minutes apart moved the ratio as much as
// the reflector's own changes do. -> per_reflector_cpu_s, per_echo_cpu_s
// and their ratio, reflector_over_echo.
void bench_reflector_over_echo(benchmark::State& state, LoadProbe probe) {
  constexpr int kWindow = 128;
  const auto sessions = static_cast<std::size_t>(state.range(0));
  LoopbackReflector reflector(sessions);
  if (reflector.error()) {
    state.SkipWithError(reflector.error()->c_str());
    return;
  }
  BareEcho echo;
  const SeparateCores cores({&reflector.io_thread(), &echo.thread()});
  const int to_reflector = client_socket(reflector.udp_port());
  const int to_echo = client_socket(echo.port());
  auto rnd = lcg_fill(3);
  const probes::Bytes echoed = load_probe(probe, {{1, 2, 3, 4, 5, 6}, 1}, bench_hints(), rnd);
  ClientSlots reflector_slots(kWindow), echo_slots(kWindow);
  echo_slots.send(echoed);

  std::uint64_t reflector_answered = 0, echo_answered = 0, lost = 0;
  double reflector_cpu_s = 0, echo_cpu_s = 0;
  bool reflector_first = true;
  for (auto _ : state) {
    const auto datagrams = open_sessions(state, reflector, sessions, probe, rnd);
    if (!datagrams) break;
    reflector_slots.send_each(*datagrams);
    state.ResumeTiming();
    const auto reflector_slice = [&] {
      const double before = thread_cpu_s(reflector.io_thread());
      reflector_answered +=
          batched_client(to_reflector, reflector_slots, kWindow, kProbesPerSlice, load_answer_size(probe), lost);
      reflector_cpu_s += thread_cpu_s(reflector.io_thread()) - before;
    };
    const auto echo_slice = [&] {
      const double before = thread_cpu_s(echo.thread());
      echo_answered += batched_client(to_echo, echo_slots, kWindow, kProbesPerSlice, echoed.size(), lost);
      echo_cpu_s += thread_cpu_s(echo.thread()) - before;
    };
    if (reflector_first) {
      reflector_slice();
      echo_slice();
    } else {
      echo_slice();
      reflector_slice();
    }
    reflector_first = !reflector_first;
    state.PauseTiming();
    reflector.close_sessions();
    state.ResumeTiming();
  }
  ::close(to_reflector);
  ::close(to_echo);
  const double per_reflector = reflector_cpu_s > 0 ? static_cast<double>(reflector_answered) / reflector_cpu_s : 0;
  const double per_echo = echo_cpu_s > 0 ? static_cast<double>(echo_answered) / echo_cpu_s : 0;
  state.counters["per_reflector_cpu_s"] = per_reflector;
  state.counters["per_echo_cpu_s"] = per_echo;
  state.counters["reflector_over_echo"] = per_echo > 0 ? per_reflector / per_echo : 0;
  state.counters["lost"] = static_cast<double>(lost);
  state.counters["separate_cores"] = cores.pinned() ? 1 : 0;
  state.counters["drops"] = static_cast<double>(reflector.drops());
}
void BM_ReflectorOverEchoWireGuard(benchmark::State& state) {
  bench_reflector_over_echo(state, LoadProbe::wireguard_initiation);
}
void BM_ReflectorOverEchoOpenVpnReset(benchmark::State& state) {
  bench_reflector_over_echo(state, LoadProbe::openvpn_reset);
}
BENCHMARK(BM_ReflectorOverEchoWireGuard)->ArgNames({"sessions"})->Arg(1)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReflectorOverEchoOpenVpnReset)->ArgNames({"sessions"})->Arg(1)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);

// --- eviction as the tables fill ------------------------------------------------

probes::SessionTag tag_of(std::size_t n) {
  return {9, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
          static_cast<std::uint8_t>(n), 1};
}

void BM_FlowTableEvict(benchmark::State& state) {
  const auto capacity = static_cast<std::size_t>(state.range(0));
  FlowMemory flows(capacity, 16);
  std::size_t n = 0;
  auto source = [](std::size_t i) {
    return probes::Endpoint{"10." + std::to_string((i >> 16) & 0xff) + "." + std::to_string((i >> 8) & 0xff) + "." +
                                std::to_string(i & 0xff),
                            static_cast<std::uint16_t>(1 + (i >> 24))};
  };
  // Full, 16 flows per session, every flow live.
  for (; n < capacity; ++n)
    flows.remember(probes::Transport::udp, 4500, source(n), {tag_of(n / 16), 0}, 1000);
  std::vector<probes::Endpoint> fresh;
  for (std::size_t i = 0; i < 4096; ++i) fresh.push_back(source(n + i));
  std::size_t i = 0;
  for (auto _ : state) {
    auto forgotten = flows.remember(probes::Transport::udp, 4500, fresh[i % fresh.size()],
                                    {tag_of((n + i) / 16), 0}, 2000);
    benchmark::DoNotOptimize(forgotten);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["size"] = static_cast<double>(flows.size());
}
BENCHMARK(BM_FlowTableEvict)->ArgNames({"capacity"})->Arg(1024)->Arg(4096)->Arg(16384)->Arg(65536);

}  // namespace

BENCHMARK_MAIN();
