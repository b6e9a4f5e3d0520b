#include "reflector/arrival.h"

#include <algorithm>

#include <arpa/inet.h>

#include <boost/asio/ip/address.hpp>

#include "probes/control.h"
#include "probes/crypto.h"
#include "probes/ip.h"
#include "probes/registry.h"

namespace vpncheck::reflector {
namespace {

constexpr std::string_view kNoReplySmall = "request too small to answer without amplification";
constexpr std::string_view kNoReplyLarger = "reply larger than request refused (no amplification)";
constexpr std::string_view kNoReplyNotValidated =
    "reply larger than request refused: the source is not an address this session validated (no amplification)";
constexpr std::string_view kNoDataFlow = "its key names no flow of this client (a call the reflector does not know)";
constexpr std::string_view kNoDataEcho =
    "data packets are echoed only to an address this session validated (no amplification)";
// Reflectors before reply codes sent only this text; clients still read it so.
constexpr std::string_view kNoReplyRateLimited = "rate limited";

struct Match {
  const probes::ProtocolModule* module = nullptr;  // nullptr: control probe
  probes::ParsedRequest parsed;
};

bool has_transport(const probes::ProtocolModule& module, probes::Transport transport) {
  for (const auto& v : module.variants)
    if (v.transport == transport) return true;
  return false;
}

// A TCP variant of `module` framed by `framing` (nullptr: one that frames itself).
bool frames_tcp_with(const probes::ProtocolModule& module, const probes::StreamFraming* framing) {
  for (const auto& v : module.variants)
    if (v.transport == probes::Transport::tcp && v.framing == framing) return true;
  return false;
}

// More than one parser may take a message: tags are random, so another
// protocol's message can start with bytes this one's parser accepts (an IKE
// message or ESP-in-UDP packet whose first byte, a tag or SPI byte, is
// OpenVPN's reset opcode 0x38). The parser whose token names a live session
// is the right one; when none does, the first that took the message (its
// token is why it is dropped).
template <typename Known, typename StateOf>
std::optional<Match> match_module(probes::ByteView message, probes::ArrivalContext& context,
                                  const Arrival& arrival, const Known& known, const StateOf& state_of) {
  std::optional<Match> first;
  const Framing framing = arrival.framing;
  for (const auto* module : probes::all_protocols()) {
    // Each parser only sees what its protocol can send that way.
    bool eligible = framing == Framing::framed_stream
                        ? arrival.stream_framing != nullptr && frames_tcp_with(*module, arrival.stream_framing)
                    : framing == Framing::ip_datagram    ? has_transport(*module, probes::Transport::ip)
                    : framing == Framing::self_delimited ? frames_tcp_with(*module, nullptr)
                                                         : has_transport(*module, probes::Transport::udp);
    if (!eligible) continue;
    context.state = state_of(module);
    auto parsed = module->parse_request(message, context);
    if (!parsed) continue;
    Match match{module, std::move(*parsed)};
    if (known(match)) return match;
    if (!first) first = std::move(match);
  }
  return first;
}

probes::Transport transport_of(Framing framing) {
  switch (framing) {
    case Framing::datagram: return probes::Transport::udp;
    case Framing::ip_datagram: return probes::Transport::ip;
    case Framing::framed_stream:
    case Framing::raw_stream:
    case Framing::self_delimited: break;
  }
  return probes::Transport::tcp;
}

// What a payload digest covers: for raw IP the datagram after its IPv4 or
// IPv6 header, which a NAT rewrites by design and which an IPv6 raw socket
// never sees (the client digests the same part).
probes::ByteView digested_part(probes::ByteView payload, Framing framing) {
  return framing == Framing::ip_datagram ? probes::ip::digest_scope(payload) : payload;
}

// Whether a data phase with a cheap token reader (DataPhase::token_of) sees
// a live session's token in `payload`; true for those without one.
template <typename Known>
bool names_live_session(const probes::DataPhase& phase, probes::ByteView payload, const Known& known) {
  if (phase.token_of == nullptr) return true;
  auto token = phase.token_of(payload);
  return token && known(token->tag);
}

// A data-phase packet (ProtocolModule::data_phase) of a live session: tried
// before the handshake parsers, which may take a data packet for a message
// of their own (ESP-in-UDP data is ESP like the NAT-T probe's first packet).
struct DataMatch {
  const probes::ProtocolModule* module = nullptr;
  probes::DataPacket packet;
};
// Over UDP only the data phases that follow one of their module's UDP
// handshakes (DataPhase::piece): data that only ever follows a raw IP or TCP
// handshake never comes in a UDP datagram.
bool follows_udp_handshake(const probes::ProtocolModule& module, const probes::DataPhase& phase) {
  return std::any_of(module.variants.begin(), module.variants.end(), [&](const auto& v) {
    return v.transport == probes::Transport::udp && v.piece == phase.piece;
  });
}

template <typename Known>
std::optional<DataMatch> match_data(probes::ByteView payload, const Known& known) {
  for (const auto* module : probes::all_protocols()) {
    const auto* phase = module->data_phase;
    if (phase == nullptr || !follows_udp_handshake(*module, *phase)) continue;
    if (!names_live_session(*phase, payload, known)) continue;
    auto packet = phase->parse(payload);
    if (packet && known(packet->token.tag)) return DataMatch{module, *packet};
  }
  return std::nullopt;
}

// Over raw IP the same parsers see the IP payload, for the modules whose data
// phase follows a raw piece of this IP protocol (DataPhase::ip_piece).
template <typename Known>
std::optional<DataMatch> match_ip_data(probes::ByteView datagram, std::uint16_t ip_protocol, const Known& known) {
  auto payload = probes::ip::payload(datagram, static_cast<std::uint8_t>(ip_protocol));
  if (!payload) return std::nullopt;
  for (const auto* module : probes::all_protocols()) {
    const auto* phase = module->data_phase;
    if (phase == nullptr || phase->ip_piece.empty()) continue;
    const bool listens = std::any_of(module->variants.begin(), module->variants.end(), [&](const auto& v) {
      return v.transport == probes::Transport::ip && v.port == ip_protocol && v.piece == phase->ip_piece;
    });
    if (!listens) continue;
    if (!names_live_session(*phase, *payload, known)) continue;
    auto packet = phase->parse(*payload);
    if (packet && known(packet->token.tag)) return DataMatch{module, *packet};
  }
  return std::nullopt;
}

// The part of a raw echo remembered to know it again (ArrivalHandler::raw_echoes_).
std::array<std::uint8_t, 8> echo_key(probes::ByteView ip_payload) {
  const auto digest = probes::sha256(ip_payload);
  std::array<std::uint8_t, 8> key{};
  std::copy_n(digest.begin(), key.size(), key.begin());
  return key;
}

// What every arrival's record holds besides what it was: where and how it
// came, when, and what was answered (views into `arrival` and `reply`).
ObservationParts arrival_parts(const Arrival& arrival, probes::Transport transport, const probes::ReplyRecord& reply) {
  ObservationParts obs;
  obs.transport = transport;
  obs.local_port = arrival.local_port;
  obs.source_address = arrival.source.address;
  obs.source_port = arrival.source.port;
  obs.ttl = arrival.ttl;
  obs.tos = arrival.tos;
  obs.received_at_unix_ms = arrival.received_at_unix_ms;
  obs.reply_sent = reply.sent;
  obs.reply_kind_prefix = reply.kind;
  obs.reply_length = reply.length;
  obs.reply_reason = reply.reason;
  obs.reply_code = reply.code;
  return obs;
}

// A reply's kind, "<protocol>[/<piece>]/<what>", written into a buffer of
// its own rather than built as a string for each answer; at most 255
// characters, all the store keeps of it (reflector/observation_store.cpp).
class ReplyKind {
 public:
  std::string_view of(std::string_view protocol, std::string_view piece, std::string_view what) {
    size_ = 0;
    append(protocol);
    if (!piece.empty()) {
      append("/");
      append(piece);
    }
    append("/");
    append(what);
    return {text_.data(), size_};
  }

