#include "reflector/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "probes/bytes.h"
#include "probes/ip.h"
#include "probes/registry.h"
#include "reflector/random.h"
#include "reflector/udp_listener.h"

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kSweepInterval{30};

SessionLimits limits_from(const Config& c) {
  SessionLimits limits;
  limits.ttl = std::chrono::seconds(c.session_ttl_s);
  limits.max_sessions = c.max_sessions;
  limits.max_observations = c.max_observations;
  limits.max_observation_bytes = c.max_observation_bytes;
  limits.max_total_observation_bytes = c.max_total_observation_bytes;
  limits.max_sessions_per_client = c.max_sessions_per_client;
  return limits;
}

probes::ServerHints hints_for(const std::array<std::uint8_t, 32>& key) {
  probes::ServerHints hints;
  hints.wireguard_public_key = key;
  return hints;
}

std::array<std::uint8_t, 32> random_key() {
  std::array<std::uint8_t, 32> key{};
  csprng_fill(key);
  return key;
}

std::string join_ports(std::string_view prefix, const std::vector<std::uint16_t>& ports) {
  std::string out;
  for (auto p : ports) out += (out.empty() ? "" : " ") + std::string(prefix) + std::to_string(p);
  return out.empty() ? "none" : out;
}

std::string join_raw(const std::vector<std::string>& names, std::string_view family = "IPv4") {
  std::string out = "; raw " + std::string(family);
  for (const auto& n : names) out += " " + n;
  return out;
}

// Expired sessions are also purged lazily; this bounds memory when nobody asks.
asio::awaitable<void> sweep_loop(asio::steady_timer& timer, SessionTable& sessions, ArrivalHandler& arrivals,
                                 RateLimiter& limiter, Logger& log) {
  while (true) {
    timer.expires_after(kSweepInterval);
    auto [ec] = co_await timer.async_wait(kAwait);
    if (ec) break;
    std::size_t purged = sessions.purge_expired();
    limiter.forget_refilled();
    if (purged > 0 || log.enabled(LogLevel::debug))
      log.debug("sessions: " + std::to_string(sessions.size()) + " live, " + std::to_string(purged) +
                " expired; drops: " + arrivals.drops().summary());
  }
}

}  // namespace

Server::Server(Config config, Logger* log)
    : config_(std::move(config)),
      own_log_(log == nullptr ? std::make_unique<Logger>(config_.log_level) : nullptr),
      log_(log == nullptr ? *own_log_ : *log),
      wireguard_key_(random_key()),
      wireguard_key_hex_(probes::to_hex(wireguard_key_)),
      limiter_(RateLimit{config_.rate_limit, config_.rate_limit}),
      sessions_(limits_from(config_)),
      arrivals_(sessions_, hints_for(wireguard_key_), csprng(), &metrics_, &limiter_),
      io_(std::make_unique<asio::io_context>(1)) {
  sessions_.count_into(&metrics_);
  // Nothing about a client outlives its session: its flows, its part of the
  // modules' server state (PPTP's calls), rate-limit buckets and pending NAT
  // answers go with it.
  sessions_.on_erase([this](const Session& session) {
    arrivals_.forget_session(session);
    if (nat_) nat_->forget_session(session.tag);
    // Refusals are tallied per address, so one still in use by another
    // session (CGNAT) keeps its tally for that session's report.
    auto forget_refusals = [&](const std::string& address) {
      if (!sessions_.in_use(address, session)) refusals_.forget(address);
    };
    forget_refusals(session.client.address);
    for (const auto& address : session.sources) forget_refusals(address);
  });
}

Server::~Server() {
  io_->stop();
  close_listeners();
  // Sockets before the io_context, the io_context (and with it every
  // suspended coroutine frame) before the state the frames refer to.
  sweep_.reset();
  nat_.reset();
  udp_sockets_.clear();
  acceptors_.clear();
  io_.reset();
}

namespace {

// Why a probe port could not be bound, in words for the operator's log and the
// client's report (the errno text alone does not say what to do).
std::string explain_bind_error(const boost::system::error_code& ec, std::uint16_t port) {
  if (ec == boost::asio::error::address_in_use) return "address in use: another program listens there";
  if (ec == boost::asio::error::access_denied && port < 1024)
    return "permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE";
  if (ec == boost::system::errc::address_not_available) return "address not available on this host";
  return ec ? ec.message() : "could not listen";
}

}  // namespace

