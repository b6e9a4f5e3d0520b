// run_plan with an injected ExchangeFn: a fake network that plays the
// reflector with the real probe modules, so the test sees exactly the bytes the
// runner would put on the wire, and answers them as the reflector would.
#include "src/run/runner.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

#include "client_fixtures.h"
#include "tls_capabilities.h"
#include "probes/openvpn.h"
#include "fake_stream.h"
#include "probes/control.h"
#include "probes/gre.h"
#include "probes/ip.h"
#include "probes/pptp.h"
#include "probes/pptp_module.h"
#include "probes/registry.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using fixtures::contains;
// A current reflector: it publishes its certificate's fingerprint, so TLS-wrapped variants run.
constexpr auto listening_everywhere = fixtures::listening_everywhere_with_tls;
constexpr auto listening_on = fixtures::listening_on_with_tls;
using fixtures::with_tls;
using probes::Bytes;
using probes::ByteView;
using probes::Transport;
using namespace std::chrono_literals;

constexpr probes::SessionTag kTag{0x5e, 0x55, 0x10, 0x4e, 0x7a, 0x90};

// Writes 0, 1, 2, ... so runs are reproducible.
probes::RandomFill counter_fill() {
  auto next = std::make_shared<std::uint8_t>(0);
  return [next](std::span<std::uint8_t> out) {
    for (auto& b : out) b = (*next)++;
  };
}

// What the fake reflector made of one exchange.
struct Seen {
  Exchange exchange;
  const probes::ProtocolModule* module = nullptr;  // nullptr: a control probe
  std::optional<probes::ProbeToken> token;
  probes::Fields fields;
  Bytes reply;  // the reflector's answer, unframed (what is_reply sees)
};

// Recognises the wire bytes the way the reflector does and builds its answer.
Seen identify(const Exchange& ex, const probes::ServerHints& hints) {
  Seen seen{ex, nullptr, std::nullopt, {}, {}};
  auto rnd = counter_fill();
  if (!ex.wire.empty() && ex.wire[0] == probes::control::kRequestMarker) {
    seen.token = probes::control::parse_request(ex.wire);
    seen.reply = probes::control::build_reply(ex.wire, rnd);
    return seen;
  }
  ByteView message(ex.wire);
  if (ex.transport == Transport::tcp) {
    // A stream: the framing that claims it delimits its first message, as on
    // the reflector (inside TLS, the framings of TLS-wrapped variants).
    auto claim = probes::claim_stream(message, probes::stream_framings(!ex.tls_pin.empty()));
    if (claim.sniff != probes::Sniff::mine) return seen;
    auto inner = probes::unframe(*claim.framing, message, true);
    if (!inner) return seen;
    message = *inner;
  }
  // Raw IP exchanges carry whole IPv4 datagrams; parsers are told so.
  const auto arrival = probes::default_arrival(hints, ex.transport);
  for (const auto* module : probes::all_protocols()) {
    auto parsed = module->parse_request(message, arrival);
    if (!parsed) continue;
    seen.module = module;
    seen.token = parsed->token;
    seen.fields = parsed->fields;
    seen.reply = module->build_reply(message, *parsed, arrival, rnd);
    break;
  }
  return seen;
}

struct FakeNetwork {
  probes::ServerHints hints;
  std::vector<Seen> seen;
  std::set<std::uint16_t> throw_on_ports;
  // Concurrency: every exchange waits at the gate until `expected` are in
  // flight together; the last one opens it. The timer only bounds a runner
  // that sends one probe at a time (the gate then never fills).
  std::size_t expected = 0;
  std::unique_ptr<asio::steady_timer> gate;
  bool gate_expired = false;
  std::size_t in_flight = 0;
  std::size_t max_in_flight = 0;
};

asio::awaitable<ClientSide> fake_exchange(std::shared_ptr<FakeNetwork> net, Exchange ex) {
  net->seen.push_back(identify(ex, net->hints));
  const Bytes reply = net->seen.back().reply;
  net->max_in_flight = std::max(net->max_in_flight, ++net->in_flight);
  if (net->gate) {
    if (net->in_flight >= net->expected) {
      net->gate->cancel();
    } else if (!net->gate_expired) {
      boost::system::error_code ec;
      co_await net->gate->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) net->gate_expired = true;
    }
  }
  --net->in_flight;
  if (net->throw_on_ports.count(ex.port)) throw std::runtime_error("simulated failure");

  ClientSide side;
  side.sent_length = ex.wire.size();
  side.sends = 1;
  side.outcome = ex.is_reply(reply) ? Outcome::reply : Outcome::invalid_reply;
  if (side.outcome == Outcome::reply) side.rtt_ms = 1.0;
  co_return side;
}

