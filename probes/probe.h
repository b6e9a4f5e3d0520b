// The probe interface: one ProtocolModule per VPN protocol, listed once in the
// registry. Everything here is pure: builders return bytes, parsers take a
// span and return a value or nullopt; nothing does I/O and nothing throws on
// bad input. Client and reflector share these modules, so adding a protocol
// means adding one module and one registry line.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "probes/bytes.h"
#include "probes/framing.h"
#include "probes/token.h"

namespace vpncheck::probes {

class ServerState;
namespace conversation {
struct Setup;
class ClientConversation;
struct ServerStream;
}  // namespace conversation

// ip: a raw IP datagram of its own IP protocol (ESP, AH, GRE); the probe's
// `port` then holds the IP protocol number.
enum class Transport { udp, tcp, ip };

std::string_view to_string(Transport t);
std::optional<Transport> transport_from_string(std::string_view s);

// RandomFill (probes/token.h): random bytes; production uses a CSPRNG, tests a
// deterministic source so golden bytes stay stable.

// One place a protocol is tried: its standard transport/port or a variant
// people fall back to when the standard one is blocked.
//
// Protocols made of several independent pieces (IPsec: IKE on UDP 500, NAT-T on
// UDP 4500, raw ESP, ...) name each piece; a piece is then a part of the
// protocol that must work, not an alternative to the standard form. A
// protocol tried in several wire forms (OpenVPN) names each form as a piece,
// and its assess rule judges them.
struct ProbeVariant {
  Transport transport;
  std::uint16_t port;  // UDP/TCP port, or the IP protocol number for Transport::ip
  bool standard;
  std::string_view piece = {};  // "" for single-piece protocols; else e.g. "ikev2", "esp"
  // The local port a real client sends from (IKE: 500, RFC 7296 §2.11), tried
  // first by the client; 0 = any ephemeral port. Reports say which was used.
  std::uint16_t source_port = 0;
  // TCP: how messages are delimited on the stream (probes/framing.h), per
  // variant because one protocol may frame its pieces differently. nullptr on
  // TCP: the protocol delimits itself and has a conversation of its own (PPTP).
  const StreamFraming* framing = nullptr;
  // TCP only: the stream runs inside TLS (HTTPS-based protocols). The
  // reflector then terminates TLS on this port when a stream opens with a
  // ClientHello (probes/tls.h) and lets the framings of TLS-wrapped variants
  // claim what is inside; the client pins the reflector's certificate, learnt
  // from the control session. Control probes of such a variant go inside TLS too.
  bool tls = false;
  // A piece older reflectors do not recognise (they would drop it as unknown,
  // which reads as blocked): planned only when the session's capabilities
  // list it (Capabilities::pieces, "module/piece").
  bool reflector_must_list = false;