std::optional<std::string> Server::bind_udp(const std::string& address, std::uint16_t port, bool v6_only,
                                            std::uint16_t& bound, boost::system::error_code* why) {
  boost::system::error_code ec;
  udp::endpoint endpoint(asio::ip::make_address(address, ec), port);
  auto socket = std::make_unique<udp::socket>(*io_);
  auto fail = [&](std::string_view what) {
    return "cannot bind UDP " + address + ":" + std::to_string(port) + ": " + std::string(what);
  };
  if (socket->open(endpoint.protocol(), ec); ec) return fail(ec.message());
  if (endpoint.address().is_v6()) socket->set_option(asio::ip::v6_only(v6_only), ec);
  if (socket->bind(endpoint, ec); ec) {
    if (why) *why = ec;
    return fail(ec.message());
  }
  if (auto err = enable_arrival_info(*socket); !err.empty()) return fail(err);
  bound = socket->local_endpoint(ec).port();
  udp_sockets_.push_back(std::move(socket));
  return std::nullopt;
}

std::optional<std::string> Server::bind_tcp(const std::string& address, std::uint16_t port, bool v6_only,
                                            std::uint16_t& bound, tcp::acceptor*& out,
                                            boost::system::error_code* why) {
  boost::system::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(address, ec), port);
  auto acceptor = std::make_unique<tcp::acceptor>(*io_);
  auto fail = [&](std::string_view what) {
    return "cannot bind TCP " + address + ":" + std::to_string(port) + ": " + std::string(what);
  };
  if (acceptor->open(endpoint.protocol(), ec); ec) return fail(ec.message());
  acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (endpoint.address().is_v6()) acceptor->set_option(asio::ip::v6_only(v6_only), ec);
  if (acceptor->bind(endpoint, ec); ec) {
    if (why) *why = ec;
    return fail(ec.message());
  }
  if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
    if (why) *why = ec;
    return fail(ec.message());
  }
  bound = acceptor->local_endpoint(ec).port();
  out = acceptor.get();
  acceptors_.push_back(std::move(acceptor));
  return std::nullopt;
}

