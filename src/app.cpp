#include "src/app.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "probes/registry.h"
#include "src/control/control_client.h"
#include "src/nat/gateway.h"
#include "src/nat/hop_trace.h"
#include "src/nat/nat64.h"
#include "src/nat/nat_runner.h"
#include "src/progress.h"
#include "src/report/html_report.h"
#include "src/report/json_report.h"
#include "src/report/junit_report.h"
#include "src/report/markdown_report.h"
#include "src/report/redact.h"
#include "src/report/text_report.h"
#include "src/run/runner.h"
#include "src/verdict/data_phase.h"
#include "src/verdict/evidence.h"
#include "src/verdict/path_mtu.h"
#include "src/verdict/reflector_limits.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

void secure_random(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) throw std::runtime_error("no randomness available");
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Every address of the reflector host (a literal is its only address), in the resolver's order.
asio::awaitable<std::vector<asio::ip::address>> resolve(const std::string& host, Clock::time_point deadline,
                                                        std::string& error) {
  boost::system::error_code ec;
  auto literal = asio::ip::make_address(host, ec);
  if (!ec) co_return std::vector<asio::ip::address>{literal};
  asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  auto result = co_await (resolver.async_resolve(host, "", asio::as_tuple(asio::use_awaitable)) ||
                          timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (result.index() == 1) {
    error = "could not resolve reflector host '" + host + "' in time";
    co_return std::vector<asio::ip::address>{};
  }
  auto [resolve_ec, entries] = std::get<0>(result);
  if (resolve_ec || entries.empty()) {
    error = "could not resolve reflector host '" + host + "': " + resolve_ec.message();
    co_return std::vector<asio::ip::address>{};
  }
  std::vector<asio::ip::address> out;
  for (const auto& e : entries) {
    auto a = e.endpoint().address();
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  co_return out;
}

// The hop trace waits at most this long; routers answer within a round trip
// or not at all, and it runs beside the probes, never after them.
constexpr milliseconds kHopTraceWindow{1000};
// The NAT behaviour tests and the gateway query (SSDP MX is 1 s) wait at most this long.
constexpr milliseconds kNatTestWindow{1500};
// -6 with an IPv4 fallback for the control session: how long IPv6 gets first.
constexpr milliseconds kControlFallbackAfter{1000};
// Proving the other family's address to the reflector, before the probes:
// one TCP round trip on a working path; a path that drops it costs this much.
constexpr milliseconds kAddressProofWait{300};

// The whole run, the final read of the observations included, ends within
// --timeout + 0.5 s: the read and the session's close get this much after the
// probes' deadline, and the rest is for starting, reporting and exiting.
constexpr milliseconds kFinalReadAllowance{300};
// Of that allowance, what is kept for closing the session, and how long the close may take.
constexpr milliseconds kCloseAllowance{50};
constexpr milliseconds kCloseWait{150};

// The captive-portal check: one plain HTTP request on TCP 80 beside the rest
// of the run, so it costs a clean run nothing. Shared with the coroutine that
// runs it, which may outlive the wait for it.
struct PortalCheck {
  std::string token;
  std::string url;  // what was asked for
  std::optional<WebAnswer> answer;
  asio::steady_timer done;  // cancelled when the answer is in
  explicit PortalCheck(asio::any_io_executor ex) : done(ex, Clock::time_point::max()) {}
};

asio::awaitable<void> ask_for_portal(std::shared_ptr<PortalCheck> check, asio::ip::tcp::endpoint web,
                                     std::string target, milliseconds timeout) {
  check->answer = co_await ask_challenge(web, std::move(target), timeout);
  check->done.cancel();
}

std::shared_ptr<PortalCheck> start_portal_check(asio::any_io_executor executor, const asio::ip::address& reflector,
                                                Clock::time_point deadline) {
  auto check = std::make_shared<PortalCheck>(executor);
  std::array<std::uint8_t, 16> token{};
  secure_random(token);
  check->token = probes::to_hex(token);
  const std::string target = challenge_target(check->token);
  const std::string host = reflector.is_v6() ? "[" + reflector.to_string() + "]" : reflector.to_string();
  check->url = "http://" + host + target;
  const auto timeout = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  asio::co_spawn(executor, ask_for_portal(check, {reflector, 80}, target, timeout), asio::detached);
  return check;
}

// The check's answer, waiting for it until `deadline` at most.
asio::awaitable<CaptivePortal> portal_verdict(PortalCheck& check, Clock::time_point deadline,
                                              ChallengeSupport support) {
  if (!check.answer && Clock::now() < deadline) {
    check.done.expires_at(deadline);
    co_await check.done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  WebAnswer answer;
  if (check.answer) {
    answer = *check.answer;
  } else {
    answer.failure = "no answer before the run's deadline";
  }
  co_return classify_web_answer(answer, check.token, check.url, support);
}

// The RFC 7050 lookup of ipv4only.arpa: one AAAA query to each of this
// host's resolvers (resolv.conf), beside the session's opening, never
// waited for past kDns64Window. Shared with the coroutines that run it.
constexpr milliseconds kDns64Window{1000};
struct Dns64Lookup {
  std::optional<nat::Nat64Prefix> prefix;
  std::size_t pending = 0;
  asio::steady_timer done;  // cancelled when a prefix is in or every resolver answered
  Clock::time_point deadline;
  explicit Dns64Lookup(asio::any_io_executor ex) : done(ex, Clock::time_point::max()) {}
  bool finished() const { return prefix || pending == 0 || Clock::now() >= deadline; }
};

asio::awaitable<void> ask_one_resolver(std::shared_ptr<Dns64Lookup> lookup, asio::ip::udp::endpoint server) {
  namespace ip = asio::ip;
  std::array<std::uint8_t, 2> id_bytes{};
  secure_random(id_bytes);
  const auto id = static_cast<std::uint16_t>((id_bytes[0] << 8) | id_bytes[1]);
  const auto query = nat::build_aaaa_query(id, nat::kIpv4OnlyName);
  ip::udp::socket socket(co_await asio::this_coro::executor);
  boost::system::error_code ec;
  socket.open(server.protocol(), ec);
  if (!ec) socket.connect(server, ec);
  // A lost query is sent once more halfway through the window.
  const auto resend_at = Clock::now() + (lookup->deadline - Clock::now()) / 2;
  bool resent = false;
  if (!ec) socket.send(asio::buffer(query), 0, ec);
  std::array<std::uint8_t, 1500> buffer{};
  asio::steady_timer timer(socket.get_executor());
  while (!ec && !lookup->prefix && Clock::now() < lookup->deadline) {
    timer.expires_at(resent ? lookup->deadline : std::min(resend_at, lookup->deadline));
    auto result = co_await (socket.async_receive(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable)) ||
                            timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (result.index() == 1) {
      if (!resent) {
        resent = true;
        socket.send(asio::buffer(query), 0, ec);
      }
      continue;
    }
    auto [receive_ec, n] = std::get<0>(result);
    if (receive_ec) break;  // e.g. ICMP port unreachable: no resolver there
    auto answer = nat::parse_aaaa_answer(probes::ByteView(buffer.data(), n), id);
    if (!answer) continue;  // not the answer to this query
    if (auto prefix = nat::prefix_from_ipv4only(*answer)) lookup->prefix = prefix;
    break;  // this resolver has spoken: a prefix, or no DNS64
  }
  if (--lookup->pending == 0 || lookup->prefix) lookup->done.cancel();
}

std::shared_ptr<Dns64Lookup> start_dns64_lookup(asio::any_io_executor executor) {
  auto lookup = std::make_shared<Dns64Lookup>(executor);
  lookup->deadline = Clock::now() + kDns64Window;
  std::ifstream file("/etc/resolv.conf");
  std::string text(64 * 1024, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(std::max<std::streamsize>(file.gcount(), 0)));
  std::vector<asio::ip::udp::endpoint> servers;
  for (const auto& name : nat::nameservers_from_resolv_conf(text)) {
    boost::system::error_code ec;
    auto a = asio::ip::make_address(name, ec);
    if (!ec) servers.emplace_back(a, 53);
  }
  lookup->pending = servers.size();
  for (const auto& server : servers) asio::co_spawn(executor, ask_one_resolver(lookup, server), asio::detached);
  return lookup;
}

// The lookup's prefix, waiting for it until `deadline` at most.
asio::awaitable<std::optional<nat::Nat64Prefix>> dns64_prefix(Dns64Lookup& lookup, Clock::time_point deadline) {
  if (!lookup.finished() && Clock::now() < deadline) {
    lookup.done.expires_at(std::min(deadline, lookup.deadline));
    co_await lookup.done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return lookup.prefix;
}

// An IPv4 address as the reflector wrote it (dotted quad, or IPv4-mapped IPv6).
std::optional<nat::Ipv4> ipv4_of(const std::string& text) {
  if (auto v4 = nat::parse_ipv4(text)) return v4;
  if (auto v6 = nat::parse_ipv6(text)) return nat::from_ipv4_mapped(*v6);
  return std::nullopt;
}

// Whether this host has a route towards `address` at all: a UDP socket's
// connect() asks the routing table and sends nothing. An IPv6-only host
// behind NAT64 resolves a name to its IPv4 address too (DNS64 answers A
// queries as they are), and must not pick the family it cannot use.
bool has_route(const asio::ip::address& address) {
  asio::io_context io;
  asio::ip::udp::socket socket(io);
  boost::system::error_code ec;
  socket.open(address.is_v4() ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
  if (!ec) socket.connect({address, 9}, ec);
  return ec != asio::error::network_unreachable;
}

// NAT64 (RFC 6146): the control session went to an IPv6 address and the
// reflector saw it come from an IPv4 one, so something on the way translated
// it. The prefix: the control address embeds one of the reflector's own IPv4
// addresses (RFC 6052 section 2.2), else what DNS64 said (RFC 7050).
struct Nat64Path {
  Nat64Finding finding;
  std::optional<nat::Nat64Prefix> prefix;
  std::optional<nat::Ipv4> reflector_ipv4;  // the reflector's IPv4 address the translator reached
};

std::optional<Nat64Path> detect_nat64(const asio::ip::address& control, const probes::SessionInfo& info) {
  if (!control.is_v6() || !ipv4_of(info.client.address)) return std::nullopt;
  Nat64Path path;
  path.finding.detected = true;
  const auto bytes = control.to_v6().to_bytes();
  nat::Ipv6 address{};
  std::copy(bytes.begin(), bytes.end(), address.begin());
  std::vector<nat::Ipv4> own;
  if (info.server)
    if (auto v4 = ipv4_of(info.server->address)) own.push_back(*v4);
  if (info.capabilities.alternate_address)
    if (auto v4 = ipv4_of(*info.capabilities.alternate_address)) own.push_back(*v4);
  for (const auto& v4 : own) {
    if (auto prefix = nat::prefix_embedding(address, v4)) {
      path.prefix = prefix;
      path.reflector_ipv4 = v4;
      path.finding.prefix = nat::to_string(*prefix);
      path.finding.source = "reflector_address";
      path.finding.reflector_ipv4 = nat::format_ipv4(v4);
      break;
    }
  }
  return path;
}

// The prefix DNS64 gave: the source when the address did not tell, a second
// one when it agrees.
void add_dns64_prefix(Nat64Path& path, const asio::ip::address& control, const std::optional<nat::Nat64Prefix>& dns) {
  if (!dns) return;
  if (path.prefix) {
    if (*path.prefix == *dns) path.finding.source = "reflector_address_and_dns64";
    return;
  }
  path.prefix = dns;
  path.finding.prefix = nat::to_string(*dns);
  path.finding.source = "dns64";
  const auto bytes = control.to_v6().to_bytes();
  nat::Ipv6 address{};
  std::copy(bytes.begin(), bytes.end(), address.begin());
  if (auto v4 = nat::embedded_ipv4(address, dns->length)) {
    path.reflector_ipv4 = v4;
    path.finding.reflector_ipv4 = nat::format_ipv4(*v4);
  }
}

asio::awaitable<void> run_session(const Options& o, Report& report, ProgressBoard& progress) {
  const auto timeout = milliseconds(static_cast<long>(o.timeout_s * 1000));
  // One deadline for the probes, whatever opening the session cost; the
  // observations are read in the allowance after it.
  const auto run_start = Clock::now();
  auto probes_deadline = run_start + timeout;
  auto run_deadline = probes_deadline + kFinalReadAllowance;
  std::string error;
  auto addresses = co_await resolve(o.reflector_host, Clock::now() + timeout, error);
  if (addresses.empty()) {
    report.error = error;
    co_return;
  }
  std::optional<asio::ip::address> v4, v6;
  for (const auto& a : addresses) {
    if (a.is_v4() && !v4) v4 = a;
    if (a.is_v6() && !v6) v6 = a;
  }
  if (v4 && v6 && !has_route(*v4)) v4.reset();
  // -6 restricts the probes to IPv6. The control session is vpncheck's own
  // channel, not a probe: it tries IPv6 first, then the host's IPv4 address,
  // rather than give up on a network that lets no TCP out over IPv6 (its
  // IPv6 UDP may still be worth testing).
  std::optional<asio::ip::address> control_fallback;
  if (o.ipv6_only && v4 && v6) control_fallback = v4;
  if (o.ipv4_only) v6.reset();
  if (o.ipv6_only) v4.reset();
  if (!v4 && !v6) {
    report.error = "reflector host '" + o.reflector_host + "' has no " + (o.ipv4_only ? "IPv4" : "IPv6") +
                   " address (-" + (o.ipv4_only ? "4" : "6") + " was given)";
    co_return;
  }
  // Only a host with no IPv4 address for the reflector can be reaching it through
  // a NAT64: then the RFC 7050 lookup runs beside the session's opening.
  std::shared_ptr<Dns64Lookup> dns64;
  if (!v4 && !control_fallback && v6 && !v6->is_loopback()) dns64 = start_dns64_lookup(co_await asio::this_coro::executor);
  std::vector<Family> families;
  if (v4) families.push_back(Family::ipv4);
  if (v6) families.push_back(Family::ipv6);
  // The control session stays on one family: IPv4 unless there is none (or -6).
  auto address = v4 ? v4 : v6;
  report.reflector_address = address->to_string();
  if (v4 && v6) report.reflector_address_v6 = v6->to_string();

  const ControlAccess access{o.auth_key, o.control_tls, o.reflector_host, o.reflector_ca, o.reflector_pin};
  std::vector<std::uint16_t> ports{o.control_port.value_or(kDefaultControlPort)};
  for (std::uint16_t web : {std::uint16_t{443}, std::uint16_t{80}})
    if (std::find(ports.begin(), ports.end(), web) == ports.end()) ports.push_back(web);
  // With a fallback, IPv6 gets a short first say: falling back costs at most that much more.
  const auto first_try = control_fallback ? std::min(timeout, kControlFallbackAfter) : timeout;
  // No portal sits between this host and itself: a web server of its own on
  // port 80 would only be mistaken for one.
  std::shared_ptr<PortalCheck> portal;
  if (!address->is_loopback()) portal = start_portal_check(co_await asio::this_coro::executor, *address, probes_deadline);
  auto opened = co_await open_session(o.reflector_host, *address, ports, Clock::now() + first_try, access);
  if (!opened.session && control_fallback) {
    // The time IPv6 got first is what falling back costs (see kControlFallbackAfter):
    // the run's deadlines start again here.
    probes_deadline = Clock::now() + timeout;
    run_deadline = probes_deadline + kFinalReadAllowance;
    auto retry = co_await open_session(o.reflector_host, *control_fallback, ports, Clock::now() + timeout, access);
    opened.attempts.insert(opened.attempts.end(), retry.attempts.begin(), retry.attempts.end());
    if (retry.session) {
      opened.session = std::move(retry.session);
      address = control_fallback;
      report.reflector_address = address->to_string();
      report.reflector_address_v6 = v6->to_string();
      report.control_fell_back = true;
    } else {
      opened.error += "; over IPv4: " + retry.error;
    }
  }
  report.control_attempts = opened.attempts;
  if (!opened.session) {
    // A portal explains a failed session better than the ports' answers do.
    if (portal) report.captive_portal = co_await portal_verdict(*portal, probes_deadline, ChallengeSupport::unknown);
    report.error = report.captive_portal && report.captive_portal->detected.value_or(false)
                       ? captive_portal_error(*report.captive_portal)
                       : opened.error;
    co_return;
  }
  const auto& session = *opened.session;
  report.control_port = session.control.port();
  report.reflector_version = session.info.reflector_version;

  // Probes of the other family leave from an address the reflector has not
  // seen on the control connection; it answers those at their genuine size
  // only once this host proves the address its own over TCP (else only with
  // what fits in the request, and some forms not at all).
  for (const auto& other : {v4, v6}) {
    if (!other || other->is_v4() == address->is_v4()) continue;
    co_await prove_address(asio::ip::tcp::endpoint(*other, session.control.port()), session.info.session_id,
                           std::min(timeout, kAddressProofWait), access);
  }

  auto nat64 = detect_nat64(*address, session.info);
  // Without the prefix from the address, DNS64's answer is waited for, within its window.
  if (nat64 && !nat64->prefix && dns64) add_dns64_prefix(*nat64, *address, co_await dns64_prefix(*dns64, probes_deadline));
  // Behind a NAT64 the raw IPv6 probes leave towards the translated address
  // and arrive, translated, at the reflector's IPv4 raw listeners: those are
  // the ones that decide whether they can run.
  auto plan_caps = session.info.capabilities;
  if (nat64) plan_caps.raw_protocols_v6 = plan_caps.raw_protocols;

  std::string select_error;
  auto modules = select_protocols(o.protocols, select_error);
  auto plan = make_plan(*modules, plan_caps, families);

  RunSettings settings;
  settings.reflector = *address;
  settings.reflector_v6 = v6;
  settings.tag = *probes::tag_from_hex(session.info.tag_hex);  // validated by the parser
  if (const auto& key_hex = session.info.capabilities.wireguard_public_key_hex) {
    auto key = probes::from_hex(*key_hex);
    if (key && key->size() == 32) {
      std::array<std::uint8_t, 32> k{};
      std::copy(key->begin(), key->end(), k.begin());
      settings.hints.wireguard_public_key = k;
    }
  }
  settings.tls_certificate_sha256 = session.info.capabilities.tls_certificate_sha256.value_or("");
  for (const auto& piece : session.info.capabilities.pieces) {
    const auto slash = piece.find('/');
    if (slash == std::string::npos) continue;
    if (piece.substr(slash + 1) == probes::kDataPiece) settings.data_phase_modules.push_back(piece.substr(0, slash));
    if (piece.substr(slash + 1) == probes::kDataIpPiece)
      settings.data_phase_ip_modules.push_back(piece.substr(0, slash));
  }
  settings.timeout = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(probes_deadline - Clock::now()));
  settings.random = secure_random;
  settings.on_progress = [&](std::size_t position, std::size_t, std::size_t) { progress.probe_finished(position); };
  std::map<std::size_t, std::vector<nat::WalkStep>> walks;
  settings.on_walk = [&](std::size_t position, std::vector<nat::WalkStep> steps) { walks[position] = std::move(steps); };
  // The NAT behaviour tests (IPv4, reflector with the NAT test service) run alongside the probes.
  std::optional<nat::NatTestPlan> nat_plan;
  const auto& caps = session.info.capabilities;
  // (IPv4 tests: not with -6, even when the control session fell back to IPv4.)
  // Behind a NAT64 they reach the reflector's IPv4 NAT test service through
  // the translator: every address of it synthesized under the prefix.
  const bool nat_via_nat64 = nat64 && nat64->prefix && nat64->reflector_ipv4;
  if (((address->is_v4() && !o.ipv6_only) || nat_via_nat64) && !caps.nat_ports.empty() && caps.nat_ports.front() != 0) {
    nat::NatTestPlan p;
    if (nat_via_nat64) {
      p.primary = asio::ip::address_v4(*nat64->reflector_ipv4);
      p.via_nat64 = nat64->prefix;
      // IPv4's DF and fragments have no counterpart this side of the translator.
      p.path = false;
    } else {
      p.primary = address->to_v4();
    }
    p.port = caps.nat_ports[0];
    if (caps.nat_ports.size() > 1 && caps.nat_ports[1] != 0 && caps.nat_ports[1] != p.port) p.other_port = caps.nat_ports[1];
    if (caps.alternate_address) {
      boost::system::error_code ec;
      auto alt = asio::ip::make_address_v4(*caps.alternate_address, ec);
      if (!ec && !alt.is_unspecified() && alt != p.primary) p.alternate = alt;
    }
    p.tag = settings.tag;
    // Lost packets are retransmitted within this window before a "no" is believed;
    // a clean network should not wait the whole probe timeout for the unsolicited tests.
    p.timeout = std::min(settings.timeout, kNatTestWindow);
    p.random = secure_random;
    p.hairpin = o.hairpin;
    // A gap longer than the session lives would read as "expired" for the wrong reason.
    for (int gap : o.nat_lifetime_gaps)
      if (session.info.expires_in_s <= 0 || gap + 15 < session.info.expires_in_s) p.lifetime_gaps.push_back(gap);
    nat_plan = std::move(p);
  }
  if (nat_plan && !nat_plan->lifetime_gaps.empty() && progress.enabled())
    progress.note("measuring the UDP binding lifetime: up to " + std::to_string(nat_plan->lifetime_gaps.back()) + " s");
  progress.start(plan);
  // The default gateway's port-mapping protocols: IPv4 only, and never for a
  // reflector on this very host (no NAT in between; tests run that way).
  const bool ask_gateway = o.query_gateway && address->is_v4() && !o.ipv6_only && !address->is_loopback();
  std::vector<ProbeResult> results;
  std::optional<nat::NatMeasurements> nat_measured;
  std::optional<nat::GatewayFacts> gateway_facts;
  auto nat_tests = [&]() -> asio::awaitable<void> {
    if (nat_plan) nat_measured = co_await nat::run_nat_tests(*nat_plan);
  };
  auto gateway = [&]() -> asio::awaitable<void> {
    if (ask_gateway) gateway_facts = co_await nat::query_gateway(std::min(settings.timeout, kNatTestWindow));
  };
  // The routers on the way (CGNAT, double NAT): to a UDP port the reflector
  // listens on, so the datagram that reaches it draws no ICMP from its host.
  std::optional<std::uint16_t> hop_port;
  if (!caps.nat_ports.empty() && caps.nat_ports.front() != 0) hop_port = caps.nat_ports.front();
  else if (!caps.udp_ports.empty() && caps.udp_ports.front() != 0) hop_port = caps.udp_ports.front();
  const bool trace = address->is_v4() && !o.ipv6_only && !address->is_loopback() && hop_port;
  std::optional<std::vector<nat::Hop>> hops;
  auto others_done = std::make_shared<bool>(false);
  auto hop_trace = [&]() -> asio::awaitable<void> {
    if (trace)
      hops = co_await nat::trace_hops(address->to_v4(), *hop_port, std::min(settings.timeout, kHopTraceWindow),
                                      others_done);
  };
  auto probes = [&]() -> asio::awaitable<void> { results = co_await run_plan(plan, settings); };
  auto measurements = [&]() -> asio::awaitable<void> {
    co_await (probes() && nat_tests() && gateway());
    *others_done = true;
  };
  co_await (measurements() && hop_trace());
  progress.clear();
  // Not waited for: an answer still missing when the probes are done is no evidence either way.
  if (portal)
    report.captive_portal = co_await portal_verdict(
        *portal, Clock::now(), caps.portal_challenge ? ChallengeSupport::yes : ChallengeSupport::no);

  auto until = [](Clock::time_point deadline) {
    return std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  };
  auto observations = co_await fetch_observations(session.control, session.info.session_id,
                                                  until(run_deadline - kCloseAllowance), access);
  if (observations.invalid) {
    // A reflector that answers garbage has told nothing about the network.
    report.error = observations.error;
    co_await close_session(session.control, session.info.session_id, std::min(kCloseWait, until(run_deadline)),
                           access);
    co_return;
  }
  report.observations_read = observations.list.has_value();
  report.observations_error = observations.error;
  if (observations.list) {
    report.observations_dropped = observations.list->dropped;
    report.reflector_limits = observations.list->limits;
    for (auto& obs : observations.list->observations) {
      if (obs.probe_index >= results.size()) continue;
      auto& r = results[obs.probe_index];
      (obs.kind == probes::kDataObservation ? r.data_arrivals : r.arrivals).push_back(std::move(obs));
    }
  }

  settle_round_trips(results);
  for (const auto* module : *modules) {
    std::vector<ProbeResult> mine;
    for (const auto& r : results)
      if (r.probe.module == module) mine.push_back(r);
    report.protocols.push_back(assess_families(*module, mine, report.observations_read));
  }
  if (nat64) {
    if (dns64) add_dns64_prefix(*nat64, *address, dns64->prefix);
    report.nat64 = nat64->finding;
  } else if (address->is_v6()) {
    report.nat64 = Nat64Finding{};
  }
  report.path_loss = estimate_loss(results);
  const nat::LossEstimate nat_loss = nat_measured ? nat_measured->loss : nat::LossEstimate{};
  report.path_loss += nat_loss;
  // Before anything builds on the verdicts, failing ones are checked against
  // what else explains them: the reflector's own limits first (a reason it
  // knows), then the path's loss (a chance it measured).
  apply_reflector_limits(report.protocols, report.reflector_limits);
  apply_loss_evidence(report.protocols, report.observations_read, nat_loss);
  summarise_client(report, session.local, session.info.client);
  // The NAT seen by an IPv4 control session says nothing about the IPv6 probes.
  if (report.control_fell_back) report.behind_nat.reset();
  if (nat_measured) {
    nat::discount_unvalidated(*nat_measured, session.info.client.address);
    apply_nat_tests(report.nat, nat::assess_nat(*nat_measured));
    apply_path_mtu(report.protocols, report.nat.tests->mtu);
  }
  // After the path test: its MTU, when measured, is the one the data phase's advice is built on.
  std::optional<int> path_mtu;
  if (report.nat.tests && report.nat.tests->path) path_mtu = report.nat.tests->path->facts.path_mtu;
  apply_data_phase(report.protocols, report.observations_read && report.observations_dropped == 0, path_mtu);
  // Once the data phase has judged each: a protocol whose data does not pass is not an alternative.
  add_alternatives(report.protocols);
  if (gateway_facts) apply_gateway_facts(report.nat, *gateway_facts, report.public_address);
  if (hops) apply_hops(report.nat, nat::classify_hops(*hops, nat::parse_ipv4(address->to_string())));
  std::optional<std::string> gateway_address;
  if (gateway_facts && gateway_facts->gateway) gateway_address = nat::format_ipv4(*gateway_facts->gateway);
  apply_path_walks(report, walks, gateway_address);
  // Derived, not probed: present only when all they are derived from were assessed.
  add_derived(report.protocols, report.behind_nat);
  // Best effort (the reflector expires sessions on its own): one round trip's
  // worth, within the run's deadline.
  co_await close_session(session.control, session.info.session_id, std::min(kCloseWait, until(run_deadline)),
                         access);
}

// Writes one report form to `path` ("-" = `out`); false, with a line on `err`, if it could not.
bool write_output(const std::string& what, const std::string& path, const std::string& text, std::ostream& out,
                  std::ostream& err) {
  if (path == "-") {
    out << text << std::flush;
    return true;
  }
  std::ofstream file(path, std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    err << "vpncheck: cannot write the " << what << " report to " << path << "\n";
    return false;
  }
  return true;
}

bool any_to_stdout(const Options& o) {
  for (const auto* path : {&o.json_path, &o.junit_path, &o.markdown_path, &o.html_path})
    if (*path && **path == "-") return true;
  return false;
}

}  // namespace

void list_probes(std::ostream& out) {
  out << "PROTOCOL   PROBES (genuine + same-size random control on UDP/TCP ones)    DESCRIPTION\n";
  for (const auto* m : probes::all_protocols()) {
    std::string variants;
    for (const auto& v : m->variants) {
      // Pieces of a multi-piece protocol are all required: name them instead of
      // "(standard)"; a piece that is not standard is a fallback for the others.
      std::string text = v.piece.empty() ? describe(v) + (v.standard ? " (standard)" : "")
                                         : std::string(v.piece) + " " + describe(v) + (v.standard ? "" : " (fallback)");
      variants += (variants.empty() ? "" : ", ") + text;
    }
    std::string id(m->id);
    id.resize(std::max<std::size_t>(id.size(), 10), ' ');
    variants.resize(std::max<std::size_t>(variants.size(), 62), ' ');
    out << id << " " << variants << " " << m->description << "\n";
  }
}

int run_vpncheck(const Options& o, std::ostream& out, std::ostream& err) {
  if (o.list_probes) {
    list_probes(out);
    return 0;
  }
  Report report;
  report.started_at = now_rfc3339();
  report.reflector_host = o.reflector_host;
  report.reflector_address = o.reflector_host;
  report.required = o.required;
  // A report on stdout is then the only thing there (e.g. --markdown - >> "$GITHUB_STEP_SUMMARY").
  const bool report_to_stdout = any_to_stdout(o);
  // The board moves the cursor: only on a terminal that can (stderr; TERM not "dumb").
  const char* term = std::getenv("TERM");
  const bool board = !report_to_stdout && ::isatty(2) == 1 && !(term && std::string_view(term) == "dumb");
  ProgressBoard progress(err, board, board ? terminal_width(2) : 0);

  const auto t0 = Clock::now();
  asio::io_context io;
  std::string internal_error;
  asio::co_spawn(io, run_session(o, report, progress), [&](std::exception_ptr e) {
    // Requests that lost a race (a second read of the observations, a
    // connection attempt whose rival won) are not waited for.
    io.stop();
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      internal_error = ex.what();
    }
  });
  io.run();
  report.duration_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  if (!internal_error.empty()) report.error = "internal error: " + internal_error;
  report.exit_code = exit_code_for(report);

  // --redact applies to every form alike, stderr included: CI logs are shared too.
  const Report shown = o.redact ? redact(report) : report;
  if (shown.error) err << "vpncheck: " << *shown.error << "\n";
  if (!report_to_stdout) write_text_report(out, shown, detect_text_style(o.no_color, o.verbose, 1));
  bool written = true;
  const auto document = to_report_json(shown);
  if (o.json_path) {
    // Replaced, not thrown: a byte that is not UTF-8 must never abort the report.
    const std::string json = document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    written = write_output("JSON", *o.json_path, json + "\n", out, err) && written;
  }
  // From the same document as the JSON report, so the two cannot disagree.
  if (o.html_path) written = write_output("HTML", *o.html_path, render_html_report(document), out, err) && written;
  if (o.junit_path) {
    std::ostringstream xml;
    write_junit_report(xml, shown);
    written = write_output("JUnit", *o.junit_path, xml.str(), out, err) && written;
  }
  if (o.markdown_path) {
    std::ostringstream md;
    write_markdown_report(md, shown);
    written = write_output("Markdown", *o.markdown_path, md.str(), out, err) && written;
  }
  if (!written && report.exit_code == ExitCode::ok) return static_cast<int>(ExitCode::could_not_test);
  return static_cast<int>(report.exit_code);
}

}  // namespace vpncheck::client
