#include "src/nat/nat64.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace vpncheck::nat {
namespace {

constexpr std::array<int, 6> kLengthsLongestFirst{96, 64, 56, 48, 40, 32};
// Bits 64..71, the "u" octet (RFC 6052 section 2.2).
constexpr std::size_t kUOctet = 8;

// Where the four IPv4 bytes go for a prefix of `length` bits: from the end of
// the prefix on, stepping over the "u" octet.
std::array<std::size_t, 4> ipv4_positions(int length) {
  std::array<std::size_t, 4> out{};
  std::size_t at = static_cast<std::size_t>(length / 8);
  for (auto& p : out) {
    if (at == kUOctet) ++at;
    p = at++;
  }
  return out;
}

constexpr std::array<Ipv4, 2> kIpv4OnlyAddresses{Ipv4{192, 0, 0, 170}, Ipv4{192, 0, 0, 171}};

// Skips a (possibly compressed) domain name at `at`; false if it runs off the
// end or is not a name (RFC 1035 section 4.1.4: labels, ended by a zero byte or
// by one pointer).
bool skip_name(probes::ByteView m, std::size_t& at) {
  for (int labels = 0; labels < 128; ++labels) {
    if (at >= m.size()) return false;
    const std::uint8_t len = m[at];
    if ((len & 0xC0) == 0xC0) {
      if (at + 2 > m.size()) return false;
      at += 2;
      return true;
    }
    if ((len & 0xC0) != 0) return false;  // the reserved label types
    ++at;
    if (len == 0) return true;
    at += len;
  }
  return false;
}

std::uint16_t u16(probes::ByteView m, std::size_t at) {
  return static_cast<std::uint16_t>((m[at] << 8) | m[at + 1]);
}

}  // namespace

bool valid_nat64_prefix_length(int length) {
  return std::find(kLengthsLongestFirst.begin(), kLengthsLongestFirst.end(), length) != kLengthsLongestFirst.end();
}

std::optional<Ipv6> synthesize_ipv6(const Nat64Prefix& prefix, const Ipv4& ipv4) {
  if (!valid_nat64_prefix_length(prefix.length)) return std::nullopt;
  Ipv6 out{};
  std::copy_n(prefix.bits.begin(), prefix.length / 8, out.begin());
  out[kUOctet] = 0;
  const auto at = ipv4_positions(prefix.length);
  for (std::size_t i = 0; i < 4; ++i) out[at[i]] = ipv4[i];
  return out;
}

std::optional<Ipv4> embedded_ipv4(const Ipv6& address, int length) {
  if (!valid_nat64_prefix_length(length) || address[kUOctet] != 0) return std::nullopt;
  const auto at = ipv4_positions(length);
  return Ipv4{address[at[0]], address[at[1]], address[at[2]], address[at[3]]};
}

std::optional<Nat64Prefix> prefix_embedding(const Ipv6& address, const Ipv4& ipv4) {
  for (int length : kLengthsLongestFirst) {
    auto embedded = embedded_ipv4(address, length);
    if (!embedded || *embedded != ipv4) continue;
    const auto at = ipv4_positions(length);
    if (!std::all_of(address.begin() + static_cast<std::ptrdiff_t>(at[3]) + 1, address.end(),
                     [](std::uint8_t b) { return b == 0; }))
      continue;
    Nat64Prefix prefix;
    prefix.length = length;
    std::copy_n(address.begin(), length / 8, prefix.bits.begin());
    return prefix;
  }
  return std::nullopt;
}

std::optional<Nat64Prefix> prefix_from_ipv4only(const std::vector<Ipv6>& answers) {
  for (const auto& answer : answers)
    for (const auto& known : kIpv4OnlyAddresses)
      if (auto prefix = prefix_embedding(answer, known)) return prefix;
  return std::nullopt;
}

std::string to_string(const Nat64Prefix& prefix) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET6, prefix.bits.data(), buf, sizeof buf) == nullptr) return {};
  return std::string(buf) + "/" + std::to_string(prefix.length);
}

std::optional<Ipv6> parse_ipv6(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string copy(text);
  Ipv6 out{};
  if (inet_pton(AF_INET6, copy.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

std::vector<std::uint8_t> build_aaaa_query(std::uint16_t id, std::string_view name) {
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id & 0xff),
                                0x01, 0x00,  // RD: a stub asks its resolver to recurse
                                0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto end = std::min(name.find('.', start), name.size());
    const auto len = end - start;
    if (len == 0 || len > 63) return {};
    out.push_back(static_cast<std::uint8_t>(len));
    out.insert(out.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
               name.begin() + static_cast<std::ptrdiff_t>(end));
    start = end + 1;
  }
  if (out.size() - 12 > 254) return {};
  out.insert(out.end(), {0, 0, 28, 0, 1});  // root label, QTYPE AAAA, QCLASS IN
  return out;
}

std::optional<std::vector<Ipv6>> parse_aaaa_answer(probes::ByteView m, std::uint16_t id) {
  if (m.size() < 12 || u16(m, 0) != id) return std::nullopt;
  const std::uint16_t flags = u16(m, 2);
  if ((flags & 0x8000) == 0 || (flags & 0x7800) != 0) return std::nullopt;  // a response to a standard query
  if ((flags & 0x0200) != 0) return std::nullopt;                           // truncated: nothing to trust
  std::vector<Ipv6> out;
  if ((flags & 0x000f) != 0) return out;  // NXDOMAIN and the like: no address
  std::size_t at = 12;
  for (std::uint16_t q = u16(m, 4); q > 0; --q) {
    if (!skip_name(m, at) || at + 4 > m.size()) return std::nullopt;
    at += 4;
  }
  for (std::uint16_t a = u16(m, 6); a > 0; --a) {
    if (!skip_name(m, at) || at + 10 > m.size()) return std::nullopt;
    const std::uint16_t type = u16(m, at), klass = u16(m, at + 2), length = u16(m, at + 8);
    at += 10;
    if (at + length > m.size()) return std::nullopt;
    if (type == 28 && klass == 1 && length == 16) {
      Ipv6 address{};
      std::copy_n(m.begin() + static_cast<std::ptrdiff_t>(at), 16, address.begin());
      out.push_back(address);
    }
    at += length;
  }
  return out;
}

std::vector<std::string> nameservers_from_resolv_conf(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size() && out.size() < 3) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    auto word = [&line]() {
      const auto b = line.find_first_not_of(" \t\r");
      if (b == std::string_view::npos) return std::string_view{};
      const auto e = line.find_first_of(" \t\r", b);
      auto w = line.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
      line.remove_prefix(e == std::string_view::npos ? line.size() : e);
      return w;
    };
    if (word() != "nameserver") continue;
    auto address = word();
    if (address.empty()) continue;
    address = address.substr(0, address.find('%'));
    out.emplace_back(address);
  }
  return out;
}

}  // namespace vpncheck::nat