 private:
  void append(std::string_view part) {
    const std::size_t n = std::min(part.size(), text_.size() - size_);
    std::copy_n(part.data(), n, text_.data() + size_);
    size_ += n;
  }
  std::array<char, 255> text_;  // only its first size_ characters are read
  std::size_t size_ = 0;
};

// The sessions an arrival's candidate tags name, each looked up once.
// Parsers and reply builders do not add or end sessions, so what was found
// stays valid while the arrival is handled.
class SessionLookup {
 public:
  explicit SessionLookup(SessionTable& table) : table_(table) {}
  Session* find(const probes::SessionTag& tag) {
    for (std::size_t i = 0; i < count_; ++i)
      if (seen_[i].tag == tag) return seen_[i].session;
    Session* session = table_.find_by_tag(tag);
    if (count_ < seen_.size()) seen_[count_++] = Seen{tag, session};
    return session;
  }

 private:
  struct Seen {
    probes::SessionTag tag{};
    Session* session = nullptr;
  };
  SessionTable& table_;
  std::array<Seen, 4> seen_{};
  std::size_t count_ = 0;
};

std::optional<Match> match_control(probes::ByteView payload) {
  if (auto token = probes::control::parse_request(payload)) return Match{nullptr, {*token, {}}};
  return std::nullopt;
}

}  // namespace

probes::Bytes address_bytes(std::string_view address) {
  // The usual forms without building a string or an address object; a
  // scoped IPv6 address ("fe80::1%eth0") goes the long way.
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (address.size() < text.size()) {
    std::copy(address.begin(), address.end(), text.begin());
    std::array<std::uint8_t, 16> b{};
    if (::inet_pton(AF_INET, text.data(), b.data()) == 1) return {b.begin(), b.begin() + 4};
    if (::inet_pton(AF_INET6, text.data(), b.data()) == 1) {
      static constexpr std::array<std::uint8_t, 12> kV4Mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (std::equal(kV4Mapped.begin(), kV4Mapped.end(), b.begin())) return {b.begin() + 12, b.end()};
      return {b.begin(), b.end()};
    }
  }
  boost::system::error_code ec;
  auto parsed = boost::asio::ip::make_address(std::string(address), ec);
  if (ec) return {};
  if (parsed.is_v4()) {
    auto b = parsed.to_v4().to_bytes();
    return {b.begin(), b.end()};
  }
  auto v6 = parsed.to_v6();
  if (v6.is_v4_mapped()) {
    auto b = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_bytes();
    return {b.begin(), b.end()};
  }
  auto b = v6.to_bytes();
  return {b.begin(), b.end()};
}

std::string ipv4_text(const std::array<unsigned char, 4>& bytes) {
  std::array<char, 15> text{};
  std::size_t n = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) text[n++] = '.';
    const unsigned v = bytes[i];
    if (v >= 100) text[n++] = static_cast<char>('0' + v / 100);
    if (v >= 10) text[n++] = static_cast<char>('0' + v / 10 % 10);
    text[n++] = static_cast<char>('0' + v % 10);
  }
  return std::string(text.data(), n);
}