  bool same_place(const ProbeVariant& o) const {
    return transport == o.transport && port == o.port && piece == o.piece && tls == o.tls;
  }
};

// An address as it goes into protocol fields (IKE NAT detection hashes, AH's
// ICV): 4 bytes for IPv4, 16 for IPv6, network order.
struct IpPort {
  Bytes address;
  std::uint16_t port = 0;
  bool operator==(const IpPort&) const = default;
};

// What the reflector tells the client about itself that a builder may need
// (e.g. WireGuard's mac1 is keyed with the responder's public key).
struct ServerHints {
  std::optional<std::array<std::uint8_t, 32>> wireguard_public_key;
};

using Fields = std::map<std::string, std::string>;

// Everything a client-side builder may use. For Transport::ip the builder
// returns the whole IPv4 datagram (header included), because some protocols
// (AH) protect header fields; `local`/`remote` are the addresses it goes between.
struct ProbeContext {
  ProbeToken token;
  ProbeVariant variant{Transport::udp, 0, true};
  ServerHints hints;
  IpPort local;   // the probe socket's own address and port
  IpPort remote;  // the reflector's address and port
};

// How an arrival reached the reflector, for parsers and reply builders that
// depend on it (NAT detection hashes over the observed source, AH's ICV).
struct ArrivalContext {
  ServerHints hints;
  Transport transport = Transport::udp;
  IpPort source;       // as observed, i.e. after NAT
  IpPort destination;  // the reflector's own address and port the packet was sent to
  // The token of this flow's earlier tagged message (same transport, local
  // port and observed source), for follow-ups that cannot carry the tag
  // (NAT-T keepalive, L2TP SCCCN). nullopt when there was none.
  std::optional<ProbeToken> flow_token;
  // The module's own server state (ProtocolModule::make_server_state), for
  // messages that refer to earlier ones (a data channel keyed by an id the
  // reflector handed out on a control connection); nullptr when it has none.
  ServerState* state = nullptr;
  std::int64_t now_ms = 0;  // arrival time (Unix ms), for lifetimes in `state`
  // Where a reply builder names the sessions whose state it forgot to make
  // room in a bounded table (their observations say so); may be nullptr.
  std::vector<ProbeToken>* evicted = nullptr;
  // The most the reflector will send back for this arrival; the demux refuses
  // anything larger. nullopt: the request's own size (the no-amplification
  // rule for a source nobody vouched for). Larger when the source is an
  // address the session validated (its control connection's, or one proved
  // over TCP): then the protocol's genuine answer may be larger than what
  // brought it. See reply_allowance.
  std::optional<std::size_t> reply_limit;
};

// What a reply builder may return for `request`: the arrival's reply_limit,
// or the request's size. A builder with a genuine answer that does not fit
// returns it anyway (the demux withholds it and records why) unless it has a
// smaller genuine form that fits.
inline std::size_t reply_allowance(const ArrivalContext& arrival, ByteView request) {
  return arrival.reply_limit.value_or(request.size());
}

// What a module keeps between arrivals on the reflector, opaque to everything
// but the module's own parse and reply functions. Bounded by the module; the
// demux erases a session's part when the session ends (nothing about a client
// outlives its session).
class ServerState {
 public:
  virtual ~ServerState() = default;
  virtual void forget(const SessionTag& tag) = 0;
  virtual std::size_t size() const = 0;
};

// What a request parser recovers from an arrived probe.
struct ParsedRequest {
  ProbeToken token;
  Fields fields;  // decoded protocol fields, reported verbatim as observations
  std::string_view piece = {};  // which piece of the protocol this was ("" for single-piece protocols)
  // Whether this message starts a flow later untagged messages belong to.
  bool opens_flow = false;
};

// ---------------------------------------------------------------- data phase

// Whether the real software's UDP socket sends its tunnel packets with DF, on
// Linux, where vpncheck runs. A path-MTU black hole (no ICMP "fragmentation
// needed") loses DF packets above its MTU for good; packets without DF are
// fragmented by routers instead.
enum class DontFragment {
  // The socket is left at the system default (IP_PMTUDISC_WANT): DF on
  // every packet that fits the route's known MTU; the host fragments larger
  // ones itself, and a learnt smaller path MTU (ICMP) shrinks what fits.
  system_default,
  // Never DF (IP_PMTUDISC_DONT): routers fragment what does not fit.
  clear,
};

// The largest UDP payload over IPv4 (65535 less the IPv4 and UDP headers).
constexpr std::size_t kMaxUdpPayload = 65507;

// One tunnel data packet recovered from the wire.
struct DataPacket {
  ProbeToken token;
  std::uint32_t sequence = 0;  // the data phase's own count, from 0
  // The key naming the flow the packet belongs to, where the protocol's data
  // carries one its handshake negotiated (PPTP: the GRE Call ID of the
  // packet's receiver); 0 for the others.
  std::uint32_t flow_key = 0;
};

// What a protocol sends once its handshake is done: its data packets, at the
// sizes a tunnel of the default configuration sends them and with the DF
// behaviour of the real software. The client sends a few small ones and a few
// full-size ones on the handshake's socket; the reflector recognises them by
// `parse`, records each arrival and echoes it (same size) to an address its
// session validated.
struct DataPhase {
  // The variants whose handshake it follows: the UDP ones of this piece ("" for
  // a protocol without pieces), standard or not: where the standard place is
  // blocked, the place that works instead must carry data too before it is advised.
  std::string_view piece;
  // UDP payload sizes: a small packet (a ping's worth inside), and the
  // default full-size packet over IPv4 and IPv6 (they differ where the
  // protocol sizes its packets by the outer IP header).
  std::size_t small_payload = 0;
  std::size_t full_payload_v4 = 0;
  std::size_t full_payload_v6 = 0;
  // The raw IP piece (Transport::ip variants) whose handshake it follows as
  // well, "" for none (IPsec: "esp", what clients send without a NAT). The
  // same packets `build` makes are the whole IP payload there, sent with the
  // same DF behaviour; the small size is the same, the full size fills the
  // same link MTU without the UDP header: full_ip_payload_v4/_v6.
  std::string_view ip_piece = {};
  std::size_t full_ip_payload_v4 = 0;
  std::size_t full_ip_payload_v6 = 0;
  DontFragment df = DontFragment::system_default;
  // A data packet of `size` bytes carrying `token` and `sequence`, keyed to
  // `flow_key` where the protocol keys its data (DataPacket::flow_key; the
  // others ignore it); empty when the protocol has no packet of that size.
  Bytes (*build)(const ProbeToken& token, std::uint32_t sequence, std::size_t size, std::uint32_t flow_key,
                 const RandomFill& rnd) = nullptr;
  // nullopt for anything that is not this protocol's data packet as built above.
  std::optional<DataPacket> (*parse)(ByteView payload) = nullptr;
  // Optional: the token a data packet would carry, read without checking
  // the rest, for a parser that costs more than a glance (ESP's derives an
  // SPI with SHA-256): the reflector parses only what names a live session,
  // instead of paying that for every datagram. nullptr: parse decides alone.
  std::optional<ProbeToken> (*token_of)(ByteView payload) = nullptr;
  // Reflector, for data keyed by ids the handshake negotiated (PPTP's Call
  // IDs, from the module's server state in `arrival.state`): the key its
  // echo of `packet` carries, nullopt when the packet's key names no flow of
  // this client (then nothing is echoed). nullptr: the data has no key.
  std::optional<std::uint32_t> (*echo_flow_key)(const DataPacket& packet, const ArrivalContext& arrival) = nullptr;
  // The settings that keep the protocol's packets within `path_mtu`-byte IP
  // packets, in its own configuration words.
  std::vector<std::string> (*advice_mtu)(int path_mtu) = nullptr;
  // The full-size packet in words: "WireGuard's full-size data packets (MTU 1420: 1480 bytes on the wire)".
  std::string_view full_size_words;

