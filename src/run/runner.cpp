#include "src/run/runner.h"

#include <algorithm>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probes/control.h"
#include "probes/pptp_module.h"
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

probes::IpPort ip_port(const asio::ip::address& address, std::uint16_t port) {
  probes::IpPort out{{}, port};
  if (address.is_v4()) {
    auto b = address.to_v4().to_bytes();
    out.address.assign(b.begin(), b.end());
  } else {
    auto b = address.to_v6().to_bytes();
    out.address.assign(b.begin(), b.end());
  }
  return out;
}

// What a genuine probe's hooks share: the module, the context it was built
// in, and the message most recently sent (the one a reply must answer).
struct GenuineProbe {
  const probes::ProtocolModule* module = nullptr;
  probes::ProbeContext context;
  probes::RandomFill random;
  bool stream = false;
  probes::Bytes request;

  probes::Bytes wire() const { return stream ? module->frame_stream(request) : request; }
  std::function<bool(probes::ByteView)> reply_check() const {
    return [module = module, request = request](probes::ByteView reply) { return module->is_reply_to(reply, request); };
  }
};

bool is_pptp_piece(const PlannedProbe& p, std::string_view piece) {
  return p.module == &probes::pptp::kModule && p.kind == ProbeKind::genuine && p.variant.piece == piece;
}

// PPTP's GRE piece is keyed to the Call IDs its control connection negotiates,
// so the control piece's genuine probe runs both: for each such probe, the
// index of the GRE probe of the same family (or npos).
std::vector<std::size_t> pptp_partners(const std::vector<PlannedProbe>& plan) {
  std::vector<std::size_t> partner(plan.size(), std::string::npos);
  for (std::size_t i = 0; i < plan.size(); ++i) {
    if (!is_pptp_piece(plan[i], probes::pptp::kPieceControl)) continue;
    for (std::size_t j = 0; j < plan.size(); ++j)
      if (is_pptp_piece(plan[j], probes::pptp::kPieceGre) && plan[j].family == plan[i].family) partner[i] = j;
  }
  return partner;
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
  genuine->stream = probe.variant.transport == probes::Transport::tcp && module.frame_stream;
  genuine->request = module.build_request(genuine->context, settings.random);

  Exchange out;
  out.transport = probe.variant.transport;
  out.remote = remote;
  out.port = probe.variant.port;
  out.wire = genuine->wire();
  if (probe.kind == ProbeKind::control) {
    // Same size as the genuine probe's wire bytes, on the same port.
    out.wire = probes::control::build_request(genuine->context.token, out.wire.size(), settings.random);
    out.is_reply = [request = out.wire](probes::ByteView reply) { return probes::control::is_reply_to(reply, request); };
    out.stream_reply = StreamReply::same_size_raw;
    return out;
  }
  out.is_reply = genuine->reply_check();
  if (probe.variant.tls) out.tls_pin = settings.tls_certificate_sha256;
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
      return ExchangeStep{genuine->wire(), genuine->reply_check()};
    };
  }
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
  for (const auto& probe : plan) results->push_back(ProbeResult{probe, {}, {}});

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

  const auto partner = pptp_partners(plan);
  std::vector<bool> joined(plan.size(), false);  // run as part of another probe's conversation
  for (std::size_t i = 0; i < plan.size(); ++i)
    if (partner[i] != std::string::npos) joined[partner[i]] = true;

  auto finish = [results, progress, total = plan.size(), &settings](std::size_t i, ClientSide side) {
    (*results)[i].client = std::move(side);
    ++progress->done;
    if (settings.on_progress) settings.on_progress(i, progress->done, total);
  };

  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& probe = plan[i];
    const std::size_t gre = partner[i];
    if (probe.not_run_reason) {
      (*results)[i].client.outcome = Outcome::not_run;
      (*results)[i].client.detail = *probe.not_run_reason;
      if (gre != std::string::npos && !plan[gre].not_run_reason) {
        ClientSide side;
        side.detail = "needs the PPTP control connection, which could not be tested: " + *probe.not_run_reason;
        finish(gre, std::move(side));
      }
      continue;
    }
    if (joined[i]) continue;  // run by its PPTP control probe below
    if (gre != std::string::npos || is_pptp_piece(probe, probes::pptp::kPieceControl)) {
      PptpExchange pptp;
      pptp.remote = probe.family == Family::ipv6 && settings.reflector_v6 ? *settings.reflector_v6 : settings.reflector;
      pptp.control_port = probe.variant.port;
      pptp.control_token = probes::ProbeToken{settings.tag, probe.index};
      const bool gre_planned = gre != std::string::npos && !plan[gre].not_run_reason;
      if (gre_planned) pptp.gre_token = probes::ProbeToken{settings.tag, plan[gre].index};
      pptp.deadline = deadline;
      pptp.retry_unit = retry_unit(settings.timeout);
      pptp.random = settings.random;
      ++progress->pending;
      asio::co_spawn(executor, settings.pptp_exchange(std::move(pptp)),
                     [progress, i, gre, gre_planned, finish](std::exception_ptr error, PptpSides sides) {
                       if (error) {
                         sides = PptpSides{};
                         sides.control.outcome = Outcome::local_error;
                         sides.control.detail = "internal error while probing";
                       }
                       if (gre_planned) finish(gre, sides.gre ? std::move(*sides.gre) : sides.control);
                       finish(i, std::move(sides.control));
                       if (--progress->pending == 0) progress->all_done.cancel();
                     });
      continue;
    }
    Exchange exchange = make_exchange(probe, settings);
    exchange.deadline = deadline;
    exchange.retry_unit = retry_unit(settings.timeout);
    ++progress->pending;
    asio::co_spawn(executor, settings.exchange(std::move(exchange)),
                   [results, progress, i, total = plan.size(), &settings](std::exception_ptr error, ClientSide side) {
                     if (error) {
                       side = ClientSide{};
                       side.outcome = Outcome::local_error;
                       side.detail = "internal error while probing";
                     }
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
