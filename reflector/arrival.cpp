#include "reflector/arrival.h"

#include <cassert>

#include "probes/control.h"
#include "probes/crypto.h"
#include "probes/registry.h"

namespace vpncheck::reflector {
namespace {

constexpr std::string_view kNoReplySmall = "request too small to answer without amplification";
constexpr std::string_view kNoReplyLarger = "reply larger than request refused (no amplification)";
constexpr std::string_view kNoReplyRateLimited = "rate limited";

struct Match {
  const probes::ProtocolModule* module = nullptr;  // nullptr: control probe
  probes::ParsedRequest parsed;
};

std::optional<Match> match_module(probes::ByteView message, const probes::ServerHints& hints,
                                  bool stream_only) {
  for (const auto* module : probes::all_protocols()) {
    if (stream_only && module->frame_stream == nullptr) continue;
    if (auto parsed = module->parse_request(message, hints)) return Match{module, std::move(*parsed)};
  }
  return std::nullopt;
}

std::optional<Match> match_control(probes::ByteView payload) {
  if (auto token = probes::control::parse_request(payload)) return Match{nullptr, {*token, {}}};
  return std::nullopt;
}

}  // namespace

bool reply_within_request(probes::ByteView reply, probes::ByteView request) {
  // A module returning a larger reply is a bug in that module; debug builds stop here.
  assert(reply.size() <= request.size() && "reflector reply larger than its request (amplification)");
  return reply.size() <= request.size();
}

ArrivalHandler::ArrivalHandler(SessionTable& sessions, probes::ServerHints hints, probes::RandomFill rnd,
                               Metrics* metrics, RateLimiter* limiter)
    : sessions_(sessions),
      hints_(std::move(hints)),
      rnd_(std::move(rnd)),
      metrics_(metrics != nullptr ? metrics : &own_metrics_),
      limiter_(limiter) {}

ArrivalOutcome ArrivalHandler::drop(DropReason reason) {
  metrics_->drops.add(reason);
  ArrivalOutcome out;
  out.dropped = reason;
  return out;
}

ArrivalOutcome ArrivalHandler::handle(const Arrival& arrival) {
  const probes::ByteView payload = arrival.payload;
  if (payload.empty()) return drop(DropReason::empty);

  // What the parsers see: the message without its stream framing.
  probes::ByteView message = payload;
  std::optional<Match> match;
  switch (arrival.framing) {
    case Framing::datagram:
      if (payload.size() > kMaxDatagram) return drop(DropReason::oversized);
      match = match_module(payload, hints_, false);
      if (!match) match = match_control(payload);
      break;
    case Framing::length_prefixed: {
      if (payload.size() < kStreamLengthSize) return drop(DropReason::bad_frame);
      std::size_t length = std::size_t{payload[0]} << 8 | payload[1];
      if (length == 0 || length > kMaxStreamMessage || payload.size() != kStreamLengthSize + length)
        return drop(DropReason::bad_frame);
      message = payload.subspan(kStreamLengthSize);
      match = match_module(message, hints_, true);
      break;
    }
    case Framing::raw_stream:
      if (payload.size() > kMaxRawStream) return drop(DropReason::oversized);
      match = match_control(payload);
      break;
  }
  if (!match) return drop(DropReason::unrecognised);

  Session* session = sessions_.find_by_tag(match->parsed.token.tag);
  if (session == nullptr) return drop(DropReason::unknown_session);
  if (!sessions_.admit(*session)) return drop(DropReason::observation_limit);

  const bool genuine = match->module != nullptr;
  ArrivalOutcome out;
  out.tag = session->tag;
  out.protocol = genuine ? std::string(match->module->id) : std::string("control");

  if (genuine) {
    out.reply = match->module->build_reply(message, match->parsed, rnd_);
    if (!out.reply.empty() && arrival.framing == Framing::length_prefixed)
      out.reply = match->module->frame_stream(out.reply);
  } else {
    out.reply = probes::control::build_reply(payload, rnd_);
  }

  probes::ReplyRecord reply;
  if (out.reply.empty()) {
    reply.reason = kNoReplySmall;
  } else if (!reply_within_request(out.reply, payload)) {
    out.reply.clear();
    reply.reason = kNoReplyLarger;
  } else if (limiter_ != nullptr && !limiter_->allow(arrival.source.address)) {
    // Recorded (the client learns it got through) but not answered.
    out.reply.clear();
    reply.reason = kNoReplyRateLimited;
    metrics_->drops.add(DropReason::rate_limited);
  } else {
    reply.sent = true;
    reply.kind = genuine ? out.protocol + "/reply" : "control/echo";
    reply.length = out.reply.size();
  }

  probes::Observation obs;
  obs.probe_index = match->parsed.token.probe_index;
  obs.protocol = out.protocol;
  obs.kind = genuine ? "genuine" : "control";
  obs.transport = arrival.framing == Framing::datagram ? probes::Transport::udp : probes::Transport::tcp;
  obs.local_port = arrival.local_port;
  obs.source = arrival.source;
  obs.ttl = arrival.ttl;
  obs.tos = arrival.tos;
  obs.payload_length = payload.size();
  obs.payload_sha256 = probes::to_hex(probes::sha256(payload));
  obs.fields = std::move(match->parsed.fields);
  obs.received_at_unix_ms = arrival.received_at_unix_ms;
  obs.reply = std::move(reply);
  ++metrics_->probes_recorded[{out.protocol, genuine ? "genuine" : "control"}];
  out.sequence = sessions_.record(*session, std::move(obs));
  return out;
}

void ArrivalHandler::reply_sent(const ArrivalOutcome& /*outcome*/) { ++metrics_->replies_sent; }

void ArrivalHandler::reply_failed(const ArrivalOutcome& outcome, std::string reason) {
  ++metrics_->replies_failed;
  if (outcome.sequence == 0) return;
  probes::ReplyRecord reply;
  reply.reason = std::move(reason);
  sessions_.update_reply(outcome.tag, outcome.sequence, std::move(reply));
}

}  // namespace vpncheck::reflector