// PPTP's two pieces run as one conversation (the module's, through
// run_conversation): a fake control connection that answers as the
// reflector would, and the GRE flow through the fake exchange.
struct FakePptp {
  std::size_t connects = 0;
  std::vector<Bytes> written;
  std::vector<Exchange> flows;
  Outcome gre_outcome = Outcome::reply;
  std::uint16_t client_call_id = 0;  // from the OCRQ
  static constexpr std::uint16_t kReflectorCallId = 0x4321;
};

StreamConnector fake_pptp_connector(std::shared_ptr<FakePptp> fake) {
  auto peer = std::make_shared<fixtures::FakePeer>();
  peer->answer = [fake](ByteView written) {
    namespace pptp = probes::pptp;
    fake->written.emplace_back(written.begin(), written.end());
    auto message = pptp::parse(written).message;
    switch (static_cast<pptp::MessageType>(message.type)) {
      case pptp::MessageType::start_control_connection_request: return std::vector<Bytes>{pptp::build_sccrp(written)};
      case pptp::MessageType::outgoing_call_request:
        fake->client_call_id = message.call_id;
        return std::vector<Bytes>{pptp::build_ocrp(written, FakePptp::kReflectorCallId)};
      case pptp::MessageType::stop_control_connection_request:
        return std::vector<Bytes>{pptp::build_stop_ccrp(written)};
      default: return std::vector<Bytes>{};
    }
  };
  auto connect = fixtures::fake_connector(peer);
  return [fake, connect](asio::ip::tcp::endpoint remote, Clock::time_point deadline, Clock::time_point t0,
                         std::chrono::milliseconds unit) {
    ++fake->connects;
    return connect(remote, deadline, t0, unit);
  };
}

asio::awaitable<ClientSide> fake_gre(std::shared_ptr<FakePptp> fake, Exchange ex) {
  ex.on_local_address(probes::IpPort{{192, 0, 2, 10}, 0}, ex);
  fake->flows.push_back(ex);
  ClientSide side;
  side.outcome = fake->gre_outcome;
  if (side.outcome != Outcome::reply) co_return side;
  auto payload = probes::ip::payload(ex.wire, 47);
  Bytes answer = probes::ip::datagram(Bytes{198, 51, 100, 20}, Bytes{192, 0, 2, 10}, 47,
                                           probes::gre::build_reply(*payload, fake->client_call_id));
  side.outcome = ex.is_reply(answer) ? Outcome::reply : Outcome::invalid_reply;
  if (side.outcome == Outcome::reply) ex.inspect_reply(answer);
  co_return side;
}

class RunnerTest : public ::testing::Test {
 protected:
  RunnerTest() : net_(std::make_shared<FakeNetwork>()) {
    settings_.reflector = asio::ip::make_address("198.51.100.20");
    settings_.tag = kTag;
    settings_.timeout = 3000ms;
    settings_.random = counter_fill();
    settings_.tls_certificate_sha256 = *with_tls({}).tls_certificate_sha256;  // what the plan's reflector published
    settings_.exchange = [net = net_, pptp = pptp_](Exchange ex) {
      if (ex.transport == Transport::ip && ex.port == 47) return fake_gre(pptp, std::move(ex));
      return fake_exchange(net, std::move(ex));
    };
    settings_.connect_stream = fake_pptp_connector(pptp_);
  }

  std::vector<ProbeResult> run(const std::vector<PlannedProbe>& plan) {
    net_->hints = settings_.hints;
    io_.restart();
    std::optional<std::vector<ProbeResult>> results;
    std::exception_ptr failure;
    asio::co_spawn(io_, run_plan(plan, settings_), [&](std::exception_ptr e, std::vector<ProbeResult> r) {
      failure = e;
      results = std::move(r);
    });
    io_.run_for(30s);  // a bound for a hanging runner, not a timing assertion
    EXPECT_FALSE(failure) << "run_plan threw";
    EXPECT_TRUE(results.has_value()) << "run_plan did not finish";
    return results.value_or(std::vector<ProbeResult>{});
  }

