// libFuzzer target: every IPsec parser that sees network bytes (probes/ike.h,
// probes/ipsec_esp.h). The input is tried as an IKEv2 IKE_SA_INIT, a large
// IKE_AUTH, an IKEv1 Main Mode message (each bare as on UDP 500 and after the
// UDP 4500 demux), an ESP packet, an IPv4 datagram, an AH datagram, and an
// IPv6 datagram and AH-over-IPv6 datagram.
// Invariants: nothing crashes or throws; a reply is never larger than the
// request that caused it, is recognised as the answer to it, and never parses
// as a request (two reflectors must not ping-pong).
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "probes/ike.h"
#include "probes/ip.h"
#include "probes/ipsec_esp.h"

namespace {

using namespace vpncheck::probes;

void counter_fill(std::span<std::uint8_t> out) {
  std::uint8_t next = 0x5a;
  for (auto& b : out) b = next++;
}

const ike::IpPort kObserved{{198, 51, 100, 7}, 40000};
const ike::IpPort kResponder{{203, 0, 113, 5}, 500};
const ike::IpPort kLocal6{Bytes(16, 0xfd), 500};

void fuzz_ike(ByteView input, const RandomFill& rnd) {
  if (auto m = ike::parse_sa_init(input)) {
    (void)ike::check_behind_nat(*m, kObserved);
    (void)ike::check_source_translated(*m, kLocal6);
    for (const ike::IpPort& observed : {kObserved, kLocal6}) {
      Bytes reply = ike::build_sa_init_reply(*m, observed, kResponder, rnd);
      FUZZ_CHECK(reply.size() <= input.size());
      if (reply.empty()) continue;
      FUZZ_CHECK(ike::is_sa_init_response_to(reply, input));
      auto parsed = ike::parse_sa_init(reply);
      FUZZ_CHECK(parsed && parsed->is_response());
      FUZZ_CHECK(ike::build_sa_init_reply(*parsed, observed, kResponder, rnd).empty());
      auto nat = ike::check_behind_nat(*parsed, observed);
      FUZZ_CHECK(nat && !nat->nat);  // the reply hashes exactly the address it was built for
    }
  }
  if (ike::parse_ike_auth(input)) {
    Bytes reply = ike::build_ike_auth_reply(input, rnd);
    FUZZ_CHECK(reply.size() <= input.size());
    if (!reply.empty()) {
      FUZZ_CHECK(ike::is_ike_auth_reply_to(reply, input));
      FUZZ_CHECK(ike::build_ike_auth_reply(reply, rnd).empty());
    }
  }
  if (auto m = ike::parse_main_mode(input)) {
    Bytes reply = ike::build_main_mode_2(*m, rnd);
    FUZZ_CHECK(reply.size() <= input.size());
    if (!reply.empty()) {
      FUZZ_CHECK(ike::is_mm2_reply_to(reply, input));
      auto parsed = ike::parse_main_mode(reply);
      FUZZ_CHECK(parsed && !parsed->is_request());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const RandomFill rnd = counter_fill;
  const ByteView input(data, size);
  const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);

  // UDP 500: bare IKE. UDP 4500: the demux first, then IKE after the marker.
  fuzz_ike(input, rnd);
  auto kind = ike::classify_udp4500(input);
  if (auto stripped = ike::strip_non_esp_marker(input)) {
    FUZZ_CHECK(kind == ike::Udp4500Kind::ike);
    fuzz_ike(*stripped, rnd);
  }
  FUZZ_CHECK(ike::classify_udp4500(ike::add_non_esp_marker(input)) != ike::Udp4500Kind::esp);

  // Client side: the input as an answer to our requests, and as a (reply, request) pair.
  const ProbeToken token{{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6}, 0x0102};  // as the seeds; SPIi must not be 0
  Bytes sa_init = ike::build_sa_init_request(token, kLocal6, kResponder, rnd);
  (void)ike::is_sa_init_response_to(input, sa_init);
  (void)ike::is_sa_init_response_to(input.first(cut), input.subspan(cut));
  Bytes mm1 = ike::build_main_mode_1(token);
  (void)ike::is_mm2_reply_to(input, mm1);
  (void)ike::is_mm2_reply_to(input.first(cut), input.subspan(cut));
  (void)ike::is_ike_auth_reply_to(input.first(cut), input.subspan(cut));

  // ESP (raw proto 50, or in UDP 4500).
  if (auto e = esp::parse_esp(input)) {
    Bytes reply = esp::build_esp_reply(input, rnd);
    FUZZ_CHECK(reply.size() <= size);
    if (!reply.empty()) {
      FUZZ_CHECK(e->role == esp::Role::request);
      FUZZ_CHECK(esp::is_esp_reply_to(reply, input));
      auto parsed = esp::parse_esp(reply);
      FUZZ_CHECK(parsed && parsed->role == esp::Role::reply && parsed->token == e->token);
    }
  }
  (void)esp::is_esp_reply_to(input.first(cut), input.subspan(cut));
  (void)esp::is_esp_reply_to(input, esp::build_esp(token, rnd));

  // Raw IP: the IPv4 header parser and AH.
  if (auto ip = ip::parse_ipv4(input)) FUZZ_CHECK(ip->header_length + ip->payload.size() == size);
  if (auto ah = esp::parse_ah_ipv4_datagram(input)) {
    Bytes reply = esp::build_ah_ipv4_reply(input, {203, 0, 113, 5}, ah->src, 1, 64, rnd);
    FUZZ_CHECK(reply.size() <= size);
    if (!reply.empty()) {
      FUZZ_CHECK(esp::is_ah_reply_to(reply, input));
      auto parsed = esp::parse_ah_ipv4_datagram(reply);
      FUZZ_CHECK(parsed && parsed->icv_valid && parsed->role == esp::Role::reply);
    }
  }
  (void)esp::is_ah_reply_to(input.first(cut), input.subspan(cut));
  (void)esp::is_ah_reply_to(input, esp::build_ah_ipv4_datagram({192, 168, 1, 10}, {203, 0, 113, 5}, 1, 64,
                                                               token, rnd));

  // Raw IPv6: the header parser and AH over IPv6.
  if (auto ip = ip6::parse(input)) FUZZ_CHECK(ip6::kHeaderSize + ip->payload.size() == size);
  const ip6::Address reflector6{0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
  if (auto ah = esp::parse_ah_ipv6_datagram(input)) {
    Bytes reply = esp::build_ah_ipv6_reply(input, reflector6, ah->src, 64, rnd);
    FUZZ_CHECK(reply.size() <= size);
    if (!reply.empty()) {
      FUZZ_CHECK(esp::is_ah_reply_to(reply, input));
      auto parsed = esp::parse_ah_ipv6_datagram(reply);
      FUZZ_CHECK(parsed && parsed->icv_valid && parsed->role == esp::Role::reply);
    }
  }
  (void)esp::is_ah_reply_to(input, esp::build_ah_ipv6_datagram(ip6::Address{}, reflector6, 64, token, rnd));
  return 0;
}
