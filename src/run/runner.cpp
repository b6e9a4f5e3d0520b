#include "src/run/runner.h"

#include <algorithm>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probes/control.h"
#include "src/run/ip_port.h"
#include "src/run/path_walk.h"
#include "src/run/retry.h"

// GCC 12 reports -Wmismatched-new-delete on some coroutines here, depending on
// inlining: Asio's awaitable frames come from aligned_alloc and go back through
// Asio's own sized operator delete, which frees them correctly. A false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace vpncheck::client {

namespace asio = boost::asio;

namespace {

// What a genuine probe's hooks share: the module, the context it was built
// in, and the message most recently sent (the one a reply must answer).
struct GenuineProbe {
  const probes::ProtocolModule* module = nullptr;
  probes::ProbeContext context;
  probes::RandomFill random;
  const probes::StreamFraming* framing = nullptr;  // TCP: the variant's stream framing
  probes::Bytes request;
  bool first = true;  // `request` is the stream's first message (it carries the framing's preamble)

  probes::Bytes wire() const {
    if (framing == nullptr) return request;
    return first ? probes::frame_first(*framing, request) : framing->frame(request);
  }
  std::function<bool(probes::ByteView)> reply_check() const {
    return [module = module, request = request](probes::ByteView reply) { return module->is_reply_to(reply, request); };
  }
};

// Modules whose pieces run together as one conversation: the genuine
// probes of such a module, per address family (IPv4 and IPv6 are separate
// runs of the protocol), in plan order. For each probe, its group or npos.
std::vector<std::size_t> conversation_groups(const std::vector<PlannedProbe>& plan,
                                             std::vector<std::vector<std::size_t>>& groups) {
  std::vector<std::size_t> group(plan.size(), std::string::npos);
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& p = plan[i];
    if (p.kind != ProbeKind::genuine || p.module->client_conversation == nullptr) continue;
    for (std::size_t g = 0; g < groups.size() && group[i] == std::string::npos; ++g) {
      const auto& first = plan[groups[g].front()];
      if (first.module == p.module && first.family == p.family) group[i] = g;
    }
    if (group[i] == std::string::npos) {
      group[i] = groups.size();
      groups.emplace_back();
    }
    groups[group[i]].push_back(i);
  }
  return group;
}

}  // namespace

Exchange make_exchange(const PlannedProbe& probe, const RunSettings& settings) {
  const auto& module = *probe.module;
  const auto& remote =
      probe.family == Family::ipv6 && settings.reflector_v6 ? *settings.reflector_v6 : settings.reflector;
  const bool raw = probe.variant.transport == probes::Transport::ip;

  auto genuine = std::make_shared<GenuineProbe>();
  genuine->module = &module;
  genuine->context.token = probes::ProbeToken{settings.tag, probe.index};
  genuine->context.variant = probe.variant;
  genuine->context.hints = settings.hints;
  genuine->context.remote = ip_port(remote, raw ? std::uint16_t{0} : probe.variant.port);
  genuine->random = settings.random;
  genuine->framing = probe.variant.transport == probes::Transport::tcp ? probe.variant.framing : nullptr;
  genuine->request = module.build_request(genuine->context, settings.random);

  Exchange out;
  out.transport = probe.variant.transport;
  out.remote = remote;
  out.port = probe.variant.port;
  out.wire = genuine->wire();
  // TLS-wrapped variants: genuine and control alike go inside TLS to the
  // reflector's pinned certificate. The control is the same handshake to the
  // same port (all a middlebox that does not terminate TLS can judge) with
  // random bytes of the genuine request's size inside. Both failing: TLS to
  // that port does not get through. Only the genuine one failing, inside a
  // session pinned end to end: something told them apart by what the records'
  // sizes and timing show, reported as signature blocking like any other.
  if (probe.variant.tls) out.tls_pin = settings.tls_certificate_sha256;
  if (probe.kind == ProbeKind::control) {
    // Same size as the genuine probe's wire bytes, on the same port.
    out.wire = probes::control::build_request(genuine->context.token, out.wire.size(), settings.random);
    out.is_reply = [request = out.wire](probes::ByteView reply) { return probes::control::is_reply_to(reply, request); };
    return out;
  }
  out.stream_framing = genuine->framing;
  out.is_reply = genuine->reply_check();
  out.source_port = probe.variant.transport == probes::Transport::udp ? probe.variant.source_port : std::uint16_t{0};
  out.on_local_address = [genuine](const probes::IpPort& local, Exchange& ex) {
    genuine->context.local = local;
    genuine->request = genuine->module->build_request(genuine->context, genuine->random);
    ex.wire = genuine->wire();
    ex.is_reply = genuine->reply_check();
  };
  if (module.next_request) {
    out.next_step = [genuine](std::size_t step, probes::ByteView reply) -> std::optional<ExchangeStep> {
      auto next = genuine->module->next_request(genuine->context, step, genuine->request, reply, genuine->random);
      if (!next) return std::nullopt;
      genuine->request = std::move(*next);
      genuine->first = false;
      return ExchangeStep{genuine->wire(), genuine->reply_check()};
    };
  }
  // After the handshake of each UDP place of the piece the protocol is set up
  // with by default: the standard one, and those advised when it is blocked;
  // and of its raw IP piece, where the reflector echoes data there too.
  const auto& listed = probe.variant.transport == probes::Transport::ip ? settings.data_phase_ip_modules
                                                                         : settings.data_phase_modules;
  if (const auto* data = module.data_phase;
      data != nullptr && data->follows(probe.variant) &&
      std::find(listed.begin(), listed.end(), module.id) != listed.end())
    out.data = Exchange::DataPhaseRun{data, genuine->context.token, settings.random, 0, std::nullopt};
  if (module.inspect_reply) {
    out.inspect_reply = [genuine](probes::ByteView reply) {
      return genuine->module->inspect_reply(reply, genuine->request, genuine->context);
    };
  }
  return out;
}