  // Every protocol whose probes are single exchanges (PPTP's conversation has
  // its own tests below).
  static std::vector<PlannedProbe> full_plan() {
    std::vector<const probes::ProtocolModule*> modules;
    for (const auto* m : probes::all_protocols())
      if (m->id != "pptp") modules.push_back(m);
    return make_plan(modules, listening_everywhere());
  }
  static std::vector<PlannedProbe> pptp_plan(const probes::Capabilities& caps = listening_everywhere()) {
    return make_plan({probes::find_protocol("pptp")}, caps);
  }
  static const ProbeResult& piece(const std::vector<ProbeResult>& results, std::string_view name,
                                  ProbeKind kind = ProbeKind::genuine) {
    for (const auto& r : results)
      if (r.probe.variant.piece == name && r.probe.kind == kind) return r;
    throw std::runtime_error("no such probe");
  }

  static std::size_t runnable(const std::vector<PlannedProbe>& plan) {
    return static_cast<std::size_t>(
        std::count_if(plan.begin(), plan.end(), [](const PlannedProbe& p) { return !p.not_run_reason; }));
  }

  // The planned probe a seen exchange belongs to, by the token it carries.
  static const PlannedProbe* planned_for(const std::vector<PlannedProbe>& plan, const Seen& seen) {
    if (!seen.token) return nullptr;
    for (const auto& p : plan)
      if (p.index == seen.token->probe_index) return &p;
    return nullptr;
  }

  asio::io_context io_;
  std::shared_ptr<FakePptp> pptp_ = std::make_shared<FakePptp>();
  std::shared_ptr<FakeNetwork> net_;
  RunSettings settings_;
};

TEST_F(RunnerTest, GenuineProbesCarryTheProtocolsWireBytes) {
  auto plan = full_plan();
  run(plan);
  ASSERT_EQ(net_->seen.size(), plan.size());
  std::size_t genuine = 0;
  for (const auto& s : net_->seen) {
    const auto* p = planned_for(plan, s);
    ASSERT_NE(p, nullptr) << "unattributable probe of " << s.exchange.wire.size() << " bytes";
    if (p->kind != ProbeKind::genuine) continue;
    ++genuine;
    const Bytes& wire = s.exchange.wire;
    ASSERT_EQ(s.module, p->module) << p->name() << ": the reflector would not recognise it";
    ASSERT_GE(wire.size(), 3U);
    if (p->module->id == "wireguard") {
      // Handshake initiation: 148 bytes, type 1 as a little-endian u32.
      EXPECT_EQ(wire.size(), 148U) << p->name();
      EXPECT_EQ(Bytes(wire.begin(), wire.begin() + 4), (Bytes{0x01, 0x00, 0x00, 0x00})) << p->name();
    } else if (p->module->id == "openvpn") {
      // P_CONTROL_HARD_RESET_CLIENT_V2 (7 << 3), or V3 (10 << 3) for tls-crypt-v2, in the
      // variant's form; on TCP behind OpenVPN's 16-bit length prefix.
      const auto form = probes::openvpn::form_from_name(p->variant.piece);
      ASSERT_TRUE(form.has_value()) << p->name();
      const std::size_t size = probes::openvpn::client_reset_size(*form);
      const std::uint8_t opcode = *form == probes::openvpn::Form::tls_crypt_v2 ? 0x50 : 0x38;
      if (p->variant.transport == Transport::udp) {
        EXPECT_EQ(wire.size(), size) << p->name();
        EXPECT_EQ(wire[0], opcode) << p->name();
      } else {
        EXPECT_EQ(wire.size(), size + 2) << p->name();
        EXPECT_EQ(Bytes(wire.begin(), wire.begin() + 3),
                  (Bytes{static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size), opcode}))
            << p->name();
      }
    }
    EXPECT_EQ(s.exchange.stream_framing, p->variant.transport == Transport::tcp ? p->variant.framing : nullptr)
        << p->name();
  }
  EXPECT_EQ(genuine, static_cast<std::size_t>(std::count_if(plan.begin(), plan.end(), [](const PlannedProbe& p) {
              return p.kind == ProbeKind::genuine;
            })));
}