std::optional<FlowMemory::Forgotten> FlowMemory::remember(probes::Transport transport, std::uint16_t local_port,
                                                          const probes::Endpoint& source,
                                                          const probes::ProbeToken& token, std::int64_t now_ms) {
  const auto stale = [now_ms](const Entry& e) { return now_ms - e.last_ms > kFlowLifetimeMs; };
  auto evicted = flows_.put(Key{transport, local_port, source.address, source.port}, token.tag, Entry{token, now_ms},
                            stale);
  if (!evicted || stale(evicted->value)) return std::nullopt;
  return Forgotten{evicted->value.token, evicted->key.local_port};
}

void ArrivalHandler::forget_session(const Session& session) {
  flows_.forget(session.tag);
  for (auto& [module, state] : states_) state->forget(session.tag);
  if (limiter_ == nullptr) return;
  limiter_->forget(session.client.address);
  for (const auto& address : session.sources) limiter_->forget(address);
}

std::optional<probes::ProbeToken> FlowMemory::find(probes::Transport transport, std::uint16_t local_port,
                                                   const probes::Endpoint& source, std::int64_t now_ms) const {
  const Entry* e = flows_.find(Key{transport, local_port, source.address, source.port});
  if (e == nullptr || now_ms - e->last_ms > kFlowLifetimeMs) return std::nullopt;
  return e->token;
}

std::size_t reply_limit(probes::ByteView request, bool source_validated) {
  return source_validated ? std::max(request.size(), kMaxValidatedReply) : request.size();
}

ArrivalHandler::ArrivalHandler(SessionTable& sessions, probes::ServerHints hints, probes::RandomFill rnd,
                               Metrics* metrics, RateLimiter* limiter)
    : sessions_(sessions),
      hints_(std::move(hints)),
      rnd_(std::move(rnd)),
      metrics_(metrics != nullptr ? metrics : &own_metrics_),
      limiter_(limiter) {
  for (const auto* module : probes::all_protocols())
    if (module->make_server_state != nullptr) states_.emplace_back(module, module->make_server_state());
}

