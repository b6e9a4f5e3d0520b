// The arrival demux (Contract 2): given the bytes that arrived and how they
// arrived, recognise the probe by content (any protocol on any port), find
// its session by tag, record an Observation and produce the in-protocol reply.
// Pure: no sockets; the listeners do the I/O around it.
//
// The reflector must not be an amplifier: a reply is never larger than the
// request that caused it, unless the request came from an address its
// session validated (the client's own, proved by a TCP handshake), which no
// spoofer can name; then up to the protocol's genuine size, one packet per
// arrival all the same. This is checked here for every reply, whatever the
// protocol module returned.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "probes/observation.h"
#include "probes/probe.h"
#include "probes/session_lru.h"
#include "reflector/metrics.h"
#include "reflector/rate_limit.h"
#include "reflector/session_table.h"

namespace vpncheck::reflector {

// How the bytes were delimited, which decides which parsers may claim them.
enum class Framing {
  datagram,         // UDP: one datagram; every protocol module, then control probes
  framed_stream,    // TCP: the first message of a stream in Arrival::stream_framing, its preamble and
                    // frame header included; modules whose TCP variants name that framing
  raw_stream,       // TCP control probe: the bytes as they arrived (first byte 0xFF)
  ip_datagram,      // raw socket: a whole IPv4 datagram (header included); modules with Transport::ip variants
  self_delimited,   // TCP: one whole message of a protocol that frames itself, delimited by its
                    // server conversation (ProtocolModule::server_stream); modules with a TCP
                    // variant that names no framing
};

// Large enough for an IKE_AUTH-sized message (2-3 KB, IP-fragmented on the way):
// finding networks that drop fragments is one of the tests.
constexpr std::size_t kMaxDatagram = 4096;     // larger UDP payloads are dropped as oversized
constexpr std::size_t kMaxRawStream = 2048;    // TCP control probe read bound
constexpr std::size_t kMaxStreamMessage = 1500;  // longer framed TCP messages are rejected

struct Arrival {
  probes::ByteView payload;  // for framed_stream: the whole first frame, preamble and header included
  Framing framing = Framing::datagram;
  const probes::StreamFraming* stream_framing = nullptr;  // framed_stream: the framing that claimed the stream
  // framed_stream: not the stream's first message (it carries no preamble;
  // StreamFraming::messages_per_stream).
  bool later_in_stream = false;
  std::uint16_t local_port = 0;
  probes::Endpoint source;  // as observed, i.e. after NAT
  // The reflector's own address the packet was sent to, when the listener
  // knows it (needed by protocols that hash it, e.g. IKE's NAT detection).
  std::optional<std::string> destination_address;
  std::optional<int> ttl;
  std::optional<int> tos;
  std::int64_t received_at_unix_ms = 0;
};

struct ArrivalOutcome {
  std::optional<DropReason> dropped;  // set: nothing recorded, send nothing
  probes::Bytes reply;                // empty: send nothing
  // Where the observation went, for a later ArrivalHandler::reply_failed.
  probes::SessionTag tag{};
  std::uint64_t sequence = 0;
  std::string protocol;  // module id or "control"
};

// Flows (transport, local port, observed source) that began with a tagged
// message, so that follow-ups which cannot carry the tag are attributed.
// Bounded, evicting in O(1) (probes/session_lru.h): a session at its quota
// forgets its own oldest flow, a full table a stale flow or else the oldest
// of the session holding the most; a flow lives kFlowLifetimeMs.
class FlowMemory {
 public:
  static constexpr std::size_t kMaxFlows = 4096;
  static constexpr std::size_t kFlowsPerSession = 256;
  static constexpr std::int64_t kFlowLifetimeMs = 120'000;

  FlowMemory(std::size_t capacity = kMaxFlows, std::size_t quota = kFlowsPerSession) : flows_(capacity, quota) {}

  struct Forgotten {
    probes::ProbeToken token;
    std::uint16_t local_port = 0;
  };
  // Returns the flow it forgot to make room, if that one was still live (its
  // session is told: its follow-ups will not be attributed).
  std::optional<Forgotten> remember(probes::Transport transport, std::uint16_t local_port,
                                    const probes::Endpoint& source, const probes::ProbeToken& token,
                                    std::int64_t now_ms);
  std::optional<probes::ProbeToken> find(probes::Transport transport, std::uint16_t local_port,
                                         const probes::Endpoint& source, std::int64_t now_ms) const;
  // Forgets every flow of the session holding `tag` (it ended).
  void forget(const probes::SessionTag& tag) { flows_.forget(tag); }
  std::size_t size() const { return flows_.size(); }