TEST_F(RunnerTest, ControlProbesAreSameSizeBytesMarkedFF) {
  auto plan = full_plan();
  run(plan);
  std::map<std::string, std::size_t> genuine_size;
  for (const auto& s : net_->seen)
    if (const auto* p = planned_for(plan, s); p && p->kind == ProbeKind::genuine)
      genuine_size[p->name()] = s.exchange.wire.size();
  std::size_t controls = 0;
  for (const auto& s : net_->seen) {
    const auto* p = planned_for(plan, s);
    ASSERT_NE(p, nullptr);
    if (p->kind != ProbeKind::control) continue;
    ++controls;
    const std::string genuine_name = p->name().substr(0, p->name().size() - std::string("/control").size());
    ASSERT_EQ(genuine_size.count(genuine_name), 1U) << genuine_name;
    EXPECT_EQ(s.exchange.wire.size(), genuine_size[genuine_name]) << p->name();
    EXPECT_EQ(s.exchange.wire.front(), 0xFF) << p->name();
    EXPECT_EQ(s.module, nullptr) << p->name() << " looks like " << (s.module ? s.module->id : "");
    EXPECT_EQ(s.exchange.stream_framing, nullptr) << p->name() << ": the same size back, raw";
  }
  EXPECT_EQ(controls, static_cast<std::size_t>(std::count_if(plan.begin(), plan.end(), [](const PlannedProbe& p) {
              return p.kind == ProbeKind::control;
            })));
}

TEST_F(RunnerTest, EveryProbeCarriesTheSessionTagAndItsOwnIndex) {
  auto plan = full_plan();
  run(plan);
  std::set<std::uint16_t> indices;
  for (const auto& s : net_->seen) {
    ASSERT_TRUE(s.token.has_value());
    EXPECT_EQ(s.token->tag, kTag);
    const auto* p = planned_for(plan, s);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(s.exchange.transport, p->variant.transport) << p->name();
    EXPECT_EQ(s.exchange.port, p->variant.port) << p->name();
    EXPECT_TRUE(indices.insert(s.token->probe_index).second) << "index sent twice: " << s.token->probe_index;
  }
  EXPECT_EQ(indices.size(), plan.size());
}

TEST_F(RunnerTest, ExchangesGoToTheReflectorUnderOneDeadline) {
  auto plan = full_plan();
  run(plan);
  ASSERT_FALSE(net_->seen.empty());
  const auto deadline = net_->seen.front().exchange.deadline;
  for (const auto& s : net_->seen) {
    EXPECT_EQ(s.exchange.remote, settings_.reflector);
    EXPECT_TRUE(s.exchange.deadline == deadline) << "one deadline for all probes";
  }
}

TEST_F(RunnerTest, EveryProbeRetransmitsUntilItsDeadline) {
  run(full_plan());
  ASSERT_FALSE(net_->seen.empty());
  for (const auto& s : net_->seen) EXPECT_TRUE(s.exchange.retransmit) << to_string(s.exchange.transport);
}

TEST_F(RunnerTest, RepliesAreMatchedAndResultsKeepPlanOrder) {
  auto plan = full_plan();
  auto results = run(plan);
  ASSERT_EQ(results.size(), plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(results[i].probe.index, plan[i].index);
    EXPECT_EQ(results[i].probe.name(), plan[i].name());
    EXPECT_EQ(results[i].client.outcome, Outcome::reply) << plan[i].name();
    EXPECT_TRUE(results[i].arrivals.empty());  // the runner does not invent observations
  }
}

TEST_F(RunnerTest, ReplyMatchersRejectAnotherProbesAnswer) {
  auto plan = full_plan();
  run(plan);
  // Each exchange's matcher must accept its own answer and no other probe's:
  // a reply to the genuine probe on one port is not an answer on another.
  for (const auto& mine : net_->seen)
    for (const auto& other : net_->seen) {
      if (&mine == &other || other.reply.empty()) continue;
      EXPECT_FALSE(mine.exchange.is_reply(other.reply))
          << planned_for(plan, mine)->name() << " accepted the answer to " << planned_for(plan, other)->name();
    }
}