const probes::ServerState* ArrivalHandler::server_state(const probes::ProtocolModule& module) const {
  for (const auto& [owner, state] : states_)
    if (owner == &module) return state.get();
  return nullptr;
}

probes::ArrivalContext ArrivalHandler::context_of(const Arrival& arrival) const {
  probes::ArrivalContext context;
  context.hints = hints_;
  context.transport = transport_of(arrival.framing);
  context.source = probes::IpPort{address_bytes(arrival.source.address), arrival.source.port};
  context.destination = probes::IpPort{
      arrival.destination_address ? address_bytes(*arrival.destination_address) : probes::Bytes{},
      arrival.local_port};
  context.now_ms = arrival.received_at_unix_ms;
  return context;
}

std::uint64_t& ArrivalHandler::recorded_count(std::string_view protocol, std::string_view kind) {
  for (const auto& known : recorded_counts_)
    if (known.protocol == protocol && known.kind == kind) return *known.count;
  std::uint64_t& count = metrics_->probes_recorded[{std::string(protocol), std::string(kind)}];
  recorded_counts_.push_back({protocol, kind, &count});
  return count;
}

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
  probes::ArrivalContext context = context_of(arrival);
  context.flow_token =
      flows_.find(context.transport, arrival.local_port, arrival.source, arrival.received_at_unix_ms);
  // Each module's functions see its own state only.
  auto state_of = [this](const probes::ProtocolModule* module) -> probes::ServerState* {
    for (auto& [owner, state] : states_)
      if (owner == module) return state.get();
    return nullptr;
  };
  // The parsers' candidates are asked about several times (is it a live
  // session's? which session?): each tag is looked up once per arrival (a
  // lookup reads the clock to see whether the session expired).
  SessionLookup sessions{sessions_};
  const auto known_tag = [&sessions](const probes::SessionTag& tag) { return sessions.find(tag) != nullptr; };
  const auto known = [&known_tag](const Match& m) { return known_tag(m.parsed.token.tag); };
  switch (arrival.framing) {
    case Framing::datagram:
      if (payload.size() > kMaxDatagram) return drop(DropReason::oversized);
      if (auto data = match_data(payload, known_tag)) return handle_data(arrival, *data->module, data->packet);
      match = match_module(payload, context, arrival, known, state_of);
      if (!match || !known(*match)) {
        if (auto control = match_control(payload); control && (!match || known(*control))) match = std::move(control);
      }
      break;
    case Framing::ip_datagram:
      if (payload.size() > kMaxDatagram) return drop(DropReason::oversized);
      if (auto data = match_ip_data(payload, arrival.local_port, [this](const probes::SessionTag& tag) {
            return sessions_.find_by_tag(tag) != nullptr;
          }))
        return handle_data(arrival, *data->module, data->packet);
      match = match_module(payload, context, arrival, known, state_of);
      break;
    case Framing::framed_stream: {
      if (arrival.stream_framing == nullptr) return drop(DropReason::bad_frame);
      auto inner = probes::unframe(*arrival.stream_framing, payload, !arrival.later_in_stream);
      if (!inner || inner->size() > kMaxStreamMessage) return drop(DropReason::bad_frame);
      message = *inner;
      match = match_module(message, context, arrival, known, state_of);
      break;
    }
    case Framing::raw_stream:
      if (payload.size() > kMaxRawStream) return drop(DropReason::oversized);
      match = match_control(payload);
      break;
    case Framing::self_delimited:
      if (payload.size() > kMaxStreamMessage) return drop(DropReason::oversized);
      match = match_module(payload, context, arrival, known, state_of);
      break;
  }
  if (!match) return drop(DropReason::unrecognised);

  Session* session = sessions.find(match->parsed.token.tag);
  if (session == nullptr) return drop(DropReason::unknown_session);
  if (!sessions_.admit(*session)) return drop(DropReason::observation_limit);

  const bool genuine = match->module != nullptr;
  ArrivalOutcome out;
  out.tag = session->tag;
  out.protocol = genuine ? std::string(match->module->id) : std::string("control");

  if (genuine && match->parsed.opens_flow) {
    auto forgotten = flows_.remember(context.transport, arrival.local_port, arrival.source, match->parsed.token,
                                     arrival.received_at_unix_ms);
    if (forgotten) sessions_.count_limit(forgotten->token.tag, SessionLimit::flow_table, forgotten->local_port);
  }

  // No amplification is a rule for datagrams (UDP, raw IP), whose source
  // anyone can forge: their answer is never larger than what arrived, except
  // to an address the session validated by a TCP handshake. A stream's answer
  // goes back on a connection whose peer completed the TCP handshake from that
  // address, so nobody else can be made its target; it may be as large as the
  // protocol's answer is (a tunnel's connect acknowledgement can outgrow its
  // request). Every framing that is not a stream stays under the rule.
  const bool datagram = transport_of(arrival.framing) != probes::Transport::tcp;
  const bool validated = session->validates(arrival.source.address);
  const bool may_outgrow = validated || !datagram;
  const std::size_t most = reply_limit(payload, may_outgrow);
  if (genuine) {
    std::vector<probes::ProbeToken> evicted;
    context.state = state_of(match->module);
    context.evicted = &evicted;
    // What the module's message may be answered with, less its stream framing.
    if (may_outgrow) context.reply_limit = reply_limit(message, true);
    out.reply = match->module->build_reply(message, match->parsed, context, rnd_);
    // State forgotten to make room: its sessions are told (their `limits`).
    if (!match->module->state_limit.empty())
      for (const auto& token : evicted) sessions_.count_limit(token.tag, *match->module, arrival.local_port);
    // Answers carry no preamble: only a stream's initiator sends one (probes/framing.h).
    if (!out.reply.empty() && arrival.framing == Framing::framed_stream)
      out.reply = arrival.stream_framing->frame(out.reply);
  } else {
    out.reply = probes::control::build_reply(payload, rnd_);
  }

  session->note_source(arrival.source.address);  // its state is forgotten with the session
  probes::ReplyRecord reply;
  if (out.reply.empty()) {
    reply.reason = kNoReplySmall;
    reply.code = probes::reply_code::kTooSmall;
  } else if (datagram && out.reply.size() > most) {
    out.reply.clear();
    reply.reason = validated ? kNoReplyLarger : kNoReplyNotValidated;
    reply.code = probes::reply_code::kAmplification;
  } else if (limiter_ != nullptr && !limiter_->allow(arrival.source.address)) {
    // Recorded (the client learns it got through) but not answered; the
    // code tells the client the missing answer is not the network's doing.
    out.reply.clear();
    reply.reason = kNoReplyRateLimited;
    reply.code = probes::reply_code::kRateLimited;
    metrics_->drops.add(DropReason::rate_limited);
    session->tally(SessionLimit::rate_limit).add(arrival.local_port);
  } else {
    reply.sent = true;
    reply.length = out.reply.size();
  }

  // Stored compactly (reflector/observation_store.h): no strings are built for it.
  ObservationParts obs = arrival_parts(arrival, context.transport, reply);
  ReplyKind kind_text;
  if (reply.sent)
    obs.reply_kind_prefix = genuine ? kind_text.of(out.protocol, match->parsed.piece, "reply") : "control/echo";
  obs.probe_index = match->parsed.token.probe_index;
  obs.protocol = out.protocol;
  obs.kind = genuine ? "genuine" : "control";
  const probes::ByteView digested = digested_part(payload, arrival.framing);
  obs.payload_length = digested.size();
  const auto digest = probes::sha256(digested);
  obs.digest = &digest;
  obs.fields = &match->parsed.fields;
  obs.piece = match->parsed.piece;
  ++recorded_count(genuine ? match->module->id : "control", genuine ? "genuine" : "control");
  out.sequence = sessions_.record(*session, obs);
  return out;
}

