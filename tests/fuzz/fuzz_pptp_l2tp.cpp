// libFuzzer target: the PPTP control, enhanced-GRE/PPP LCP and L2TP parsers,
// which the reflector runs on every arrival (TCP 1723 stream bytes, IP
// protocol 47 datagrams, UDP 1701 datagrams) and the client on every answer.
// Invariants: nothing crashes or throws; the PPTP framer and parser agree and
// never claim more bytes than exist; a reply is never larger than the request
// that caused it, is recognised as its answer, and never parses as a request
// (two reflectors must not ping-pong); what parses rebuilds to the same bytes
// where the codec is canonical (GRE headers).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "probes/gre.h"
#include "probes/l2tp.h"
#include "probes/pptp.h"

namespace {

using namespace vpncheck::probes;

// Observation fields end up in JSON: they must be printable ASCII.
void check_fields(const std::map<std::string, std::string>& fields) {
  for (const auto& [name, value] : fields)
    for (char c : value) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
}

bool is_pptp_request(ByteView bytes) {
  auto r = pptp::parse(bytes);
  if (r.status != pptp::ParseStatus::complete) return false;
  using T = pptp::MessageType;
  auto type = static_cast<T>(r.message.type);
  return type == T::start_control_connection_request || type == T::outgoing_call_request ||
         type == T::stop_control_connection_request;
}

void check_pptp_reply(const Bytes& reply, ByteView request, bool (*is_reply_to)(ByteView, ByteView)) {
  FUZZ_CHECK(!reply.empty());
  FUZZ_CHECK(reply.size() <= request.size());
  FUZZ_CHECK(is_reply_to(reply, request));
  FUZZ_CHECK(!is_pptp_request(reply));
}

void fuzz_pptp(ByteView input, std::size_t cut) {
  auto framed = pptp::frame(input);
  auto parsed = pptp::parse(input);
  FUZZ_CHECK(framed.status == parsed.status);
  FUZZ_CHECK(framed.size == parsed.size);
  if (parsed.status == pptp::ParseStatus::need_more) {
    FUZZ_CHECK(parsed.size == 0 || parsed.size > input.size());
  }
  if (parsed.status == pptp::ParseStatus::complete) {
    FUZZ_CHECK(parsed.size <= input.size());
    FUZZ_CHECK(parsed.size == parsed.message.length);
    FUZZ_CHECK(pptp::expected_length(parsed.message.type) == parsed.size);
    check_fields(pptp::describe(parsed.message));
    const ByteView message = input.first(parsed.size);
    // Any shorter prefix of a valid message only needs more bytes.
    for (std::size_t len = 0; len < message.size(); ++len)
      FUZZ_CHECK(pptp::frame(message.first(len)).status == pptp::ParseStatus::need_more);
    using T = pptp::MessageType;
    switch (static_cast<T>(parsed.message.type)) {
      case T::start_control_connection_request:
        check_pptp_reply(pptp::build_sccrp(message), message, pptp::is_sccrp_reply_to);
        break;
      case T::outgoing_call_request:
        check_pptp_reply(pptp::build_ocrp(message, 0x4321), message, pptp::is_ocrp_reply_to);
        break;
      case T::stop_control_connection_request:
        check_pptp_reply(pptp::build_stop_ccrp(message), message, pptp::is_stop_ccrp_reply_to);
        break;
      default:
        FUZZ_CHECK(pptp::build_sccrp(message).empty());
        break;
    }
  }
  (void)pptp::is_sccrp_reply_to(input.first(cut), input.subspan(cut));
  (void)pptp::is_ocrp_reply_to(input.first(cut), input.subspan(cut));
  (void)pptp::is_stop_ccrp_reply_to(input.first(cut), input.subspan(cut));
  (void)pptp::token_from_host_name(std::string_view(reinterpret_cast<const char*>(input.data()), input.size()));
}

void fuzz_gre(ByteView input, std::size_t cut) {
  constexpr std::uint16_t kClientCallId = 0x1234;
  if (auto packet = gre::parse(input)) {
    FUZZ_CHECK(packet->header_size + packet->payload_length + packet->trailing == input.size());
    FUZZ_CHECK(packet->payload.size() == packet->payload_length);
    // Every accepted header is canonical: rebuilding it gives the same bytes.
    Bytes rebuilt = gre::build(packet->header, packet->payload);
    FUZZ_CHECK(ByteView(rebuilt).size() == input.size() - packet->trailing);
    FUZZ_CHECK(std::equal(rebuilt.begin(), rebuilt.end(), input.begin()));
    (void)gre::parse_lcp(packet->payload);
  }
  (void)gre::parse_lcp(input);
  if (auto probe = gre::parse_probe(input)) {
    FUZZ_CHECK(probe->lcp.token == probe->token);
    check_fields(gre::describe(*probe));
    Bytes reply = gre::build_reply(input, kClientCallId, 9);
    FUZZ_CHECK(reply.size() <= input.size());
    if (!reply.empty()) {
      FUZZ_CHECK(gre::is_reply_to(reply, input, kClientCallId));
      FUZZ_CHECK(!gre::parse_probe(reply).has_value());
    }
  } else {
    FUZZ_CHECK(gre::build_reply(input, kClientCallId, 9).empty());
  }
  (void)gre::is_reply_to(input.first(cut), input.subspan(cut), kClientCallId);
  (void)gre::is_reply_to(input, input, kClientCallId);
}

void fuzz_l2tp(ByteView input, std::size_t cut) {
  auto m = l2tp::parse(input);
  if (m) {
    FUZZ_CHECK(m->length == input.size());
    check_fields(l2tp::describe(*m));
    FUZZ_CHECK(m->zlb == m->avps.empty());
    FUZZ_CHECK(m->zlb != m->message_type.has_value());
    if (!m->zlb) {
      Bytes zlb = l2tp::build_zlb_ack(input, 7);
      FUZZ_CHECK(zlb.size() == l2tp::kHeaderSize && zlb.size() <= input.size());
      FUZZ_CHECK(l2tp::is_zlb_ack_for(zlb, input));
    }
  }
  Bytes sccrp = l2tp::build_sccrp(input, 0x3333);
  FUZZ_CHECK(sccrp.size() <= input.size());
  if (!sccrp.empty()) {
    FUZZ_CHECK(m && m->message_type == static_cast<std::uint16_t>(l2tp::MessageType::sccrq));
    FUZZ_CHECK(l2tp::is_sccrp_reply_to(sccrp, input));
    auto reply = l2tp::parse(sccrp);
    FUZZ_CHECK(reply && reply->message_type == static_cast<std::uint16_t>(l2tp::MessageType::sccrp));
    FUZZ_CHECK(l2tp::build_sccrp(sccrp, 0x3333).empty());
    Bytes scccn = l2tp::build_scccn(sccrp);
    FUZZ_CHECK(!scccn.empty());
  }
  (void)l2tp::build_scccn(input);
  (void)l2tp::is_sccrp_reply_to(input.first(cut), input.subspan(cut));
  (void)l2tp::is_zlb_ack_for(input.first(cut), input.subspan(cut));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  // Split point for (reply, request) pairs, taken from the input itself.
  const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  fuzz_pptp(input, cut);
  fuzz_gre(input, cut);
  fuzz_l2tp(input, cut);
  return 0;
}
