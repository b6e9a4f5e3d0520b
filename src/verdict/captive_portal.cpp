#include "src/verdict/captive_portal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace vpncheck::client {
namespace {

constexpr std::size_t kMaxUrl = 512;
// A portal's page names its login link near the top; no need to read megabytes.
constexpr std::size_t kMaxHtmlScanned = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

// "http://host:port" of a URL (scheme and authority), or "" if it has none.
std::string origin_of(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  auto path = url.find('/', scheme_end + 3);
  return std::string(url.substr(0, path));
}

// Does a URL that is not http(s) start with a scheme of its own (RFC 3986
// §3.1: a letter, then letters, digits, '+', '-' or '.', then ':')?
bool has_other_scheme(std::string_view url) {
  auto colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(url[0]))) return false;
  return std::all_of(url.begin(), url.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

// A URL from the network, made safe to print and resolved against `base`:
// printable ASCII only, bounded, http(s) only; "" if nothing usable is left.
std::string usable_url(std::string_view raw, std::string_view base) {
  std::string url;
  for (char c : raw) {
    if (c == ' ' && url.empty()) continue;  // leading blanks (e.g. after "url=")
    if (c <= 0x20 || c >= 0x7f) break;      // a space or control character ends it
    url += c;
  }
  // HTML attribute values may carry the one entity that appears in URLs.
  for (auto at = url.find("&amp;"); at != std::string::npos; at = url.find("&amp;", at + 1)) url.replace(at, 5, "&");
  if (url.empty()) return {};
  const std::string origin = origin_of(base);
  if (url.starts_with("//")) {
    url = "http:" + url;
  } else if (!starts_with_ci(url, "http://") && !starts_with_ci(url, "https://")) {
    if (has_other_scheme(url)) return {};  // javascript:, data:, ...
    if (origin.empty()) return {};
    url = origin + (url.starts_with("/") ? "" : "/") + url;
  }
  if (url.size() > kMaxUrl) return {};
  return url;
}

// The value of attribute `name` inside one tag's text (already lower-cased
// for the search; the value is taken from `original` at the same offsets).
std::string attribute(std::string_view tag_lower, std::string_view original, std::string_view name) {
  for (auto at = tag_lower.find(name); at != std::string_view::npos; at = tag_lower.find(name, at + 1)) {
    // A whole attribute name: preceded by a blank, followed by optional blanks and '='.
    if (at == 0 || !std::isspace(static_cast<unsigned char>(tag_lower[at - 1]))) continue;
    auto pos = at + name.size();
    while (pos < tag_lower.size() && std::isspace(static_cast<unsigned char>(tag_lower[pos]))) ++pos;
    if (pos >= tag_lower.size() || tag_lower[pos] != '=') continue;
    ++pos;
    while (pos < tag_lower.size() && std::isspace(static_cast<unsigned char>(tag_lower[pos]))) ++pos;
    if (pos >= tag_lower.size()) return {};
    const char quote = tag_lower[pos];
    if (quote == '"' || quote == '\'') {
      auto end = tag_lower.find(quote, pos + 1);
      if (end == std::string_view::npos) return {};
      return std::string(original.substr(pos + 1, end - pos - 1));
    }
    auto end = tag_lower.find_first_of(" \t\r\n>", pos);
    return std::string(original.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
  }
  return {};
}

// Every tag `<name ...>` in order, as (lower-cased, original) text.
template <typename Visit>
void for_each_tag(std::string_view html_lower, std::string_view html, std::string_view name, Visit visit) {
  const std::string open = "<" + std::string(name);
  for (auto at = html_lower.find(open); at != std::string_view::npos; at = html_lower.find(open, at + 1)) {
    auto after = at + open.size();
    if (after < html_lower.size() && !std::isspace(static_cast<unsigned char>(html_lower[after]))) continue;
    auto end = html_lower.find('>', after);
    if (end == std::string_view::npos) return;
    // A leading blank, so the first attribute is preceded by one as the rest are.
    if (visit(" " + std::string(html_lower.substr(after, end - after)), " " + std::string(html.substr(after, end - after))))
      return;
  }
}

bool is_reflector_error(const WebAnswer& a) {
  if (a.content_type.find("json") == std::string::npos) return false;
  auto j = nlohmann::json::parse(a.body, nullptr, false);
  return !j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_string();
}

bool carries_token(const WebAnswer& a, std::string_view token) {
  auto j = nlohmann::json::parse(a.body, nullptr, false);
  return !j.is_discarded() && j.is_object() && j.contains("challenge") && j["challenge"].is_string() &&
         j["challenge"].get<std::string>() == token;
}

bool looks_like_html(const WebAnswer& a) {
  if (a.content_type.find("html") != std::string::npos) return true;
  const std::string head = lower(std::string_view(a.body).substr(0, 512));
  return head.find("<html") != std::string::npos || head.find("<!doctype html") != std::string::npos;
}

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

std::string status_text(const WebAnswer& a) { return "HTTP " + std::to_string(a.status); }

}  // namespace

std::string challenge_target(std::string_view token_hex) { return "/v1/challenge/" + std::string(token_hex); }

std::string login_url_from_html(std::string_view html, std::string_view base) {
  html = html.substr(0, kMaxHtmlScanned);
  const std::string html_lower = lower(html);
  std::string found;
  for_each_tag(html_lower, html, "meta", [&](const std::string& tag_lower, const std::string& tag) {
    if (lower(attribute(tag_lower, tag, "http-equiv")) != "refresh") return false;
    const std::string content = attribute(tag_lower, tag, "content");
    auto url_at = lower(content).find("url=");
    if (url_at == std::string::npos) return false;
    std::string value = content.substr(url_at + 4);
    if (!value.empty() && (value.front() == '\'' || value.front() == '"')) value.erase(0, 1);
    if (!value.empty() && (value.back() == '\'' || value.back() == '"')) value.pop_back();
    found = usable_url(value, base);
    return !found.empty();
  });
  if (!found.empty()) return found;
  for_each_tag(html_lower, html, "form", [&](const std::string& tag_lower, const std::string& tag) {
    found = usable_url(attribute(tag_lower, tag, "action"), base);
    return !found.empty();
  });
  if (!found.empty()) return found;
  for_each_tag(html_lower, html, "a", [&](const std::string& tag_lower, const std::string& tag) {
    const std::string href = attribute(tag_lower, tag, "href");
    if (!starts_with_ci(href, "http://") && !starts_with_ci(href, "https://")) return false;
    found = usable_url(href, base);
    return !found.empty();
  });
  return found;
}

CaptivePortal classify_web_answer(const WebAnswer& a, std::string_view token, std::string_view requested_url,
                                  ChallengeSupport support) {
  CaptivePortal out;
  if (!a.answered) {
    if (a.failure == "connection refused") {
      out.detected = false;
      out.evidence = "TCP 80 to the reflector was refused: nothing answered in its place.";
    } else {
      out.evidence = "TCP 80 to the reflector gave no HTTP answer (" + printable(a.failure, 120) +
                     "): a captive portal can be neither ruled out nor confirmed.";
    }
    return out;
  }
  if (a.status == 200 && carries_token(a, token)) {
    out.detected = false;
    out.evidence = "the reflector's own answer to a one-time challenge came back on TCP 80.";
    return out;
  }
  if (a.status >= 300 && a.status < 400) {
    out.detected = true;
    const std::string url = usable_url(a.location, requested_url);
    if (!url.empty()) out.login_url = url;
    out.evidence = "plain web traffic (TCP 80) to the reflector was redirected (" + status_text(a) + ")" +
                   (url.empty() ? "" : " to " + url) + " instead of reaching it.";
    return out;
  }
  if (is_reflector_error(a) && a.status != 200 && a.status != 204) {
    // A reflector's own error: an older version without the challenge, or a busy one.
    out.evidence = "the reflector answered the challenge on TCP 80 with an error (" + status_text(a) +
                   (support == ChallengeSupport::yes ? ")" : "; an older reflector does not offer it)") +
                   ": a captive portal can be neither ruled out nor confirmed.";
    return out;
  }
  const bool html = looks_like_html(a);
  if (a.status == 511 || a.status == 204 || (a.status >= 200 && a.status < 300) || html) {
    out.detected = true;
    if (html) {
      const std::string url = login_url_from_html(a.body, requested_url);
      if (!url.empty()) out.login_url = url;
    }
    if (a.status == 511)
      out.evidence = "plain web traffic (TCP 80) was answered with HTTP 511 Network Authentication Required (RFC 6585 §6).";
    else if (a.status == 204)
      out.evidence = "plain web traffic (TCP 80) was answered with an empty HTTP 204 that lacks the reflector's "
                     "one-time token: something in between answers in the reflector's place.";
    else
      out.evidence = "plain web traffic (TCP 80) to the reflector was answered with " +
                     std::string(html ? "a web page" : "something else") + " (" + status_text(a) +
                     ", " + std::to_string(a.body.size()) + " bytes) without the reflector's one-time token.";
    return out;
  }
  out.evidence = "TCP 80 answered " + status_text(a) +
                 " without the reflector's token and without a page: a captive portal can be neither ruled out nor confirmed.";
  return out;
}

std::string captive_portal_error(const CaptivePortal& portal) {
  std::string where = portal.login_url ? "login page: " + *portal.login_url
                                       : "open any http:// address in a browser to reach its login page";
  return "A captive portal intercepts this network's web traffic (" + where +
         "). Log in, then run vpncheck again.";
}

}  // namespace vpncheck::client