asio::awaitable<std::vector<ProbeResult>> run_plan(const std::vector<PlannedProbe>& plan, const RunSettings& settings) {
  auto executor = co_await asio::this_coro::executor;
  auto results = std::make_shared<std::vector<ProbeResult>>();
  results->reserve(plan.size());
  for (const auto& probe : plan) results->push_back(ProbeResult{probe, {}, {}, {}});

  const auto start = Clock::now();
  const auto deadline = start + settings.timeout;

  struct Progress {
    std::size_t pending = 0;
    std::size_t done = 0;
    asio::steady_timer all_done;
    explicit Progress(asio::any_io_executor ex) : all_done(ex, Clock::time_point::max()) {}
  };
  auto progress = std::make_shared<Progress>(executor);
  // Probes that cannot run count as finished, so progress reaches its total.
  progress->done = static_cast<std::size_t>(
      std::count_if(plan.begin(), plan.end(), [](const PlannedProbe& p) { return p.not_run_reason.has_value(); }));

  std::vector<std::vector<std::size_t>> groups;
  const auto group = conversation_groups(plan, groups);
  auto walks = std::make_shared<PlanWalks>(plan, settings.tag, settings.random, retry_unit(settings.timeout));

  auto finish = [results, progress, total = plan.size(), &settings](std::size_t i, ClientSide side) {
    (*results)[i].client = std::move(side);
    ++progress->done;
    if (settings.on_progress) settings.on_progress(i, progress->done, total);
  };
  auto runnable = [&plan](std::size_t i) { return !plan[i].not_run_reason.has_value(); };

  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& probe = plan[i];
    if (probe.not_run_reason) {
      (*results)[i].client.outcome = Outcome::not_run;
      (*results)[i].client.detail = *probe.not_run_reason;
    }
    if (group[i] != std::string::npos) {
      // The whole group runs once, at its first member; pieces that cannot
      // run are still handed over, so the conversation can say what that
      // means for the others.
      const auto& members = groups[group[i]];
      if (members.front() != i || std::none_of(members.begin(), members.end(), runnable)) continue;
      ConversationRun run;
      run.module = probe.module;
      for (std::size_t m : members)
        run.pieces.push_back({plan[m].variant, probes::ProbeToken{settings.tag, plan[m].index}, plan[m].not_run_reason});
      run.remote = probe.family == Family::ipv6 && settings.reflector_v6 ? *settings.reflector_v6 : settings.reflector;
      run.deadline = deadline;
      run.retry_unit = retry_unit(settings.timeout);
      run.hints = settings.hints;
      run.random = settings.random;
      const auto listed = [&](const std::vector<std::string>& modules) {
        return std::find(modules.begin(), modules.end(), probe.module->id) != modules.end();
      };
      run.data_echoed_udp = listed(settings.data_phase_modules);
      run.data_echoed_ip = listed(settings.data_phase_ip_modules);
      run.connect = settings.connect_stream;
      run.flow = settings.exchange;
      ++progress->pending;
      asio::co_spawn(executor, run_conversation(std::move(run)),
                     [progress, members, finish, runnable](std::exception_ptr error, std::vector<ClientSide> sides) {
                       for (std::size_t k = 0; k < members.size(); ++k) {
                         if (!runnable(members[k])) continue;
                         ClientSide side = k < sides.size() && !error ? std::move(sides[k]) : ClientSide{};
                         if (error) {
                           side.outcome = Outcome::local_error;
                           side.detail = "internal error while probing";
                         }
                         finish(members[k], std::move(side));
                       }
                       if (--progress->pending == 0) progress->all_done.cancel();
                     });
      continue;
    }
    if (probe.not_run_reason) continue;
    Exchange exchange = make_exchange(probe, settings);
    exchange.deadline = deadline;
    exchange.retry_unit = retry_unit(settings.timeout);
    if (settings.on_walk) walks->attach(i, exchange);
    ++progress->pending;
    asio::co_spawn(executor, settings.exchange(std::move(exchange)),
                   [results, progress, i, total = plan.size(), &settings, walks](std::exception_ptr error,
                                                                                 ClientSide side) {
                     if (error) {
                       side = ClientSide{};
                       side.outcome = Outcome::local_error;
                       side.detail = "internal error while probing";
                     }
                     if (auto steps = walks->finished(i, side)) settings.on_walk(i, std::move(*steps));
                     (*results)[i].client = std::move(side);
                     ++progress->done;
                     if (settings.on_progress) settings.on_progress(i, progress->done, total);
                     if (--progress->pending == 0) progress->all_done.cancel();
                   });
  }
  if (progress->pending > 0) {
    boost::system::error_code ec;
    co_await progress->all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return std::move(*results);
}

}  // namespace vpncheck::client
