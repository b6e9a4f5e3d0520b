#include "reflector/stream_conversation.h"

#include <algorithm>

#include "probes/registry.h"

namespace vpncheck::reflector {

namespace conv = probes::conversation;

StreamConversation::StreamConversation(const probes::ProtocolModule& module, Submit submit,
                                       std::uint16_t local_port, probes::Endpoint client,
                                       std::optional<std::string> local_address)
    : conversation_(module.server_stream->start()),
      submit_(std::move(submit)),
      local_port_(local_port),
      client_(std::move(client)),
      local_address_(std::move(local_address)) {}

StreamConversation::Step StreamConversation::on_bytes(probes::ByteView buffered, std::int64_t now_ms) {
  Step step;
  if (closed_) {
    step.close = true;
    return step;
  }
  const auto action = conversation_->step({conv::ServerEvent::Kind::bytes, buffered});
  switch (action.kind) {
    case conv::ServerAction::Kind::need_more: return step;
    case conv::ServerAction::Kind::close:
      closed_ = true;
      step.close = true;
      return step;
    case conv::ServerAction::Kind::skip:
      // Always progress: a conversation skipping nothing would loop.
      step.consumed = std::clamp<std::size_t>(action.size, 1, std::max<std::size_t>(buffered.size(), 1));
      return step;
    case conv::ServerAction::Kind::submit: break;
  }
  if (action.size == 0 || action.size > buffered.size()) {
    closed_ = true;
    step.close = true;
    return step;
  }
  Arrival arrival;
  arrival.payload = buffered.first(action.size);
  arrival.framing = Framing::self_delimited;
  arrival.local_port = local_port_;
  arrival.source = client_;
  arrival.destination_address = local_address_;
  arrival.received_at_unix_ms = now_ms;
  ArrivalOutcome outcome = submit_(arrival);
  const bool recorded = !outcome.dropped;
  named_ = named_ || recorded;
  step.consumed = action.size;
  const auto next = conversation_->step({conv::ServerEvent::Kind::answered, outcome.reply, recorded});
  if (!outcome.reply.empty()) {
    step.reply = outcome.reply;
    step.outcome = std::move(outcome);
  }
  if (next.kind == conv::ServerAction::Kind::close) {
    closed_ = true;
    step.close = true;
  }
  return step;
}

const probes::ProtocolModule* conversation_for(probes::ByteView head) {
  for (const auto* module : probes::all_protocols())
    if (module->server_stream != nullptr && module->server_stream->sniff(head)) return module;
  return nullptr;
}

}  // namespace vpncheck::reflector
