// A TCP stream claimed by a protocol module's server conversation
// (ProtocolModule::server_stream), without I/O: the TCP listener feeds it the
// bytes that arrived and writes back what it returns. The module's
// conversation decides which messages go to the arrival demux and when the
// stream ends; every message it submits goes through the demux
// (Framing::self_delimited), so sessions, limits, observations and the
// no-amplification rule are the usual ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "probes/bytes.h"
#include "probes/conversation.h"
#include "probes/observation.h"
#include "reflector/arrival.h"

namespace vpncheck::reflector {

class StreamConversation {
 public:
  // The demux (ArrivalHandler::handle); tests pass their own.
  using Submit = std::function<ArrivalOutcome(const Arrival&)>;

  struct Step {
    std::size_t consumed = 0;  // bytes of the buffer used up (0: need more bytes)
    probes::Bytes reply;       // to write now (may be empty)
    std::optional<ArrivalOutcome> outcome;  // for reply_sent / reply_failed
    bool close = false;        // end the connection (after writing `reply`)
  };

  StreamConversation(const probes::ProtocolModule& module, Submit submit, std::uint16_t local_port,
                     probes::Endpoint client, std::optional<std::string> local_address = std::nullopt);

  // Looks at the start of `buffered`: a whole message is handled (consumed > 0),
  // a valid prefix asks for more (consumed == 0, close == false), the
  // conversation's end closes the stream.
  Step on_bytes(probes::ByteView buffered, std::int64_t now_ms);

  // Has a message of this stream been recorded for a session? Until then the
  // peer is nobody and gets no more time than any probe's first bytes.
  bool named() const { return named_; }
  bool closed() const { return closed_; }
  const probes::conversation::ServerConversation& conversation() const { return *conversation_; }

 private:
  std::unique_ptr<probes::conversation::ServerConversation> conversation_;
  Submit submit_;
  std::uint16_t local_port_;
  probes::Endpoint client_;
  std::optional<std::string> local_address_;
  bool named_ = false;
  bool closed_ = false;
};

// The module whose server conversation claims a TCP stream starting with
// `head` (at least 4 bytes); nullptr: none.
const probes::ProtocolModule* conversation_for(probes::ByteView head);

}  // namespace vpncheck::reflector
