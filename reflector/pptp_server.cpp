#include "reflector/pptp_server.h"

#include "probes/pptp.h"

namespace vpncheck::reflector {
namespace {

using probes::pptp::MessageType;

constexpr std::uint16_t as_u16(MessageType t) { return static_cast<std::uint16_t>(t); }

}  // namespace

std::string_view to_string(PptpConnection::State state) {
  switch (state) {
    case PptpConnection::State::wait_sccrq: return "wait_sccrq";
    case PptpConnection::State::connected: return "connected";
    case PptpConnection::State::in_call: return "in_call";
    case PptpConnection::State::closed: return "closed";
  }
  return "closed";
}

bool looks_like_pptp(probes::ByteView head) {
  if (head.size() < 4 || head[2] != 0 || head[3] != probes::pptp::kPptpControlMessage) return false;
  return probes::pptp::frame(head).status != probes::pptp::ParseStatus::invalid;
}

PptpConnection::PptpConnection(ArrivalHandler& arrivals, std::uint16_t local_port, probes::Endpoint client,
                               std::optional<std::string> local_address)
    : arrivals_(arrivals), local_port_(local_port), client_(std::move(client)), local_address_(std::move(local_address)) {}

ArrivalOutcome PptpConnection::record(probes::ByteView message, std::int64_t now_ms) {
  Arrival arrival;
  arrival.payload = message;
  arrival.framing = Framing::self_delimited;
  arrival.local_port = local_port_;
  arrival.source = client_;
  arrival.destination_address = local_address_;
  arrival.received_at_unix_ms = now_ms;
  return arrivals_.handle(arrival);
}

PptpConnection::Step PptpConnection::on_bytes(probes::ByteView buffered, std::int64_t now_ms) {
  Step step;
  if (state_ == State::closed) {
    step.close = true;
    return step;
  }
  auto framed = probes::pptp::frame(buffered);
  if (framed.status == probes::pptp::ParseStatus::need_more) return step;
  if (framed.status == probes::pptp::ParseStatus::invalid || ++messages_ > kMaxMessages) {
    state_ = State::closed;
    step.close = true;
    return step;
  }
  probes::ByteView message = buffered.first(framed.size);
  std::uint16_t type = static_cast<std::uint16_t>(message[8] << 8 | message[9]);
  step = handle_message(message, type, now_ms);
  step.consumed = framed.size;
  return step;
}

PptpConnection::Step PptpConnection::handle_message(probes::ByteView message, std::uint16_t type,
                                                    std::int64_t now_ms) {
  Step step;
  auto close = [&] {
    state_ = State::closed;
    step.close = true;
    return step;
  };
  // Answers the message through the demux; false when it was dropped or not answered.
  auto answer = [&] {
    ArrivalOutcome outcome = record(message, now_ms);
    if (outcome.dropped || outcome.reply.empty()) return false;
    step.reply = outcome.reply;
    step.outcome = std::move(outcome);
    return true;
  };

  switch (state_) {
    case State::wait_sccrq:
      // The first message must be a tagged SCCRQ (an ALG tracks nothing before it either).
      if (type != as_u16(MessageType::start_control_connection_request) || !answer()) return close();
      state_ = State::connected;
      return step;
    case State::connected:
    case State::in_call:
      break;
    case State::closed:
      return close();
  }

  if (type == as_u16(MessageType::outgoing_call_request)) {
    if (state_ != State::connected || !answer()) return close();
    auto ocrp = probes::pptp::parse(step.reply);
    auto ocrq = probes::pptp::parse(message);
    if (ocrp.status != probes::pptp::ParseStatus::complete || ocrq.status != probes::pptp::ParseStatus::complete ||
        !ocrq.message.token)
      return close();
    // The module picks its Call ID at random: it may already name a live call
    // from this client address (two clients behind one NAT), and the newer
    // call would then take over the older one's GRE keying. Pick a free one.
    std::uint16_t own = ocrp.message.call_id;
    for (int tries = 0; tries < 64 && !arrivals_.pptp_calls().available(client_.address, own, now_ms); ++tries)
      own = own == 0xffff ? 1 : static_cast<std::uint16_t>(own + 1);
    if (own != ocrp.message.call_id) {
      step.reply = probes::pptp::build_ocrp(message, own);  // the same size: the recorded reply stays true
      if (step.outcome) step.outcome->reply = step.reply;
    }
    reflector_call_id_ = own;
    if (auto forgotten = arrivals_.pptp_calls().add(
            client_.address, own, PptpCalls::Call{*ocrq.message.token, ocrq.message.call_id, now_ms}, now_ms))
      arrivals_.count_limit(forgotten->token.tag, SessionLimit::pptp_calls, local_port_);
    state_ = State::in_call;
    return step;
  }
  if (type == as_u16(MessageType::stop_control_connection_request)) {
    answer();  // StopCCRP; the connection ends either way
    if (reflector_call_id_) arrivals_.pptp_calls().remove(client_.address, *reflector_call_id_);
    state_ = State::closed;
    step.close = true;
    return step;
  }
  if (type == as_u16(MessageType::start_control_connection_request)) return close();  // a second start
  // Set-Link-Info, Echo, call clearing, ...: valid PPTP, no answer needed for a probe.
  return step;
}

}  // namespace vpncheck::reflector
