// Is a captive portal in the way? Decided from one plain-HTTP request to the
// reflector's challenge endpoint: the reflector echoes a random token the
// client chose, so only the reflector itself can give the right answer. A
// redirect, a login page, a faked "204 No Content" or any answer without the
// token came from something in between.
//
// The same idea as the connectivity checks of operating systems (RFC 8908 §1
// describes the interception they detect), but with a token, because portals
// learn to fake the fixed answers of well-known check URLs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vpncheck::client {

// What one HTTP request on TCP 80 brought back. `answered` is false when no
// HTTP answer came (refused, reset, timed out: `failure` says which).
struct WebAnswer {
  bool answered = false;
  std::string failure;
  unsigned status = 0;
  std::string location;      // the Location header, if any
  std::string content_type;  // the Content-Type header, if any
  std::string body;
};

struct CaptivePortal {
  // true: something in between answered instead of the reflector; false: the
  // reflector's own answer came back; unset: the check could not tell.
  std::optional<bool> detected;
  std::optional<std::string> login_url;
  std::string evidence;  // one sentence for people, naming what was seen
};

// Does the reflector (as far as the client knows) serve the challenge?
enum class ChallengeSupport { yes, no, unknown };

// `requested_url` is what was asked for ("http://host/v1/challenge/<token>"), to
// resolve a relative Location and to name in the evidence. Strings taken from
// the answer are reduced to printable ASCII and bounded in length.
CaptivePortal classify_web_answer(const WebAnswer& answer, std::string_view token, std::string_view requested_url,
                                  ChallengeSupport support);

// The login page a portal's HTML names: a meta refresh, a form's action, or
// the first absolute link; empty if none. Relative URLs are resolved against
// `base` (scheme and authority only).
std::string login_url_from_html(std::string_view html, std::string_view base);

// The sentence that ends a run a portal stopped.
std::string captive_portal_error(const CaptivePortal& portal);

// The challenge's request path for a token (hex, from the client's CSPRNG).
std::string challenge_target(std::string_view token_hex);

}  // namespace vpncheck::client