TEST_F(RunnerTest, WireGuardMac1IsKeyedWithTheReflectorsPublicKey) {
  std::array<std::uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0x40 + i);
  settings_.hints.wireguard_public_key = key;
  run(make_plan({&fixtures::wireguard()}, listening_everywhere()));
  std::size_t checked = 0;
  for (const auto& s : net_->seen)
    if (s.module) {
      EXPECT_EQ(s.fields.at("mac1"), "valid");
      ++checked;
    }
  EXPECT_EQ(checked, fixtures::wireguard().variants.size());
}

TEST_F(RunnerTest, AllProbesAreInFlightAtOnce) {
  auto plan = full_plan();
  net_->expected = runnable(plan);
  net_->gate = std::make_unique<asio::steady_timer>(io_, 5s);
  auto results = run(plan);
  EXPECT_FALSE(net_->gate_expired) << "probes were not all in flight together";
  EXPECT_EQ(net_->max_in_flight, runnable(plan));
  EXPECT_EQ(net_->seen.size(), runnable(plan));
  for (const auto& r : results) EXPECT_EQ(r.client.outcome, Outcome::reply) << r.probe.name();
}

TEST_F(RunnerTest, NotRunProbesAreNotSent) {
  auto caps = listening_on({51820}, {443});
  caps.pieces = listening_everywhere().pieces;
  auto plan = make_plan({&fixtures::wireguard(), &fixtures::openvpn()}, caps);
  ASSERT_EQ(runnable(plan), 2U + 2U * 5U);  // WireGuard on UDP 51820, each OpenVPN form on TCP 443
  auto results = run(plan);
  EXPECT_EQ(net_->seen.size(), 2U + 2U * 5U);
  for (const auto& s : net_->seen) {
    const auto* p = planned_for(plan, s);
    ASSERT_NE(p, nullptr);
    EXPECT_FALSE(p->not_run_reason.has_value()) << p->name() << " was sent";
  }
  ASSERT_EQ(results.size(), plan.size());
  for (const auto& r : results) {
    if (r.probe.not_run_reason) {
      EXPECT_EQ(r.client.outcome, Outcome::not_run) << r.probe.name();
      EXPECT_EQ(r.client.detail, *r.probe.not_run_reason) << r.probe.name();
      EXPECT_TRUE(contains(r.client.detail, "does not listen")) << r.client.detail;
    } else {
      EXPECT_EQ(r.client.outcome, Outcome::reply) << r.probe.name();
    }
  }
}

TEST_F(RunnerTest, NothingToRunFinishesWithoutSending) {
  auto all = probes::all_protocols();
  auto plan = make_plan({all.begin(), all.end()}, probes::Capabilities{});
  auto results = run(plan);
  EXPECT_TRUE(net_->seen.empty());
  ASSERT_EQ(results.size(), plan.size());
  for (const auto& r : results) EXPECT_EQ(r.client.outcome, Outcome::not_run);
  EXPECT_TRUE(run({}).empty());
}

TEST_F(RunnerTest, AFailingExchangeIsALocalErrorForThatProbeOnly) {
  net_->throw_on_ports = {443};
  auto plan = full_plan();
  auto results = run(plan);
  ASSERT_EQ(results.size(), plan.size());
  for (const auto& r : results) {
    if (r.probe.variant.port == 443) {
      EXPECT_EQ(r.client.outcome, Outcome::local_error) << r.probe.name();
      EXPECT_TRUE(contains(r.client.detail, "internal error")) << r.client.detail;
    } else {
      EXPECT_EQ(r.client.outcome, Outcome::reply) << r.probe.name();
    }
  }
}

TEST_F(RunnerTest, ProgressCountsEveryFinishedProbe) {
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  settings_.on_progress = [&](std::size_t, std::size_t done, std::size_t total) { calls.emplace_back(done, total); };
  auto plan = full_plan();
  run(plan);
  ASSERT_EQ(calls.size(), plan.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].first, i + 1);
    EXPECT_EQ(calls[i].second, plan.size());
  }
}