std::optional<std::string> Server::start() {
  listen_.clear();
  for (const auto& a : config_.listen) {
    if (config_.listen_is_default && a == "::") {
      // The default asks for IPv6 only where the host has it.
      boost::system::error_code ec;
      udp::socket probe(*io_);
      probe.open(udp::v6(), ec);
      if (!ec) probe.set_option(asio::ip::v6_only(true), ec);
      if (!ec) probe.bind(udp::endpoint(udp::v6(), 0), ec);
      if (ec) {
        log_.warn("IPv6 unavailable on this host (" + ec.message() + "): listening on IPv4 only");
        continue;
      }
    }
    listen_.push_back(a);
  }
  // Both families on the same port: keep IPv6 sockets IPv6-only so they do not collide.
  bool any_v4 = false, any_v6 = false;
  for (const auto& a : listen_) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(a, ec);
    if (ec) return "not an IP address: " + a;
    (address.is_v4() ? any_v4 : any_v6) = true;
  }
  const bool v6_only = any_v4 && any_v6;
  auto failed = [&](std::string message) -> std::optional<std::string> {
    close_listeners();
    udp_sockets_.clear();
    raw_sockets_.clear();
    raw6_sockets_.clear();
    acceptors_.clear();
    acceptor_roles_.clear();
    ports_ = {};
    return message;
  };

  // UDP probe ports. Port 0 resolves on the first address and is reused on the others.
  // A port another program holds (or one below 1024 without the privilege) is
  // left out, on every address so that no family answers where the other
  // cannot, and the rest are served: the client reports its probes as not run.
  for (std::uint16_t configured : config_.udp_ports) {
    std::uint16_t port = configured;
    const std::size_t first_socket = udp_sockets_.size();
    std::optional<std::string> unavailable;
    for (const auto& address : listen_) {
      std::uint16_t bound = 0;
      boost::system::error_code why;
      if (auto err = bind_udp(address, port, v6_only, bound, &why)) {
        log_.warn(*err + ": UDP " + std::to_string(port) + " probes will not run (" + explain_bind_error(why, port) + ")");
        unavailable = explain_bind_error(why, port);
        break;
      }
      port = bound;
    }
    if (unavailable) {
      udp_sockets_.erase(udp_sockets_.begin() + static_cast<std::ptrdiff_t>(first_socket), udp_sockets_.end());
      if (configured != 0) ports_.unavailable.push_back({probes::Transport::udp, configured, *unavailable});
      continue;
    }
    if (std::find(ports_.udp.begin(), ports_.udp.end(), port) == ports_.udp.end()) ports_.udp.push_back(port);
  }

  // TCP: one acceptor per (address, port) whatever its roles; equal ports merge.
  struct Binding {
    std::uint16_t port;
    TcpRole role;
    bool required;
    bool is_control_port = false;
    bool is_web = false;
    bool bound_somewhere = false;
  };
  std::vector<Binding> bindings;
  auto add = [&](std::uint16_t port, TcpRole role, bool required, bool control_port, bool web) {
    auto same = std::find_if(bindings.begin(), bindings.end(),
                             [&](const Binding& b) { return port != 0 && b.port == port; });
    if (same == bindings.end()) {
      bindings.push_back({port, role, required, control_port, web});
      return;
    }
    same->role.probe |= role.probe;
    same->role.control |= role.control;
    same->required |= required;
    same->is_control_port |= control_port;
    same->is_web |= web;
  };
  // Only the control port is required; a probe port that cannot be bound is
  // left out as for UDP, a web control port skipped where it cannot be bound.
  for (auto p : config_.tcp_ports) add(p, {true, false}, false, false, false);  // first: keeps their order
  add(config_.control_port, {false, true}, true, true, false);
  for (auto p : config_.web_control_ports) add(p, {false, true}, false, false, true);

  for (auto& b : bindings) {
    const std::size_t first_acceptor = acceptors_.size();
    const std::uint16_t configured = b.port;
    for (const auto& address : listen_) {
      std::uint16_t bound = 0;
      tcp::acceptor* acceptor = nullptr;
      boost::system::error_code why;
      if (auto err = bind_tcp(address, b.port, v6_only, bound, acceptor, &why)) {
        if (b.required) return failed(*err);
        if (!b.role.probe) {
          log_.warn(*err + " (web control port skipped)");
          continue;
        }
        log_.warn(*err + ": TCP " + std::to_string(configured) + " probes will not run" +
                  (b.is_web ? " and it is no web control port" : "") + " (" + explain_bind_error(why, configured) + ")");
        acceptors_.erase(acceptors_.begin() + static_cast<std::ptrdiff_t>(first_acceptor), acceptors_.end());
        acceptor_roles_.erase(acceptor_roles_.begin() + static_cast<std::ptrdiff_t>(first_acceptor),
                              acceptor_roles_.end());
        b.bound_somewhere = false;
        if (configured != 0)
          ports_.unavailable.push_back({probes::Transport::tcp, configured, explain_bind_error(why, configured)});
        break;
      }
      acceptor_roles_.push_back(b.role);
      b.port = bound;
      b.bound_somewhere = true;
    }
  }
  for (const auto& b : bindings) {
    if (!b.bound_somewhere) continue;
    if (b.is_control_port) ports_.control = b.port;
    if (b.is_web) ports_.web_control.push_back(b.port);
    if (b.role.probe) ports_.tcp.push_back(b.port);
  }

  // TLS for TLS-wrapped variants, with a certificate made now and published
  // (capabilities) for clients to pin. Offered on every probe port, as every
  // framing is asked on every port (the first bytes decide, not the port
  // number): a reflector behind a port forward is then served the same.
  // Without it those variants are not run: no probe would be answered.
  const bool tls_variants = std::any_of(probes::all_protocols().begin(), probes::all_protocols().end(), [](const auto* m) {
    return std::any_of(m->variants.begin(), m->variants.end(), [](const auto& v) { return v.tls; });
  });
  if (config_.tls_certificate_file && config_.tls_key_file) {
    std::string error;
    auto identity = TlsIdentity::load(*config_.tls_certificate_file, *config_.tls_key_file, error);
    if (!identity) return failed("TLS certificate: " + error);
    tls_ = std::make_unique<TlsIdentity>(std::move(*identity));
  } else if (tls_variants && !ports_.tcp.empty()) {
    std::string error;
    if (auto identity = TlsIdentity::generate(error))
      tls_ = std::make_unique<TlsIdentity>(std::move(*identity));
    else
      log_.warn(error + "; TLS-wrapped probes will not run");
  }

  // Raw listeners: optional, and only with CAP_NET_RAW. Over IPv6 only for the
  // protocols whose modules speak IPv6 (ESP, AH, GRE), offered separately
  // (capabilities.raw_protocols_v6), so a client runs raw probes over IPv6 only
  // where this reflector can answer them. A raw socket listening on the
  // wildcard sees datagrams to every address of the host, so with --listen
  // each named address gets its own bound socket instead.
  auto raw_locals = [&](bool v4) {
    std::vector<std::optional<std::string>> locals;
    for (const auto& a : listen_) {
      auto address = asio::ip::make_address(a);
      if (address.is_v4() != v4) continue;
      if (address.is_unspecified()) return std::vector<std::optional<std::string>>{std::nullopt};
      locals.emplace_back(a);
    }
    return locals;
  };
  for (const bool v4 : {true, false}) {
    const std::string family = v4 ? "" : "IPv6 ";
    auto& sockets = v4 ? raw_sockets_ : raw6_sockets_;
    auto& offered = v4 ? ports_.raw : ports_.raw6;
    const auto locals = raw_locals(v4);
    for (const auto& name : config_.raw_protocols) {
      if (!v4 && !raw_protocol_over_ipv6(name)) continue;
      const auto* raw = probes::ip::raw_protocol(name);
      if (!raw) continue;  // config.cpp admits only the table's names
      bool opened = false;
      for (const auto& local : locals) {
        std::string error;
        auto socket = v4 ? open_raw_socket(*io_, raw->number, error, local)
                         : open_raw6_socket(*io_, raw->number, error, local);
        if (!socket) {
          log_.warn("raw " + family + name + " listener" + (local ? " on " + *local : "") + " not opened: " + error +
                    "; " + name + " probes" + (v4 ? "" : " over IPv6") + (local ? " to it" : "") +
                    " will be inconclusive");
          continue;
        }
        sockets.emplace_back(raw->number, std::make_unique<RawSocket>(std::move(*socket)));
        opened = true;
      }
      if (opened) offered.push_back(name);
    }
  }

  // NAT test service (IPv4 only).
  nat_ = std::make_unique<NatService>(*io_, sessions_, config_.rate_limit > 0 ? &limiter_ : nullptr, log_);
  if (auto err = nat_->bind(listen_, config_.alternate_address, config_.nat_ports)) {
    nat_.reset();
    return failed(*err);
  }
  ports_.nat = nat_->ports();

  ControlApiOptions options;
  options.capabilities.raw_protocols = ports_.raw;
  options.capabilities.raw_protocols_v6 = ports_.raw6;
  options.capabilities.udp_ports = ports_.udp;
  options.capabilities.tcp_ports = ports_.tcp;
  options.capabilities.nat_ports = ports_.nat;
  options.capabilities.alternate_address = nat_->alternate_address();
  options.capabilities.wireguard_public_key_hex = wireguard_key_hex_;
  options.capabilities.portal_challenge = true;
  options.capabilities.unavailable_ports = ports_.unavailable;
  if (tls_) options.capabilities.tls_certificate_sha256 = tls_->certificate_sha256();
  for (const auto* module : probes::all_protocols())
    for (const auto& v : module->variants) {
      std::string piece = std::string(module->id) + "/" + std::string(v.piece);
      if (v.reflector_must_list && std::find(options.capabilities.pieces.begin(), options.capabilities.pieces.end(),
                                             piece) == options.capabilities.pieces.end())
        options.capabilities.pieces.push_back(std::move(piece));
    }
  for (const auto* module : probes::all_protocols()) {
    if (module->data_phase == nullptr) continue;
    options.capabilities.pieces.push_back(std::string(module->id) + "/" + std::string(probes::kDataPiece));
    if (!module->data_phase->ip_piece.empty())
      options.capabilities.pieces.push_back(std::string(module->id) + "/" + std::string(probes::kDataIpPiece));
  }
  options.version = std::string(reflector_version());
  options.rnd = csprng();
  options.auth_key = config_.auth_key;
  options.metrics = &metrics_;
  options.refusals = &refusals_;
  options.max_connections = config_.max_connections;
  options.tls_only = config_.control_tls_only && config_.tls_certificate_file.has_value();
  control_ = std::make_unique<ControlApi>(sessions_, std::move(options));
  services_.reset(new Services{log_, config_.timeouts, sessions_, arrivals_, *control_, config_.max_connections, 0,
                               &refusals_, config_.max_connections / 8, config_.max_connections_per_client, {}});
  services_->tls = tls_.get();
  services_->control_tls = tls_ && config_.tls_certificate_file.has_value();

  for (auto& socket : udp_sockets_)
    asio::co_spawn(*io_, run_udp_listener(*socket, *services_), asio::detached);
  for (auto& [protocol, socket] : raw_sockets_)
    asio::co_spawn(*io_, run_raw_listener(*socket, protocol, *services_), asio::detached);
  for (auto& [protocol, socket] : raw6_sockets_)
    asio::co_spawn(*io_, run_raw6_listener(*socket, protocol, *services_), asio::detached);
  for (std::size_t i = 0; i < acceptors_.size(); ++i)
    asio::co_spawn(*io_, run_tcp_listener(*acceptors_[i], acceptor_roles_[i], *services_), asio::detached);
  nat_->start();
  sweep_ = std::make_unique<asio::steady_timer>(*io_);
  asio::co_spawn(*io_, sweep_loop(*sweep_, sessions_, arrivals_, limiter_, log_), asio::detached);

  log_startup();
  return std::nullopt;
}

