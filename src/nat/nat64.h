// NAT64 (RFC 6146) seen from an IPv6-only client: the prefix under which the
// network's translator embeds IPv4 addresses in IPv6 ones (RFC 6052 section
// 2.2), found either in the reflector's own address (when its embedded 32
// bits are one of the reflector's IPv4 addresses) or in the network's DNS64
// answer for ipv4only.arpa (RFC 7050). Pure: the DNS query is built and its
// answer parsed here; the socket that carries them is in src/app.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/nat/port_mapping.h"

namespace vpncheck::nat {

// An RFC 6052 prefix: `length` is one of 32, 40, 48, 56, 64, 96, and every bit
// of `bits` after it is zero.
struct Nat64Prefix {
  Ipv6 bits{};
  int length = 96;
  bool operator==(const Nat64Prefix&) const = default;
};

// RFC 6052 section 2.2 allows only these lengths.
bool valid_nat64_prefix_length(int length);

// The IPv6 address of `ipv4` under `prefix` (RFC 6052 section 2.2: the 32
// bits split around bits 64..71, the "u" octet, which stays zero; the suffix
// is zero). nullopt for an invalid prefix length.
std::optional<Ipv6> synthesize_ipv6(const Nat64Prefix& prefix, const Ipv4& ipv4);

// The IPv4 address embedded in `address` for a prefix of `length` bits;
// nullopt for an invalid length or a non-zero "u" octet (then it is no
// RFC 6052 address of that length).
std::optional<Ipv4> embedded_ipv4(const Ipv6& address, int length);

// The prefix under which `address` embeds `ipv4`: the RFC 6052 lengths tried
// from /96 down, the first whose embedded address is `ipv4` with a zero
// suffix. nullopt when none does (the address is no translation of `ipv4`).
std::optional<Nat64Prefix> prefix_embedding(const Ipv6& address, const Ipv4& ipv4);

// The prefix from DNS64's AAAA answers for ipv4only.arpa: the first answer
// that embeds one of its well-known addresses 192.0.0.170 or 192.0.0.171
// (RFC 7050 sections 2.2 and 3). nullopt when no answer does.
std::optional<Nat64Prefix> prefix_from_ipv4only(const std::vector<Ipv6>& answers);

// "2001:db8:64::/96".
std::string to_string(const Nat64Prefix& prefix);
// Strict IPv6 text (inet_pton); nullopt otherwise.
std::optional<Ipv6> parse_ipv6(std::string_view text);

// The name RFC 7050 section 2.1 asks about.
inline constexpr std::string_view kIpv4OnlyName = "ipv4only.arpa";

// A standard recursive query (RFC 1035 section 4.1) for the AAAA records of
// `name` (dot-separated labels of 1..63 bytes); empty for a name that is not.
std::vector<std::uint8_t> build_aaaa_query(std::uint16_t id, std::string_view name);

// The AAAA records of an answer to build_aaaa_query(id, ...): an empty list for
// an answer without any (NXDOMAIN, no DNS64); nullopt for anything that is not
// a well-formed response to that query (wrong id, a query, truncated, names
// that run off the end or loop).
std::optional<std::vector<Ipv6>> parse_aaaa_answer(probes::ByteView answer, std::uint16_t id);

// The resolver addresses of a resolv.conf text ("nameserver ADDRESS" lines,
// in order, at most 3 as the C library uses; a scope suffix "%eth0" dropped).
std::vector<std::string> nameservers_from_resolv_conf(std::string_view text);

}  // namespace vpncheck::nat