// The progress line ("probing: done/total finished") must be able to reach its
// total: probes that never run must not be counted as outstanding.
TEST_F(RunnerTest, ProgressReachesItsTotalWhenSomeProbesDoNotRun) {
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  settings_.on_progress = [&](std::size_t, std::size_t done, std::size_t total) { calls.emplace_back(done, total); };
  auto plan = make_plan({&fixtures::wireguard()}, listening_on({51820, 443}, {}));
  ASSERT_LT(runnable(plan), plan.size());
  run(plan);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().first, calls.back().second)
      << "last progress report: " << calls.back().first << "/" << calls.back().second;
}

// ---- PPTP: two pieces, one conversation -----------------------------------

TEST_F(RunnerTest, PptpPiecesRunAsOneConversation) {
  auto plan = pptp_plan();
  ASSERT_EQ(plan.size(), 3U) << "control piece (genuine + random control), GRE";
  auto results = run(plan);
  EXPECT_EQ(pptp_->connects, 1U);
  ASSERT_GE(pptp_->written.size(), 1U);
  EXPECT_EQ(probes::pptp::parse(pptp_->written.front()).message.token,
            (probes::ProbeToken{kTag, piece(results, "control").probe.index}));
  ASSERT_EQ(pptp_->flows.size(), 1U);
  auto gre = probes::gre::parse_probe(*probes::ip::payload(pptp_->flows.front().wire, 47));
  ASSERT_TRUE(gre.has_value());
  EXPECT_EQ(gre->token, (probes::ProbeToken{kTag, piece(results, "gre").probe.index}));
  EXPECT_EQ(gre->gre.header.call_id, FakePptp::kReflectorCallId);
  EXPECT_EQ(piece(results, "control").client.outcome, Outcome::reply);
  EXPECT_EQ(piece(results, "control").client.reply_fields.at("reflector_call_id"), "17185");
  EXPECT_EQ(piece(results, "control").client.reply_fields.at("stop_answered"), "true");
  EXPECT_EQ(piece(results, "gre").client.outcome, Outcome::reply);
  // Only the random control probe on TCP 1723 is a single exchange.
  ASSERT_EQ(net_->seen.size(), 1U);
  EXPECT_EQ(net_->seen.front().exchange.port, 1723);
  EXPECT_EQ(net_->seen.front().exchange.wire.front(), probes::control::kRequestMarker);
  EXPECT_EQ(piece(results, "control", ProbeKind::control).client.outcome, Outcome::reply);
}

TEST_F(RunnerTest, PptpGreOutcomeComesFromTheConversation) {
  pptp_->gre_outcome = Outcome::not_permitted;
  auto results = run(pptp_plan());
  EXPECT_EQ(piece(results, "control").client.outcome, Outcome::reply);
  EXPECT_EQ(piece(results, "gre").client.outcome, Outcome::not_permitted);
}

TEST_F(RunnerTest, PptpWithoutRawGreAtTheReflectorRunsTheControlPartOnly) {
  auto caps = listening_everywhere();
  caps.raw_protocols.clear();
  auto results = run(pptp_plan(caps));
  EXPECT_EQ(pptp_->connects, 1U);
  EXPECT_TRUE(pptp_->flows.empty());
  EXPECT_EQ(piece(results, "control").client.outcome, Outcome::reply);
  EXPECT_EQ(piece(results, "gre").client.outcome, Outcome::not_run);
  EXPECT_TRUE(contains(piece(results, "gre").client.detail, "raw GRE")) << piece(results, "gre").client.detail;
}

TEST_F(RunnerTest, PptpGreIsNotRunWhenTheControlConnectionCannotBe) {
  auto caps = listening_everywhere();
  caps.tcp_ports.clear();
  std::vector<std::size_t> progress;
  settings_.on_progress = [&](std::size_t, std::size_t done, std::size_t) { progress.push_back(done); };
  auto plan = pptp_plan(caps);
  auto results = run(plan);
  EXPECT_EQ(pptp_->connects, 0U);
  EXPECT_TRUE(pptp_->flows.empty());
  EXPECT_TRUE(net_->seen.empty());
  EXPECT_EQ(piece(results, "gre").client.outcome, Outcome::not_run);
  EXPECT_TRUE(contains(piece(results, "gre").client.detail, "control connection")) << piece(results, "gre").client.detail;
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), plan.size()) << "every probe counted as finished";
}

