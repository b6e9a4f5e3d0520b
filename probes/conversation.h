// Conversations: protocols whose test is more than one request and one
// answer (PPTP: a control connection whose negotiated Call IDs key a raw GRE
// flow) written as small state machines, `step(event) -> action`, with no
// I/O. The client's runner (src/run/conversation.h) and the reflector's TCP
// listener run any module's conversation the same way; the module alone knows
// its messages, so tests drive a conversation on byte vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "probes/outcome.h"
#include "probes/probe.h"

namespace vpncheck::probes {


namespace conversation {

// Channels are numbered from 0 in the order the conversation opened them.
using Channel = std::size_t;

// How a byte stream is cut into messages: a whole message of `size` bytes at
// the start of the buffer, a valid start that needs more bytes, or bytes that
// can never become a message.
enum class FrameStatus { need_more, complete, invalid };
struct Framed {
  FrameStatus status = FrameStatus::need_more;
  std::size_t size = 0;
};
using StreamFraming = Framed (*)(ByteView buffered);

// ---- Client side ----------------------------------------------------------

// One piece of the protocol the conversation tests (for a single-piece
// protocol, the one probe).
struct Piece {
  ProbeVariant variant{Transport::udp, 0, true};
  ProbeToken token;
  std::optional<std::string> not_run;  // the plan could not run this piece: why
};

struct Setup {
  std::vector<Piece> pieces;
  IpPort remote;               // the reflector's address (port 0)
  std::int64_t deadline_ms = 0;  // the run's one deadline, in ms from the start
  ServerHints hints;
  RandomFill random;
};

struct Event {
  enum class Kind {
    started,  // the first event
    opened,   // a channel is open (a stream connected; a flow under way)
    sent,     // a Send went out whole
    message,  // one whole message arrived on `channel` (a flow: its answer)
    timer,    // a WaitUntil's time came
    failed,   // `channel` failed or closed: `outcome` and `detail` say how
  };
  Kind kind = Kind::started;
  Channel channel = 0;
  std::int64_t now_ms = 0;  // since the conversation started
  Bytes message;
  IpPort local;  // opened stream: its own address and port
  Outcome outcome = Outcome::local_error;
  std::string detail;
};

// Connect a TCP stream to the reflector's `port`; its traffic counts towards
// piece `piece`; `framing` cuts what arrives into messages.
struct OpenStream {
  std::uint16_t port = 0;
  std::size_t piece = 0;
  StreamFraming framing = nullptr;
};

// A datagram flow (UDP, or raw IP where `port` is the IP protocol number)
// carrying one request, built once the flow's own address is known and sent
// again on the runner's retry schedule until a datagram `answers` it or
// `deadline_ms` passes. It ends with a `message` (the answer) or a `failed`
// event on its channel; meanwhile the conversation may wait on its other channels.
struct OpenFlow {
  Transport transport = Transport::ip;
  std::uint16_t port = 0;
  std::size_t piece = 0;
  std::function<Bytes(const IpPort& local)> request;
  std::function<bool(ByteView reply, ByteView request)> answers;
  std::int64_t deadline_ms = 0;
  // Set: once answered, the module's data phase (ProtocolModule::data_phase,
  // where it follows this flow's piece and the reflector echoes it) runs on
  // the same socket before the flow ends, its packets keyed to `sent` and
  // its echoes expected keyed to `echoed` (DataPacket::flow_key).
  struct DataKeys {
    std::uint32_t sent = 0;
    std::uint32_t echoed = 0;
  };
  std::optional<DataKeys> data;
};

// Write `bytes` on a stream. `awaits_answer`: a step of the exchange whose
// answer the conversation waits for (its tries and answer time are reported).
struct Send {
  Channel channel = 0;
  Bytes bytes;
  bool awaits_answer = false;
};

// Wait for the next event on any channel, or until `at_ms` (then `timer`).
struct WaitUntil {
  std::int64_t at_ms = 0;
};

// What the conversation concluded about one piece; the runner adds what it
// measured (sends, tries, times, addresses).
struct PieceResult {
  Outcome outcome = Outcome::not_run;
  std::string detail;
  Fields reply_fields;
  std::size_t steps_answered = 0;
  // false: report no digest of what was sent, because what arrives differs
  // by design (an ALG rewrites Call IDs; routers rewrite IP headers).
  bool digests = true;
};

// The end: one result per Setup::pieces entry (pieces the plan did not run
// keep their plan's reason whatever is said here).
struct Done {
  std::vector<PieceResult> pieces;
};

using Action = std::variant<OpenStream, OpenFlow, Send, WaitUntil, Done>;

class ClientConversation {
 public:
  virtual ~ClientConversation() = default;
  virtual Action step(const Event& event) = 0;
};

// ---- Reflector side -------------------------------------------------------

// The reflector's side of one stream a module's sniff claimed. It sees the
// unconsumed bytes, asks for messages to go through the arrival demux (which
// records them, finds their session and builds the answer; the conversation
// only decides the order), and says when the stream ends.
struct ServerEvent {
  enum class Kind {
    bytes,     // `data`: every byte received and not yet consumed
    answered,  // the demux's answer to the submitted message (`data`, may be empty)
  };
  Kind kind = Kind::bytes;
  ByteView data;
  bool recorded = false;  // answered: the demux recorded the message for a session
};

struct ServerAction {
  enum class Kind {
    need_more,  // read more bytes, then step again with them
    submit,     // the first `size` bytes are a message for the demux; then step with `answered`
    skip,       // the first `size` bytes are a message that needs neither record nor answer
    close,      // end the stream (after writing any answer)
  };
  Kind kind = Kind::need_more;
  std::size_t size = 0;
};

class ServerConversation {
 public:
  virtual ~ServerConversation() = default;
  virtual ServerAction step(const ServerEvent& event) = 0;
};

struct ServerStream {
  // Do these first bytes of a TCP stream (at least 4) start one of this
  // protocol's conversations?
  bool (*sniff)(ByteView head);
  std::unique_ptr<ServerConversation> (*start)();
};

}  // namespace conversation
}  // namespace vpncheck::probes
