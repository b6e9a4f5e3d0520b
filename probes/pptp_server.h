// The reflector's (PAC's) side of PPTP, without I/O: the control connection
// as a server conversation (probes/conversation.h) and the table of calls it
// set up, the pptp module's server state.
//
//   SCCRQ            -> SCCRP (result 1)                  [recorded, tag from Host Name]
//   OCRQ             -> OCRP (result 1, own Call ID Y,    [recorded: Call ID as seen, original
//                        Peer's Call ID = OCRQ's as seen)   from the Subaddress, rewritten?]
//   Set-Link-Info    -> nothing
//   StopCCRQ         -> StopCCRP, then the connection ends [recorded]
//
// The recorded messages go through the reflector's arrival demux like any
// probe; the module's reply to an OCRQ enters the call in the CallTable, so
// GRE keyed to Y is answered with GRE keyed to the client's Call ID as the
// reflector saw it (an ALG maps it back).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "probes/conversation.h"
#include "probes/session_lru.h"

namespace vpncheck::probes::pptp {

// The calls the reflector's control connections set up: the reflector's own
// Call ID (from its OCRP; the key of the GRE the client sends) -> the
// client's Call ID as the OCRQ arrived (the key the reflector's GRE must
// carry), per observed client address. Bounded, evicting in O(1)
// (probes/session_lru.h): a session at its quota forgets its own oldest call,
// a full table a stale call or else the oldest of the session holding the
// most; a call lives kCallLifetimeMs.
class CallTable : public ServerState {
 public:
  static constexpr std::size_t kMaxCalls = 4096;
  static constexpr std::size_t kCallsPerSession = 64;
  static constexpr std::int64_t kCallLifetimeMs = 600'000;

  explicit CallTable(std::size_t capacity = kMaxCalls, std::size_t quota = kCallsPerSession)
      : calls_(capacity, quota) {}

  struct Call {
    ProbeToken token;  // the control connection's probe
    std::uint16_t client_call_id = 0;
    std::int64_t created_ms = 0;
    std::uint16_t control_port = 0;  // the control connection's observed TCP source port
  };

  // Returns the call it forgot to make room, if that one was still live.
  std::optional<Call> add(const Bytes& client_address, std::uint16_t reflector_call_id, const Call& call,
                          std::int64_t now_ms);
  std::optional<Call> find(const Bytes& client_address, std::uint16_t reflector_call_id, std::int64_t now_ms) const;
  // Is this Call ID free for a new call from `client_address`?
  bool available(const Bytes& client_address, std::uint16_t reflector_call_id, std::int64_t now_ms) const {
    return !find(client_address, reflector_call_id, now_ms).has_value();
  }
  // The control connection from (address, TCP source port) ended: its calls go.
  void end_control(const Bytes& client_address, std::uint16_t control_port);
  void forget(const SessionTag& tag) override;
  std::size_t size() const override { return calls_.size(); }

 private:
  using Key = std::pair<Bytes, std::uint16_t>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      std::size_t h = k.second;
      for (auto b : k.first) h = h * 131 + b;
      return h;
    }
  };
  SessionLru<Key, Call, KeyHash> calls_;
};

// One control connection, as the reflector's TCP listener runs it.
class ServerConversation : public conversation::ServerConversation {
 public:
  enum class State {
    wait_sccrq,  // nothing yet
    connected,   // SCCRP sent: an OCRQ may come
    in_call,     // OCRP sent (one call per connection, as Linux's helper supports)
    closed,      // StopCCRP sent or the peer broke the protocol: end the connection
  };
  static constexpr std::size_t kMaxMessages = 16;  // per connection; beyond, it is closed

  conversation::ServerAction step(const conversation::ServerEvent& event) override;
  State state() const { return state_; }

 private:
  State state_ = State::wait_sccrq;
  std::size_t messages_ = 0;
  std::uint16_t submitted_ = 0;  // the type of the message with the demux
};

std::string_view to_string(ServerConversation::State state);

// Do these first bytes of a TCP stream look like a PPTP control message
// (PPTP message type 1 at bytes 2-3, then the magic cookie as far as present)?
// Needs at least 4 bytes. OpenVPN's 2-byte length is followed by an opcode
// byte that is never 0, so the two cannot be confused.
bool looks_like_pptp(ByteView head);

// The control connection's framing (both ends): messages delimited by their Length field.
conversation::Framed frame_stream(ByteView buffered);
// A fresh Call ID (both ends pick theirs): random, never 0.
std::uint16_t random_call_id(const RandomFill& rnd);

extern const conversation::ServerStream kServerStream;
std::unique_ptr<ServerState> make_call_table();

}  // namespace vpncheck::probes::pptp
