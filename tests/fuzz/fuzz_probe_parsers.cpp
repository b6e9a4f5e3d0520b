// libFuzzer target: every probe parser that sees network bytes. The reflector
// runs each module's parse_request (and build_reply on success) and
// control::parse_request on every arrival; the client runs is_reply_to on
// every answer. Invariants: nothing crashes or throws, a reply is never larger
// than the request that caused it unless the protocol has no answer that
// small (the demux then sends it only to a validated address, and never more
// than one full-size packet), a reply is recognised as the answer to that
// request, and a reply never parses as a request (two reflectors must not
// ping-pong). Data-phase packets (ProtocolModule::data_phase), which the
// reflector tries first on every UDP arrival and the client on every datagram
// after a handshake: what parses is echoed at its own size, and the echo
// carries the same token and sequence back.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "probes/control.h"
#include "probes/registry.h"

namespace {

using namespace vpncheck::probes;

// reflector/arrival.h kMaxValidatedReply (the probes library cannot include the reflector's).
constexpr std::size_t kValidatedLimit = 1500;

void counter_fill(std::span<std::uint8_t> out) {
  std::uint8_t next = 0x5a;
  for (auto& b : out) b = next++;
}

std::array<ServerHints, 2> hint_sets() {
  ServerHints with_key;
  std::array<std::uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0x40 + i);  // as the seeds
  with_key.wireguard_public_key = key;
  return {ServerHints{}, with_key};
}

bool parses_as_any_request(ByteView bytes, const ServerHints& hints) {
  if (control::parse_request(bytes)) return true;
  for (const ProtocolModule* m : all_protocols())
    if (vpncheck::probes::parse_request(*m, bytes, hints)) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::array<ServerHints, 2> kHints = hint_sets();
  const RandomFill rnd = counter_fill;
  const ByteView input(data, size);
  // Split point for (reply, request) pairs, taken from the input itself.
  const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);

  for (const ProtocolModule* m : all_protocols()) {
    for (const ServerHints& hints : kHints) {
      auto parsed = vpncheck::probes::parse_request(*m, input, hints);
      if (!parsed) continue;
      // From an address the session validated: the genuine answer, at most one full-size packet.
      ArrivalContext validated = default_arrival(hints);
      validated.reply_limit = kValidatedLimit;
      Bytes genuine = m->build_reply(input, *parsed, validated, rnd);
      FUZZ_CHECK(genuine.size() <= std::max(size, kValidatedLimit));
      if (!genuine.empty()) {
        FUZZ_CHECK(m->is_reply_to(genuine, input));
        FUZZ_CHECK(!parses_as_any_request(genuine, hints));
      }
      Bytes reply = vpncheck::probes::build_reply(*m, input, *parsed, rnd);
      // Larger than the request only when no answer that fits exists: then it
      // is the genuine one, which the demux withholds (reflector/arrival.cpp).
      if (reply.size() > size) FUZZ_CHECK(reply.size() == genuine.size());
      if (reply.empty()) continue;
      FUZZ_CHECK(m->is_reply_to(reply, input));
      FUZZ_CHECK(!parses_as_any_request(reply, hints));
    }
    // Follow-ups that carry no tag (L2TP SCCCN, ICRQ, ICCN), as the reflector
    // parses them inside a flow an earlier tagged message opened.
    ArrivalContext in_flow = default_arrival(kHints[0]);
    in_flow.flow_token = ProbeToken{};
    if (auto parsed = m->parse_request(input, in_flow)) {
      // Recognised only thanks to the flow: then it is the flow's.
      if (!vpncheck::probes::parse_request(*m, input, kHints[0])) FUZZ_CHECK(parsed->token == *in_flow.flow_token);
      Bytes reply = m->build_reply(input, *parsed, in_flow, rnd);
      if (reply.size() > size) {
        ArrivalContext validated = in_flow;
        validated.reply_limit = kValidatedLimit;
        FUZZ_CHECK(reply.size() == m->build_reply(input, *parsed, validated, rnd).size());
      }
      if (!reply.empty()) {
        FUZZ_CHECK(m->is_reply_to(reply, input));
        // A NAT-T keepalive (RFC 3948: one 0xFF byte) is answered with the
        // same byte by design; in a flow the reflector itself opened it could
        // be read again, but a reflector never opens a flow by sending, so
        // two reflectors cannot ping-pong it. Every other answer must never
        // read as a request.
        const bool keepalive_echo = size == 1 && reply.size() == 1 && reply[0] == 0xFF;
        if (!keepalive_echo)
          for (const ProtocolModule* any : all_protocols()) FUZZ_CHECK(!any->parse_request(reply, in_flow));
      }
    }
    // Multi-message exchanges: the client's next message after the input as an answer.
    if (m->next_request != nullptr) {
      const ProbeContext context = default_context(*m, ProbeToken{}, kHints[1]);
      for (std::size_t step = 0; step < 3; ++step)
        if (auto next = m->next_request(context, step, input.subspan(cut), input.first(cut), rnd))
          (void)m->is_reply_to(input, *next);
    }
    // Client side: the input as an answer to one of our requests, and as a (reply, request) pair.
    Bytes ours = vpncheck::probes::build_request(*m, ProbeToken{}, kHints[1], rnd);
    (void)m->is_reply_to(input, ours);
    (void)m->is_reply_to(input.first(cut), input.subspan(cut));
    (void)m->is_reply_to(input, input);
  }
  for (const ProtocolModule* m : all_protocols()) {
    if (m->data_phase == nullptr) continue;
    const DataPhase& phase = *m->data_phase;
    auto packet = phase.parse(input);
    if (!packet) continue;
    // The reflector's echo (reflector/arrival.cpp handle_data): never larger
    // than what came, and read by the client as this very packet.
    Bytes echo = phase.build(packet->token, packet->sequence, size, packet->flow_key, rnd);
    FUZZ_CHECK(echo.size() == size);
    auto again = phase.parse(echo);
    FUZZ_CHECK(again && again->token == packet->token && again->sequence == packet->sequence &&
               again->flow_key == packet->flow_key);
  }
  for (const auto* framing : stream_framings()) {
    (void)framing->sniff(input);
    auto length = framing->message_length(input);
    if (length.status == MessageLength::Status::length) FUZZ_CHECK(length.length > framing->header_size);
    (void)first_message_length(*framing, input);
    for (bool first : {false, true})
      if (auto inner = unframe(*framing, input, first)) FUZZ_CHECK(inner->size() < size);
    Bytes framed = framing->frame(input);
    if (!framed.empty()) FUZZ_CHECK(framing->message_length(framed) == MessageLength::of(framed.size()));
  }

  if (control::parse_request(input)) {
    Bytes reply = control::build_reply(input, rnd);
    FUZZ_CHECK(reply.size() <= size);
    FUZZ_CHECK(control::is_reply_to(reply, input));
    FUZZ_CHECK(!parses_as_any_request(reply, kHints[0]));
  }
  FUZZ_CHECK(control::build_reply(input, rnd).size() <= size);
  (void)control::is_reply_to(input.first(cut), input.subspan(cut));
  (void)control::is_reply_to(input, input);
  (void)ProbeToken::decode(input);
  return 0;
}
