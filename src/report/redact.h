// --redact: a report that can be shared (a CI artifact, a bug report) without
// publishing where the network is. A pure function over the Report, applied
// before rendering, so every form (text, JSON, JUnit, Markdown) gets it.
//
// Public IP addresses become "redacted-<8 hex>", the first 8 hex digits of
// SHA-256(kRedactSalt "|" canonical address). The salt is a fixed constant, NOT
// per run: the same address gives the same token in every report, so two
// reports of one network (or of the same reflector) can still be compared, and
// equal addresses stay equal, which keeps every translation fact (address
// translated, port kept) true. The price: the token of a known address can be
// recomputed, so redaction hides addresses from a casual reader, it does not
// protect against someone testing guesses. Private and local addresses
// (RFC 1918, 100.64/10, 127/8, link-local, ULA, loopback) stay as they are.
#pragma once

#include <string>
#include <string_view>

#include "src/report/report.h"

namespace vpncheck::client {

inline constexpr std::string_view kRedactSalt = "vpncheck.redact/1";

// True for an IP literal that identifies nothing outside the local network:
// RFC 1918, 100.64/10 (CGNAT), 127/8, 169.254/16, 0/8, ::, ::1, fe80::/10,
// fc00::/7 (and IPv4-mapped forms of the IPv4 ones). False for anything else,
// including strings that are not IP literals.
bool is_private_address(std::string_view address);

// "redacted-xxxxxxxx" for a public IP literal; the input unchanged otherwise
// (host names, private addresses, anything that does not parse).
std::string redact_address(std::string_view address);

// Replaces every public IPv4/IPv6 literal inside free text (also "addr:port"
// and "[v6]:port" forms) by its token.
std::string redact_text(std::string_view text);

// The report with every public address replaced, in structured fields and in
// free text (errors, details, decoded fields, summaries); `redacted` set.
Report redact(Report report);

}  // namespace vpncheck::client
