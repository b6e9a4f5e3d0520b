// libFuzzer target: the reflector's PPTP control connection (the pptp
// module's server conversation, probes/pptp_server.h) as the TCP listener
// drives it (reflector/stream_conversation.h), over a real ArrivalHandler and
// SessionTable, then one GRE arrival that the calls it set up may answer.
//
// Input: byte 0 picks the TCP segment size (1..64); the last byte says how
// many bytes before it (0..255) are a GRE datagram arriving afterwards; the
// bytes between, cut into segments, are the client's TCP stream. Every
// literal "xxxxxxxxxxxx" (12 bytes, where a Host Name or Subaddress carries
// the tag's hex) is replaced by the live session's tag, so seeds and
// mutations reach the tagged paths.
//
// Invariants: nothing crashes or throws; each step consumes at most what is
// buffered; an answer is never larger than the message it answers; a closed
// connection stays closed; the call table stays bounded.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "fuzz_check.h"
#include "probes/token.h"
#include "probes/pptp_module.h"
#include "probes/pptp_server.h"
#include "reflector/session_table.h"
#include "reflector/stream_conversation.h"

namespace {

using namespace vpncheck;
using namespace vpncheck::reflector;

constexpr std::string_view kPlaceholder = "xxxxxxxxxxxx";
constexpr std::int64_t kNow = 1700000000000;

probes::RandomFill lcg_fill() {
  auto state = std::make_shared<std::uint32_t>(1);
  return [state](std::span<std::uint8_t> out) {
    for (auto& b : out) {
      *state = *state * 1103515245u + 12345u;
      b = static_cast<std::uint8_t>(*state >> 16);
    }
  };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  auto rnd = lcg_fill();
  SessionTable table(SessionLimits{}, [] { return std::chrono::steady_clock::time_point(std::chrono::hours(1)); });
  auto created = table.create({"198.51.100.7", 5555}, rnd);
  FUZZ_CHECK(created.session != nullptr);
  const std::string tag_hex = probes::tag_to_hex(created.session->tag);
  ArrivalHandler handler(table, {}, lcg_fill());

  const std::size_t segment = std::size_t{data[0]} % 64 + 1;
  probes::Bytes stream(data + 1, data + size - 1);
  for (auto it = stream.begin();
       (it = std::search(it, stream.end(), kPlaceholder.begin(), kPlaceholder.end())) != stream.end();)
    it = std::copy(tag_hex.begin(), tag_hex.end(), it);
  const std::size_t gre_size = std::min<std::size_t>(stream.size(), data[size - 1]);
  probes::Bytes gre(stream.end() - static_cast<std::ptrdiff_t>(gre_size), stream.end());
  stream.resize(stream.size() - gre_size);

  StreamConversation connection(
      probes::pptp::kModule, [&handler](const Arrival& arrival) { return handler.handle(arrival); }, 1723,
      probes::Endpoint{"198.51.100.7", 40001}, "203.0.113.5");
  probes::Bytes buffered;
  bool closed = false;
  for (std::size_t at = 0; at < stream.size() && !closed; at += segment) {
    auto end = std::min(stream.size(), at + segment);
    buffered.insert(buffered.end(), stream.begin() + static_cast<std::ptrdiff_t>(at),
                    stream.begin() + static_cast<std::ptrdiff_t>(end));
    for (int steps = 0; steps < 64; ++steps) {
      auto step = connection.on_bytes(buffered, kNow);
      FUZZ_CHECK(step.consumed <= buffered.size());
      if (!step.reply.empty()) FUZZ_CHECK(step.reply.size() <= step.consumed);
      buffered.erase(buffered.begin(), buffered.begin() + static_cast<std::ptrdiff_t>(step.consumed));
      if (step.close) {
        closed = true;
        FUZZ_CHECK(dynamic_cast<const probes::pptp::ServerConversation&>(connection.conversation()).state() ==
                   probes::pptp::ServerConversation::State::closed);
        FUZZ_CHECK(connection.on_bytes(buffered, kNow).close);
        break;
      }
      if (step.consumed == 0) break;
    }
  }
  FUZZ_CHECK(handler.server_state(probes::pptp::kModule)->size() <= probes::pptp::CallTable::kMaxCalls);

  if (!gre.empty()) {
    Arrival arrival;
    arrival.payload = gre;
    arrival.framing = Framing::ip_datagram;
    arrival.local_port = 47;
    arrival.source = {"198.51.100.7", 0};
    arrival.destination_address = "203.0.113.5";
    arrival.received_at_unix_ms = kNow + 1;
    auto outcome = handler.handle(arrival);
    FUZZ_CHECK(outcome.reply.size() <= gre.size());
  }
  return 0;
}