void Server::log_startup() {
  log_.info("vpncheck-reflector " + std::string(reflector_version()) + " starting");
  for (const auto& address : listen_) {
    std::vector<std::uint16_t> shared;
    for (auto p : ports_.tcp)
      if (std::find(ports_.web_control.begin(), ports_.web_control.end(), p) != ports_.web_control.end() ||
          p == ports_.control)
        shared.push_back(p);
    log_.info("listening on " + address + ": control API tcp/" + std::to_string(ports_.control) +
              "; web control API " + join_ports("tcp/", ports_.web_control) + "; probes " +
              join_ports("udp/", ports_.udp) + " " + join_ports("tcp/", ports_.tcp) +
              (shared.empty() ? "" : " (" + join_ports("tcp/", shared) + " shared with the control API)") +
              (address.find(':') != std::string::npos ? (ports_.raw6.empty() ? "" : join_raw(ports_.raw6, "IPv6"))
                                                      : (ports_.raw.empty() ? "" : join_raw(ports_.raw))));
  }
  if (nat_ && nat_->active())
    log_.info("NAT test service: " + join_ports("udp/", ports_.nat) + " (IPv4)" +
              (nat_->alternate_address() ? "; alternate address " + *nat_->alternate_address()
                                         : std::string("; no alternate address (--alt-address)")));
  log_.info("wireguard responder public key (mac1) " + wireguard_key_hex_);
  log_.info("sessions: ttl " + std::to_string(config_.session_ttl_s) + " s, at most " +
            std::to_string(config_.max_sessions) + ", " + std::to_string(config_.max_observations) +
            " observations each");
  log_.info(config_.rate_limit > 0 ? "replies: at most " + std::to_string(static_cast<long long>(config_.rate_limit)) +
                                         "/s per source address"
                                   : std::string("replies: not rate limited"));
  log_.info(config_.auth_key ? "control API: bearer token required" : "control API: open (no --auth-key)");
  if (services_->control_tls)
    log_.info(std::string(config_.control_tls_only ? "control API: inside TLS only (plain HTTP: health and "
                                                     "challenge), certificate "
                                                   : "control API: also inside TLS, certificate ") +
              *config_.tls_certificate_file + " (SHA-256 " + tls_->certificate_sha256() + ")");
}

void Server::run() {
  io_->run();
  if (stopped_) log_.info("stopped; " + std::to_string(sessions_.size()) + " sessions live, drops: " +
                          arrivals_.drops().summary());
}

void Server::stop() {
  if (stopped_.exchange(true)) return;
  asio::post(*io_, [this] {
    close_listeners();
    if (sweep_) sweep_->cancel();
    io_->stop();
  });
}

void Server::close_listeners() {
  boost::system::error_code ec;
  for (auto& s : udp_sockets_) s->close(ec);
  for (auto& [protocol, s] : raw_sockets_) s->close(ec);
  for (auto& [protocol, s] : raw6_sockets_) s->close(ec);
  for (auto& a : acceptors_) a->close(ec);
  if (nat_) nat_->close();
}

}  // namespace vpncheck::reflector
