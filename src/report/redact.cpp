#include "src/report/redact.h"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <optional>

#include "probes/bytes.h"
#include "probes/crypto.h"

namespace vpncheck::client {
namespace {

struct Parsed {
  std::string canonical;  // inet_ntop's spelling, so "2001:DB8::1" and "2001:db8::1" hash alike
  bool is_private = false;
};

bool private_v4(std::uint32_t a) {  // host byte order
  auto in = [a](std::uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  return in(0x0A000000, 8)       // 10/8, RFC 1918
         || in(0xAC100000, 12)   // 172.16/12, RFC 1918
         || in(0xC0A80000, 16)   // 192.168/16, RFC 1918
         || in(0x64400000, 10)   // 100.64/10, RFC 6598 shared address space (CGNAT)
         || in(0x7F000000, 8)    // 127/8 loopback
         || in(0xA9FE0000, 16)   // 169.254/16 link-local, RFC 3927
         || in(0x00000000, 8);   // 0/8 "this network"
}

std::optional<Parsed> parse_ip(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    inet_ntop(AF_INET, &v4, buf, sizeof buf);
    return Parsed{buf, private_v4(ntohl(v4.s_addr))};
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return std::nullopt;
  inet_ntop(AF_INET6, &v6, buf, sizeof buf);
  const auto* b = v6.s6_addr;
  bool zero_prefix = true;  // first 10 bytes zero
  for (int i = 0; i < 10; ++i) zero_prefix = zero_prefix && b[i] == 0;
  bool is_private = false;
  if (zero_prefix && b[10] == 0xff && b[11] == 0xff) {  // ::ffff:a.b.c.d, IPv4-mapped (RFC 4291 §2.5.5.2)
    is_private = private_v4((std::uint32_t{b[12]} << 24) | (std::uint32_t{b[13]} << 16) |
                            (std::uint32_t{b[14]} << 8) | b[15]);
  } else if (zero_prefix && b[10] == 0 && b[11] == 0 && b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1) {
    is_private = true;  // :: and ::1
  } else {
    is_private = (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)  // fe80::/10 link-local
                 || (b[0] & 0xfe) == 0xfc;                // fc00::/7 unique local (ULA), RFC 4193
  }
  return Parsed{buf, is_private};
}

std::string token_for(const std::string& canonical) {
  std::string input = std::string(kRedactSalt) + "|" + canonical;
  auto digest = probes::sha256(probes::as_bytes(input));
  return "redacted-" + probes::to_hex(probes::ByteView(digest.data(), 4));
}

bool in_address_run(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// The replacement for one run of [0-9a-fA-F:.] (not inside a word): the run with
// its address part tokenised, or nullopt when it holds no public address.
std::optional<std::string> redact_run(std::string_view run) {
  // Sentence punctuation and a dangling colon are not part of an address.
  std::size_t end = run.size();
  while (end > 0 && (run[end - 1] == '.' || run[end - 1] == ':')) --end;
  std::string candidate(run.substr(0, end));
  std::string rest(run.substr(end));
  auto parsed = parse_ip(candidate);
  if (!parsed) {
    // "a.b.c.d:port" or "v6:port" as written in evidence strings.
    auto colon = candidate.rfind(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    rest = candidate.substr(colon) + rest;
    candidate.resize(colon);
    parsed = parse_ip(candidate);
    if (!parsed) return std::nullopt;
  }
  if (parsed->is_private) return std::nullopt;
  return token_for(parsed->canonical) + rest;
}

}  // namespace

bool is_private_address(std::string_view address) {
  auto parsed = parse_ip(std::string(address));
  return parsed && parsed->is_private;
}

std::string redact_address(std::string_view address) {
  auto parsed = parse_ip(std::string(address));
  if (!parsed || parsed->is_private) return std::string(address);
  return token_for(parsed->canonical);
}

std::string redact_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (!in_address_run(text[i]) || (i > 0 && word_char(text[i - 1]))) {
      out += text[i++];
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && in_address_run(text[j])) ++j;
    auto run = text.substr(i, j - i);
    // A run glued to a word ("12:00:00Z", "0.1.0rc1") is not an address.
    auto replaced = (j < text.size() && word_char(text[j])) ? std::nullopt : redact_run(run);
    out += replaced ? *replaced : std::string(run);
    i = j;
  }
  return out;
}

void redact_protocol(ProtocolAssessment& protocol);

Report redact(Report r) {
  r.reflector_host = redact_address(r.reflector_host);  // host names stay; IP literals do not
  r.reflector_address = redact_address(r.reflector_address);
  for (auto& attempt : r.control_attempts) attempt.result = redact_text(attempt.result);
  if (r.reflector_version) r.reflector_version = redact_text(*r.reflector_version);
  if (r.local_address) r.local_address = redact_address(*r.local_address);
  if (r.public_address) r.public_address = redact_address(*r.public_address);
  r.observations_error = redact_text(r.observations_error);
  for (auto& limit : r.reflector_limits) limit.detail = redact_text(limit.detail);
  if (r.error) r.error = redact_text(*r.error);
  if (r.reflector_address_v6) r.reflector_address_v6 = redact_address(*r.reflector_address_v6);
  for (auto& protocol : r.protocols) redact_protocol(protocol);
  // The gateway's external address is kept only when private (no token fits an
  // address field of the codec's type, so a public one is dropped with a note).
  if (r.nat.gateway) {
    for (auto* answer : {&r.nat.gateway->natpmp, &r.nat.gateway->pcp, &r.nat.gateway->upnp}) {
      if (!answer->external_address || nat::is_private_address(*answer->external_address) ||
          nat::is_cgnat_address(*answer->external_address))
        continue;
      answer->external_address.reset();
      answer->detail += answer->detail.empty() ? "external address redacted" : "; external address redacted";
    }
  }
  if (r.nat.topology) r.nat.topology->explanation = redact_text(r.nat.topology->explanation);
  if (r.nat.hops) {
    for (auto& hop : r.nat.hops->hops) {
      if (nat::classify_hop(hop) != nat::HopClass::public_space || !hop.address) continue;
      hop.address.reset();
      hop.address_redacted = true;
    }
    r.nat.hops->explanation = redact_text(r.nat.hops->explanation);
  }
  for (auto& drop : r.drops) {
    drop.point.address = redact_address(drop.point.address);
    drop.point.explanation = redact_text(drop.point.explanation);
    for (auto& step : drop.point.steps) {
      step.genuine.address = redact_address(step.genuine.address);
      step.control.address = redact_address(step.control.address);
    }
  }
  r.redacted = true;
  return r;
}

void redact_protocol(ProtocolAssessment& protocol) {
  {
    protocol.summary = redact_text(protocol.summary);
    for (auto& line : protocol.advice) line = redact_text(line);
    for (auto& family : protocol.families) redact_protocol(family);
    // Evidence and modification strings are rendered from these fields, so
    // redacting the fields redacts them, and equal addresses stay equal.
    for (auto& result : protocol.probes) {
      if (result.client.local) result.client.local->address = redact_address(result.client.local->address);
      result.client.detail = redact_text(result.client.detail);
      if (result.probe.not_run_reason) result.probe.not_run_reason = redact_text(*result.probe.not_run_reason);
      for (auto& arrival : result.arrivals) {
        arrival.source.address = redact_address(arrival.source.address);
        for (auto& [name, value] : arrival.fields) value = redact_text(value);
        arrival.reply.kind = redact_text(arrival.reply.kind);
        arrival.reply.reason = redact_text(arrival.reply.reason);
      }
    }
  }
}

}  // namespace vpncheck::client
