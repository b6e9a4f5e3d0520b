#include "src/run/runner.h"

#include <algorithm>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probes/control.h"

namespace vpncheck::client {

namespace asio = boost::asio;

WireProbe make_wire_probe(const PlannedProbe& probe, const RunSettings& settings) {
  const auto& module = *probe.module;
  probes::ProbeToken token{settings.tag, probe.index};
  probes::Bytes genuine = module.build_request(token, settings.hints, settings.random);
  bool stream = probe.variant.transport == probes::Transport::tcp && module.frame_stream;
  probes::Bytes genuine_wire = stream ? module.frame_stream(genuine) : genuine;

  WireProbe out;
  if (probe.kind == ProbeKind::genuine) {
    out.wire = std::move(genuine_wire);
    out.is_reply = [request = std::move(genuine), &module](probes::ByteView reply) {
      return module.is_reply_to(reply, request);
    };
    out.stream_reply = StreamReply::length_prefixed;
  } else {
    // Same size as the genuine probe's wire bytes, on the same port.
    out.wire = probes::control::build_request(token, genuine_wire.size(), settings.random);
    out.is_reply = [request = out.wire](probes::ByteView reply) { return probes::control::is_reply_to(reply, request); };
    out.stream_reply = StreamReply::same_size_raw;
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
  // Retransmit like a real client would, once, so a single lost packet does not read as blocking.
  const auto retransmit_at = start + std::min<Clock::duration>(std::chrono::seconds(1), settings.timeout / 2);

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

  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& probe = plan[i];
    if (probe.not_run_reason) {
      (*results)[i].client.outcome = Outcome::not_run;
      (*results)[i].client.detail = *probe.not_run_reason;
      continue;
    }
    auto wire = make_wire_probe(probe, settings);
    const auto& remote =
        probe.family == Family::ipv6 && settings.reflector_v6 ? *settings.reflector_v6 : settings.reflector;
    Exchange exchange{probe.variant.transport, remote, probe.variant.port, std::move(wire.wire),
                      std::move(wire.is_reply), wire.stream_reply, deadline, std::nullopt};
    if (probe.variant.transport == probes::Transport::udp) exchange.retransmit_at = retransmit_at;
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
                     if (settings.on_progress) settings.on_progress(progress->done, total);
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