// A data packet is echoed at its own size, and only to an address the
// session validated: one packet per packet, so nobody else can be made the
// target of a stream of echoes. Recorded like any arrival, within the
// session's budgets. Over raw IP the size is the IP payload's, and the echo
// goes back in an IP header of the arrival's family, from the address the
// packet was sent to, with DF as the protocol's software sets it (a real
// server's kernel ESP copies it from the inner packet).
std::optional<std::uint32_t> ArrivalHandler::data_echo_key(const Arrival& arrival,
                                                         const probes::ProtocolModule& module,
                                                         const probes::DataPacket& packet) {
  const auto* phase = module.data_phase;
  if (phase->echo_flow_key == nullptr) return 0;
  probes::ArrivalContext context = context_of(arrival);
  for (auto& [owner, state] : states_)
    if (owner == &module) context.state = state.get();
  return phase->echo_flow_key(packet, context);
}

ArrivalOutcome ArrivalHandler::handle_data(const Arrival& arrival, const probes::ProtocolModule& module,
                                           const probes::DataPacket& packet) {
  const bool raw = arrival.framing == Framing::ip_datagram;
  const probes::ByteView data = digested_part(arrival.payload, arrival.framing);
  // A host hears its own raw IP where the reflector and its client share an
  // address (loopback): an echo, itself a data packet, must not be echoed again.
  const auto key = raw ? echo_key(data) : std::array<std::uint8_t, 8>{};
  if (raw && std::find(raw_echoes_.begin(), raw_echoes_.end(), key) != raw_echoes_.end())
    return drop(DropReason::unrecognised);
  Session* session = sessions_.find_by_tag(packet.token.tag);
  if (session == nullptr) return drop(DropReason::unknown_session);
  if (!sessions_.admit(*session)) return drop(DropReason::observation_limit);
  ArrivalOutcome out;
  out.tag = session->tag;
  out.protocol = std::string(module.id);
  session->note_source(arrival.source.address);
  probes::ReplyRecord reply;
  if (!session->validates(arrival.source.address)) {
    reply.reason = kNoDataEcho;
    reply.code = probes::reply_code::kAmplification;
  } else if (limiter_ != nullptr && !limiter_->allow(arrival.source.address)) {
    reply.reason = kNoReplyRateLimited;
    reply.code = probes::reply_code::kRateLimited;
    metrics_->drops.add(DropReason::rate_limited);
    session->tally(SessionLimit::rate_limit).add(arrival.local_port);
  } else if (const auto echo_flow = data_echo_key(arrival, module, packet); !echo_flow) {
    reply.reason = kNoDataFlow;
    reply.code = probes::reply_code::kNoFlow;
  } else {
    out.reply = module.data_phase->build(packet.token, packet.sequence, data.size(), *echo_flow, rnd_);
    if (out.reply.size() == data.size() && raw) {
      raw_echoes_[raw_echoes_next_++ % raw_echoes_.size()] = echo_key(out.reply);
      out.reply = probes::ip::datagram(address_bytes(arrival.destination_address.value_or("")),
                                       address_bytes(arrival.source.address),
                                       static_cast<std::uint8_t>(arrival.local_port), out.reply);
      if (module.data_phase->df == probes::DontFragment::system_default) probes::ip::set_dont_fragment(out.reply);
    }
    // Never more than arrived (an IPv4 header with options is longer than ours).
    if (out.reply.empty() || out.reply.size() > arrival.payload.size() ||
        (!raw && out.reply.size() != arrival.payload.size())) {
      out.reply.clear();
      reply.reason = kNoReplySmall;
      reply.code = probes::reply_code::kTooSmall;
    } else {
      reply.sent = true;
      reply.length = out.reply.size();
    }
  }
  const probes::Fields fields{{"sequence", std::to_string(packet.sequence)}};
  ObservationParts obs = arrival_parts(arrival, transport_of(arrival.framing), reply);
  ReplyKind kind_text;
  if (reply.sent) obs.reply_kind_prefix = kind_text.of(out.protocol, "data", "echo");
  obs.probe_index = packet.token.probe_index;
  obs.protocol = out.protocol;
  obs.kind = probes::kDataObservation;
  obs.payload_length = data.size();
  const auto digest = probes::sha256(data);
  obs.digest = &digest;
  obs.fields = &fields;
  ++recorded_count(module.id, probes::kDataObservation);
  out.sequence = sessions_.record(*session, obs);
  return out;
}

void ArrivalHandler::reply_sent(const ArrivalOutcome& /*outcome*/) { ++metrics_->replies_sent; }

void ArrivalHandler::reply_failed(const ArrivalOutcome& outcome, std::string_view code, std::string reason) {
  ++metrics_->replies_failed;
  if (outcome.sequence == 0) return;
  probes::ReplyRecord reply;
  reply.reason = std::move(reason);
  reply.code = code;
  sessions_.update_reply(outcome.tag, outcome.sequence, std::move(reply));
}

}  // namespace vpncheck::reflector