 private:
  struct Key {
    probes::Transport transport;
    std::uint16_t local_port;
    std::string address;
    std::uint16_t port;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::string>{}(k.address) ^
             (static_cast<std::size_t>(k.port) << 20 | static_cast<std::size_t>(k.local_port) << 4 |
              static_cast<std::size_t>(k.transport));
    }
  };
  struct Entry {
    probes::ProbeToken token;
    std::int64_t last_ms = 0;
  };
  probes::SessionLru<Key, Entry, KeyHash> flows_;
};

class ArrivalHandler {
 public:
  // `hints` carries the reflector's WireGuard key, so mac1 is verified.
  // `metrics` nullptr: counts into a Metrics of its own. `limiter` nullptr:
  // answers are not rate limited.
  ArrivalHandler(SessionTable& sessions, probes::ServerHints hints, probes::RandomFill rnd,
                 Metrics* metrics = nullptr, RateLimiter* limiter = nullptr);
  ArrivalHandler(const ArrivalHandler&) = delete;
  ArrivalHandler& operator=(const ArrivalHandler&) = delete;

  ArrivalOutcome handle(const Arrival& arrival);
  // The listener sent `outcome.reply` in full.
  void reply_sent(const ArrivalOutcome& outcome);
  // The listener could not send `outcome.reply`: correct the observation
  // (`code` a probes::reply_code, `reason` in plain words).
  void reply_failed(const ArrivalOutcome& outcome, std::string_view code, std::string reason);
  // One more hit of a limit for the session holding `tag`.
  void count_limit(const probes::SessionTag& tag, SessionLimit limit, std::uint16_t port) {
    sessions_.count_limit(tag, limit, port);
  }

  // For drops decided before the demux (e.g. HTTP on a probe-only port).
  void count_drop(DropReason reason) { metrics_->drops.add(reason); }
  const DropCounters& drops() const { return metrics_->drops; }
  const Metrics& metrics() const { return *metrics_; }
  const FlowMemory& flows() const { return flows_; }
  // The state `module` keeps between arrivals (ProtocolModule::make_server_state); nullptr: none.
  const probes::ServerState* server_state(const probes::ProtocolModule& module) const;
  // Erases what this handler keeps about `session`, which is ending: its
  // flows, its part of every module's state, and the rate-limit buckets of
  // its addresses.
  void forget_session(const Session& session);

 private:
  ArrivalOutcome drop(DropReason reason);
  // Metrics::probes_recorded's count for (protocol, kind), both text that
  // lives as long as the program (module ids, literals): found in the map
  // once, then by the few pairs a reflector ever records.
  std::uint64_t& recorded_count(std::string_view protocol, std::string_view kind);
  // What the modules' functions are told of `arrival` (no flow, state or limit yet).
  probes::ArrivalContext context_of(const Arrival& arrival) const;
  ArrivalOutcome handle_data(const Arrival& arrival, const probes::ProtocolModule& module,
                             const probes::DataPacket& packet);
  // The flow key the echo of `packet` carries (DataPhase::echo_flow_key,
  // with the module's state); nullopt: no flow of this source to echo to.
  std::optional<std::uint32_t> data_echo_key(const Arrival& arrival, const probes::ProtocolModule& module,
                                             const probes::DataPacket& packet);

  SessionTable& sessions_;
  probes::ServerHints hints_;
  probes::RandomFill rnd_;
  Metrics own_metrics_;
  Metrics* metrics_;
  RateLimiter* limiter_;
  FlowMemory flows_;
  // The last raw IP data echoes (a digest prefix of each IP payload), known
  // again when they come back to the same host (handle_data).
  std::array<std::array<std::uint8_t, 8>, 32> raw_echoes_{};
  std::size_t raw_echoes_next_ = 0;
  struct RecordedCount {
    std::string_view protocol;
    std::string_view kind;
    std::uint64_t* count;  // a value of metrics_->probes_recorded, whose nodes stay put
  };
  std::vector<RecordedCount> recorded_counts_;
  // One per module that declares server state, in registry order.
  std::vector<std::pair<const probes::ProtocolModule*, std::unique_ptr<probes::ServerState>>> states_;
};

// "192.0.2.1" -> 4 bytes, "2001:db8::1" -> 16 bytes; empty when unparsable.
probes::Bytes address_bytes(std::string_view address);
// 4 bytes -> "192.0.2.1", as inet_ntop writes it, without the formatted
// printing inet_ntop does it with (a tenth of handling a UDP probe).
std::string ipv4_text(const std::array<unsigned char, 4>& bytes);

// The most an answer to a validated source may carry: one full-size packet.
constexpr std::size_t kMaxValidatedReply = 1500;

// The no-amplification rule: the most the reflector sends back for `request`,
// its own size unless the source is one the session validated.
std::size_t reply_limit(probes::ByteView request, bool source_validated);

}  // namespace vpncheck::reflector