TEST_F(RunnerTest, PptpProgressCountsBothPieces) {
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  settings_.on_progress = [&](std::size_t, std::size_t done, std::size_t total) { calls.emplace_back(done, total); };
  auto plan = pptp_plan();
  run(plan);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(plan.size(), plan.size()));
}

}  // namespace
}  // namespace vpncheck::client

namespace vpncheck::client {
namespace {

// The data phase follows the genuine handshake of every UDP place of the
// piece a module names (its fallback ports too: they are advised when the
// standard one is blocked), and only when the reflector lists
// "<module>/data"; never a control probe, never TCP.
TEST(RunnerDataPhase, FollowsEveryUdpGenuineHandshakeOfItsPieceTheReflectorKnows) {
  RunSettings settings;
  settings.reflector = asio::ip::make_address("127.0.0.1");
  settings.random = [](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), std::uint8_t{7}); };
  settings.data_phase_modules = {"wireguard", "openvpn"};
  std::size_t with_data = 0;
  for (const auto& probe : make_plan({&fixtures::wireguard(), &fixtures::openvpn()}, fixtures::listening_everywhere())) {
    const Exchange ex = make_exchange(probe, settings);
    const bool expected = probe.kind == ProbeKind::genuine && probe.variant.transport == Transport::udp &&
                          probe.variant.piece == probe.module->data_phase->piece;
    EXPECT_EQ(ex.data.has_value(), expected) << probe.name();
    if (!ex.data) continue;
    ++with_data;
    EXPECT_EQ(ex.data->phase, probe.module->data_phase);
    EXPECT_EQ(ex.data->token, (probes::ProbeToken{settings.tag, probe.index}));
  }
  // WireGuard on UDP 51820, 443 and 53; OpenVPN's tls-auth form on UDP 1194 (its others are TCP).
  EXPECT_EQ(with_data, 4U);
  // A reflector that does not list the data pieces gets none.
  settings.data_phase_modules.clear();
  for (const auto& probe : make_plan({&fixtures::wireguard()}, fixtures::listening_everywhere()))
    EXPECT_FALSE(make_exchange(probe, settings).data) << probe.name();
}

// IPsec's data phase follows NAT-T (ESP-in-UDP) when the reflector lists
// "ipsec/data", and raw ESP, in both families, only when it also lists
// "ipsec/data-ip" (an older reflector would take raw data for ESP probes);
// never AH, IKE or IKE over TCP.
TEST(RunnerDataPhase, FollowsRawEspOnlyWhenTheReflectorEchoesDataOverRawIp) {
  RunSettings settings;
  settings.reflector = asio::ip::make_address("127.0.0.1");
  settings.reflector_v6 = asio::ip::make_address("::1");
  settings.random = [](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), std::uint8_t{7}); };
  const auto& ipsec = *probes::find_protocol("ipsec");
  auto caps = fixtures::listening_everywhere();
  caps.raw_protocols_v6 = caps.raw_protocols;
  const auto plan = make_plan({&ipsec}, caps, {Family::ipv4, Family::ipv6});
  auto followed = [&] {
    std::vector<std::string> out;
    for (const auto& probe : plan) {
      const Exchange ex = make_exchange(probe, settings);
      if (!ex.data) continue;
      EXPECT_EQ(ex.data->phase, ipsec.data_phase);
      EXPECT_EQ(ex.data->token, (probes::ProbeToken{settings.tag, probe.index}));
      out.push_back(probe.name());
    }
    return out;
  };
  settings.data_phase_modules = {"ipsec"};
  const auto udp_only = followed();
  ASSERT_EQ(udp_only.size(), 2U);  // NAT-T in each family
  for (const auto& name : udp_only) EXPECT_EQ(name, "ipsec/nat-t/udp/4500");
  settings.data_phase_ip_modules = {"ipsec"};
  const auto with_raw = followed();
  ASSERT_EQ(with_raw.size(), 4U);  // and raw ESP in each family
  EXPECT_EQ(std::count_if(with_raw.begin(), with_raw.end(),
                          [](const std::string& n) { return n == "ipsec/esp/ip/50"; }),
            2);
  settings.data_phase_modules.clear();
  EXPECT_EQ(followed().size(), 2U) << "raw ESP only";
}

}  // namespace
}  // namespace vpncheck::client