  // Whether the data phase follows the handshake of `v` (its UDP piece, or its raw IP piece).
  bool follows(const ProbeVariant& v) const {
    if (v.transport == Transport::udp) return v.piece == piece;
    return v.transport == Transport::ip && !ip_piece.empty() && v.piece == ip_piece;
  }
  // The full size at a place of `transport` (udp or ip), over IPv4 or IPv6.
  std::size_t full_payload(Transport transport, bool ipv6) const {
    if (transport == Transport::ip) return ipv6 ? full_ip_payload_v6 : full_ip_payload_v4;
    return ipv6 ? full_payload_v6 : full_payload_v4;
  }
};

// DataPhase::build for a protocol whose data carries no flow key, from its
// builder without one.
template <Bytes (*Build)(const ProbeToken&, std::uint32_t, std::size_t, const RandomFill&)>
Bytes unkeyed_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, std::uint32_t /*flow_key*/,
                   const RandomFill& rnd) {
  return Build(token, sequence, size, rnd);
}

struct ProbeResult;         // probes/assessment.h
struct ProtocolAssessment;  // probes/assessment.h
struct ProtocolModule;
// The rule for protocols whose variants are alternatives to one standard form
// (src/verdict/verdict.h, assess_alternatives), handed to ProtocolModule::assess.
using AlternativesRule = ProtocolAssessment (*)(const ProtocolModule& module, std::vector<ProbeResult> results,
                                                bool observations_read);

struct ProtocolModule {
  std::string_view id;           // stable report name: "wireguard"
  std::string_view title;        // "WireGuard"
  std::string_view description;  // one line for --list-probes
  std::span<const ProbeVariant> variants;

  // Client: the probe payload (unframed; on TCP the variant's framing is applied around it).
  Bytes (*build_request)(const ProbeContext& context, const RandomFill& rnd);
  // Reflector: recognise this protocol's request and recover the token.
  std::optional<ParsedRequest> (*parse_request)(ByteView payload, const ArrivalContext& arrival);
  // Reflector: the in-protocol answer. A reflector must not be an amplifier:
  // on UDP and raw IP, within reply_allowance(arrival, request) when the
  // protocol has an answer that fits; else its genuine answer, which the demux
  // sends only to an address the session validated. On TCP the answer goes to
  // an address that completed a handshake, so it may be what the protocol says
  // (SSTP's Call Connect Ack outgrows its request).
  Bytes (*build_reply)(ByteView request, const ParsedRequest& parsed, const ArrivalContext& arrival,
                       const RandomFill& rnd);
  // Client: is `reply` a valid answer to the `request` we sent?
  bool (*is_reply_to)(ByteView reply, ByteView request);

