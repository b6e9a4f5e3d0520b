#include "probes/pptp_server.h"

#include <algorithm>
#include <array>

#include "probes/pptp.h"

namespace vpncheck::probes::pptp {
namespace {

constexpr std::uint16_t as_u16(MessageType t) { return static_cast<std::uint16_t>(t); }

using conversation::ServerAction;
using conversation::ServerEvent;
using Kind = ServerAction::Kind;

}  // namespace

std::optional<CallTable::Call> CallTable::add(const Bytes& client_address, std::uint16_t reflector_call_id,
                                              const Call& call, std::int64_t now_ms) {
  const auto stale = [now_ms](const Call& c) { return now_ms - c.created_ms > kCallLifetimeMs; };
  auto evicted = calls_.put(Key{client_address, reflector_call_id}, call.token.tag, call, stale);
  if (!evicted || stale(evicted->value)) return std::nullopt;
  return evicted->value;
}

std::optional<CallTable::Call> CallTable::find(const Bytes& client_address, std::uint16_t reflector_call_id,
                                               std::int64_t now_ms) const {
  const Call* call = calls_.find(Key{client_address, reflector_call_id});
  if (call == nullptr || now_ms - call->created_ms > kCallLifetimeMs) return std::nullopt;
  return *call;
}

void CallTable::end_control(const Bytes& client_address, std::uint16_t control_port) {
  calls_.erase_if([&](const Key& key, const Call& call) {
    return key.first == client_address && call.control_port == control_port;
  });
}

void CallTable::forget(const SessionTag& tag) { calls_.forget(tag); }

std::unique_ptr<ServerState> make_call_table() { return std::make_unique<CallTable>(); }

std::string_view to_string(ServerConversation::State state) {
  switch (state) {
    case ServerConversation::State::wait_sccrq: return "wait_sccrq";
    case ServerConversation::State::connected: return "connected";
    case ServerConversation::State::in_call: return "in_call";
    case ServerConversation::State::closed: return "closed";
  }
  return "closed";
}

bool looks_like_pptp(ByteView head) {
  if (head.size() < 4 || head[2] != 0 || head[3] != kPptpControlMessage) return false;
  return frame(head).status != ParseStatus::invalid;
}

conversation::Framed frame_stream(ByteView buffered) {
  auto framed = frame(buffered);
  switch (framed.status) {
    case ParseStatus::complete: return {conversation::FrameStatus::complete, framed.size};
    case ParseStatus::need_more: return {conversation::FrameStatus::need_more, 0};
    case ParseStatus::invalid: break;
  }
  return {conversation::FrameStatus::invalid, 0};
}

std::uint16_t random_call_id(const RandomFill& rnd) {
  std::array<std::uint8_t, 2> b{};
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (rnd) rnd(b);
    auto id = static_cast<std::uint16_t>(b[0] << 8 | b[1]);
    if (id != 0) return id;
  }
  return 1;
}

ServerAction ServerConversation::step(const ServerEvent& event) {
  auto close = [this] {
    state_ = State::closed;
    return ServerAction{Kind::close, 0};
  };
  if (state_ == State::closed) return close();

  if (event.kind == ServerEvent::Kind::answered) {
    // A message the demux dropped or left unanswered ends the connection,
    // as a PAC that rejects it would; StopCCRP ends it anyway.
    const bool answered = event.recorded && !event.data.empty();
    if (submitted_ == as_u16(MessageType::stop_control_connection_request) || !answered) return close();
    state_ = submitted_ == as_u16(MessageType::start_control_connection_request) ? State::connected : State::in_call;
    return ServerAction{Kind::need_more, 0};
  }

  auto framed = frame(event.data);
  if (framed.status == ParseStatus::need_more) return ServerAction{Kind::need_more, 0};
  if (framed.status == ParseStatus::invalid || ++messages_ > kMaxMessages) return close();
  const ByteView message = event.data.first(framed.size);
  const auto type = static_cast<std::uint16_t>(message[8] << 8 | message[9]);
  auto submit = [&] {
    submitted_ = type;
    return ServerAction{Kind::submit, framed.size};
  };

  // The first message must be a tagged SCCRQ (an ALG tracks nothing before it either).
  if (state_ == State::wait_sccrq)
    return type == as_u16(MessageType::start_control_connection_request) ? submit() : close();
  if (type == as_u16(MessageType::outgoing_call_request)) return state_ == State::connected ? submit() : close();
  if (type == as_u16(MessageType::stop_control_connection_request)) return submit();
  if (type == as_u16(MessageType::start_control_connection_request)) return close();  // a second start
  // Set-Link-Info, Echo, call clearing, ...: valid PPTP, no answer needed for a probe.
  return ServerAction{Kind::skip, framed.size};
}

namespace {
std::unique_ptr<conversation::ServerConversation> start_server() { return std::make_unique<ServerConversation>(); }
}  // namespace

const conversation::ServerStream kServerStream{looks_like_pptp, start_server};

}  // namespace vpncheck::probes::pptp