  // Advice text lives with the protocol because only it knows its configuration
  // syntax: how to move to `variant`, and what to do when its signature is blocked.
  std::string (*advice_use_variant)(const ProbeVariant& variant);
  std::string_view advice_signature_blocked;

  // Optional. Client: facts decoded from a valid reply, reported as evidence
  // (e.g. IKE's NAT detection: "behind_nat"). nullptr: none.
  Fields (*inspect_reply)(ByteView reply, ByteView request, const ProbeContext& context) = nullptr;
  // Optional. Client: multi-message exchanges on one socket (L2TP's SCCRQ,
  // SCCCN, ...). After the reply to step `step` (0 = the first request), the
  // next message to send, or nullopt when the exchange is complete. nullptr:
  // one request, one reply.
  std::optional<Bytes> (*next_request)(const ProbeContext& context, std::size_t step, ByteView last_request,
                                       ByteView last_reply, const RandomFill& rnd) = nullptr;
  // Optional. Client: the verdict rule of a protocol made of pieces that must
  // all work (IPsec, PPTP), or one that adds to the alternatives rule (L2TP),
  // from this protocol's results (genuine and control, every variant);
  // `alternatives` is the generic rule. nullptr: the alternatives rule.
  ProtocolAssessment (*assess)(const ProtocolModule& module, std::vector<ProbeResult> results,
                               bool observations_read, AlternativesRule alternatives) = nullptr;

  // Optional. Client: a protocol whose pieces are tested together in one
  // conversation (probes/conversation.h), e.g. because one piece is keyed to
  // ids another negotiates. The runner hands it every genuine piece of one
  // address family. nullptr: each probe is its own exchange.
  std::unique_ptr<conversation::ClientConversation> (*client_conversation)(const conversation::Setup& setup) =
      nullptr;
  // Optional. Reflector: TCP streams this protocol frames and converses on
  // itself, claimed by their first bytes. nullptr: none.
  const conversation::ServerStream* server_stream = nullptr;
  // Optional. Reflector: the state the module keeps between arrivals, one per
  // reflector, handed to its parse/reply functions (ArrivalContext::state).
  std::unique_ptr<ServerState> (*make_server_state)() = nullptr;
  // The limit (a probes::limit_kind) a session hits when the module forgets
  // its state to make room (ArrivalContext::evicted), and what that costs the
  // session in plain words (the reflector's report of its limits).
  std::string_view state_limit = {};
  std::string_view state_limit_detail = {};
  // Optional. Both programs: the protocol's data packets, sent after its
  // handshake passed on UDP or raw IP (src/run/exchange.cpp), recognised and
  // echoed by the reflector's demux. nullptr: the handshake is all that is tested.
  const DataPhase* data_phase = nullptr;
};

// Convenience for callers that have no addresses to hand (tests, fuzzers):
// the standard variant on loopback.
ProbeContext default_context(const ProtocolModule& module, const ProbeToken& token, const ServerHints& hints = {});
ArrivalContext default_arrival(const ServerHints& hints = {}, Transport transport = Transport::udp);
Bytes build_request(const ProtocolModule& module, const ProbeToken& token, const ServerHints& hints,
                    const RandomFill& rnd);
std::optional<ParsedRequest> parse_request(const ProtocolModule& module, ByteView payload, const ServerHints& hints);
Bytes build_reply(const ProtocolModule& module, ByteView request, const ParsedRequest& parsed, const RandomFill& rnd,
                  const ServerHints& hints = {});

// The probe's short name in reports: "UDP 51820", "ESP (IP protocol 50)".
std::string describe_place(const ProbeVariant& variant);
// "esp", "ah", "gre" (the names in Capabilities::raw_protocols); "ip" otherwise.
std::string ip_protocol_name(std::uint16_t protocol);

}  // namespace vpncheck::probes
