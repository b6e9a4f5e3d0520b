#include "probes/observation.h"

#include <algorithm>
#include <cctype>

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <utility>

#include "probes/bytes.h"
#include "probes/tls.h"
#include "probes/untrusted.h"

namespace vpncheck::probes {
namespace {

using nlohmann::json;

// A JSON integer that fits T. nlohmann's get<T>() static_casts any number (and
// booleans): out-of-range integers wrap and out-of-range floats are undefined.
template <typename T>
T get_int(const json& j) {
  if (j.is_number_unsigned() && std::in_range<T>(j.get<std::uint64_t>()))
    return static_cast<T>(j.get<std::uint64_t>());
  if (j.is_number_integer() && !j.is_number_unsigned() && std::in_range<T>(j.get<std::int64_t>()))
    return static_cast<T>(j.get<std::int64_t>());
  throw json::type_error::create(302, "expected an integer in range, got " + j.dump(), &j);
}

template <typename T>
T get_int_or(const json& j, const char* key, T fallback) {
  return j.contains(key) ? get_int<T>(j.at(key)) : fallback;
}

template <typename T>
std::vector<T> get_int_array(const json& j) {
  if (!j.is_array()) throw json::type_error::create(302, "expected an array", &j);
  std::vector<T> out;
  for (const json& item : j) out.push_back(get_int<T>(item));
  return out;
}

// An answer rejected for what it says rather than its JSON types.
struct Invalid {
  std::string what;
};

// A string from the reflector, safe to print anywhere. The backslash is kept:
// the reflector's own escapes (\xNN) then read the same.
std::string text(const json& j) { return escape_bytes(j.get<std::string>(), true); }

std::string text_or(const json& j, const char* key) { return j.contains(key) ? text(j.at(key)) : std::string(); }

std::vector<std::string> text_array(const json& j) {
  if (!j.is_array()) throw json::type_error::create(302, "expected an array", &j);
  std::vector<std::string> out;
  for (const json& item : j) out.push_back(text(item));
  return out;
}

// An IPv4 or IPv6 literal (with an IPv6 zone such as %eth0), or the answer is invalid.
std::string address_from(const json& j) {
  const std::string a = j.get<std::string>();
  const auto percent = a.find('%');
  const std::string bare = a.substr(0, percent);
  std::array<std::uint8_t, 16> buf{};
  bool ok = inet_pton(AF_INET, bare.c_str(), buf.data()) == 1 || inet_pton(AF_INET6, bare.c_str(), buf.data()) == 1;
  if (ok && percent != std::string::npos) {
    const std::string_view zone = std::string_view(a).substr(percent + 1);
    const auto zone_char = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    };
    ok = !zone.empty() && zone.size() <= 16 && bare.find(':') != std::string::npos &&
         std::all_of(zone.begin(), zone.end(), zone_char);
  }
  if (!ok) throw Invalid{"an address is not an IP address: \"" + escape_bytes(a.substr(0, 64)) + "\""};
  return a;
}

json endpoint_json(const Endpoint& e) { return {{"address", e.address}, {"port", e.port}}; }

Endpoint endpoint_from(const json& j) { return {address_from(j.at("address")), get_int<std::uint16_t>(j.at("port"))}; }

// nlohmann's messages quote the input they stopped at, which may be any bytes
// and up to the whole answer long.
std::string describe_json_error(const json::exception& e) {
  constexpr std::size_t kMaxMessage = 200;
  std::string_view what = e.what();
  if (auto close = what.find("] "); what.starts_with("[json.exception.") && close != std::string_view::npos)
    what.remove_prefix(close + 2);
  std::string out = escape_bytes(what.substr(0, kMaxMessage));
  if (what.size() > kMaxMessage) out += "...";
  return out;
}

// Parses within kMaxAnswerBytes / kMaxAnswerDepth / kMaxAnswerValues: the
// callback sees every value before it is stored and stops the parse at the
// first one over a bound, so deep or numerous values are never built.
json parse_bounded(const std::string& body) {
  if (body.size() > kMaxAnswerBytes)
    throw Invalid{"larger than " + std::to_string(kMaxAnswerBytes) + " bytes"};
  std::size_t values = 0;
  return json::parse(body, [&](int depth, json::parse_event_t event, json&) {
    using E = json::parse_event_t;
    const bool starts = event == E::object_start || event == E::array_start;
    if (starts || event == E::value) {
      if (++values > kMaxAnswerValues)
        throw Invalid{"more than " + std::to_string(kMaxAnswerValues) + " JSON values"};
      if (starts && depth >= static_cast<int>(kMaxAnswerDepth))
        throw Invalid{"nested deeper than " + std::to_string(kMaxAnswerDepth) + " levels"};
    }
    return true;
  });
}

// Never throws: on failure `error` says what was wrong, in printable ASCII
// and bounded. Addresses must be IP literals; every other string is kept with
// bytes outside printable ASCII escaped, so nothing the reflector says can
// reach a terminal or a report as a control character.
template <typename T, typename Fn>
std::optional<T> parse_guarded(const std::string& body, std::string& error, Fn&& fn) {
  try {
    json j = parse_bounded(body);
    if (!j.is_object()) {
      error = "expected a JSON object";
      return std::nullopt;
    }
    return fn(j);
  } catch (const json::exception& e) {
    error = describe_json_error(e);
    return std::nullopt;
  } catch (const Invalid& e) {
    error = e.what;
    return std::nullopt;
  }
}

json limit_json(const ReflectorLimit& l) {
  return {{"limit", l.limit}, {"count", l.count}, {"ports", l.ports}, {"detail", l.detail}};
}

ReflectorLimit limit_from(const json& j) {
  ReflectorLimit l;
  l.limit = text(j.at("limit"));
  l.count = get_int<std::uint64_t>(j.at("count"));
  if (j.contains("ports")) {
    l.ports = get_int_array<std::uint16_t>(j.at("ports"));
    if (l.ports.size() > kMaxLimitPorts) l.ports.resize(kMaxLimitPorts);
  }
  l.detail = text_or(j, "detail");
  return l;
}

// Answers of reflectors from before reply codes carried only this text.
constexpr std::string_view kOldRateLimitedReason = "rate limited";

}  // namespace

std::string escape_bytes(std::string_view raw, bool keep_backslash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && (c != '\\' || keep_backslash)) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kDigits[b >> 4]);
      out.push_back(kDigits[b & 0x0f]);
    }
  }
  return out;
}

bool withheld_by_reflector(std::string_view code) {
  return code == reply_code::kRateLimited || code == reply_code::kBatchFull || code == reply_code::kSendFailed ||
         code == reply_code::kAmplification;
}

json to_json(const SessionInfo& info) {
  json caps = {{"udp_ports", info.capabilities.udp_ports},
               {"tcp_ports", info.capabilities.tcp_ports},
               {"raw_protocols", info.capabilities.raw_protocols},
               {"raw_protocols_v6", info.capabilities.raw_protocols_v6},
               {"nat_ports", info.capabilities.nat_ports},
               {"alternate_address", nullptr},
               {"wireguard_public_key", nullptr},
               {"portal_challenge", info.capabilities.portal_challenge}};
  if (info.capabilities.alternate_address) caps["alternate_address"] = *info.capabilities.alternate_address;
  if (info.capabilities.wireguard_public_key_hex)
    caps["wireguard_public_key"] = *info.capabilities.wireguard_public_key_hex;
  json unavailable = json::array();
  for (const auto& u : info.capabilities.unavailable_ports)
    unavailable.push_back({{"transport", std::string(to_string(u.transport))}, {"port", u.port}, {"reason", u.reason}});
  caps["unavailable_ports"] = unavailable;
  if (info.capabilities.tls_certificate_sha256)
    caps["tls_certificate_sha256"] = *info.capabilities.tls_certificate_sha256;
  caps["pieces"] = info.capabilities.pieces;
  return {{"session_id", info.session_id},
          {"tag", info.tag_hex},
          {"client", endpoint_json(info.client)},
          {"server", info.server ? endpoint_json(*info.server) : json(nullptr)},
          {"capabilities", caps},
          {"expires_in_s", info.expires_in_s},
          {"reflector_version", info.reflector_version}};
}

json to_json(const Observation& o) {
  json j = {{"sequence", o.sequence},
            {"probe_index", o.probe_index},
            {"protocol", o.protocol},
            {"kind", o.kind},
            {"transport", std::string(to_string(o.transport))},
            {"local_port", o.local_port},
            {"source", endpoint_json(o.source)},
            {"ip", {{"ttl", nullptr}, {"tos", nullptr}}},
            {"payload", {{"length", o.payload_length}, {"sha256", o.payload_sha256}}},
            {"fields", o.fields},
            {"received_at_unix_ms", o.received_at_unix_ms},
            {"reply",
             {{"sent", o.reply.sent}, {"kind", o.reply.kind}, {"length", o.reply.length},
              {"reason", o.reply.reason}, {"code", o.reply.code}}}};
  if (o.ttl) j["ip"]["ttl"] = *o.ttl;
  if (o.tos) j["ip"]["tos"] = *o.tos;
  return j;
}

json to_json(const ObservationList& list) {
  json arr = json::array();
  for (const auto& o : list.observations) arr.push_back(to_json(o));
  json limits = json::array();
  for (const auto& l : list.limits) limits.push_back(limit_json(l));
  json j = {{"observations", arr}, {"dropped", list.dropped}, {"limits", limits}};
  if (list.next_after) j["next_after"] = *list.next_after;
  return j;
}

std::optional<SessionInfo> session_info_from_json(const std::string& body, std::string& error) {
  return parse_guarded<SessionInfo>(body, error, [&](const json& j) -> std::optional<SessionInfo> {
    SessionInfo info;
    info.session_id = j.at("session_id").get<std::string>();
    // The id goes into request paths: accept only a short token of safe characters.
    bool safe_id = !info.session_id.empty() && info.session_id.size() <= 64 &&
                   std::all_of(info.session_id.begin(), info.session_id.end(),
                               [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; });
    if (!safe_id) {
      error = "session id is not a short alphanumeric token";
      return std::nullopt;
    }
    info.tag_hex = text(j.at("tag"));
    if (!tag_from_hex(info.tag_hex)) {
      error = "session tag is not " + std::to_string(kSessionTagSize) + " hex-encoded bytes";
      return std::nullopt;
    }
    info.client = endpoint_from(j.at("client"));
    // Optional: only sharpens the NAT64 facts, so a malformed one is ignored.
    if (j.contains("server") && j["server"].is_object()) {
      try {
        info.server = endpoint_from(j["server"]);
      } catch (...) {  // json's errors and this file's Invalid alike
        info.server.reset();
      }
    }
    const json& caps = j.at("capabilities");
    info.capabilities.udp_ports = get_int_array<std::uint16_t>(caps.at("udp_ports"));
    info.capabilities.tcp_ports = get_int_array<std::uint16_t>(caps.at("tcp_ports"));
    if (caps.contains("raw_protocols"))
      info.capabilities.raw_protocols = text_array(caps.at("raw_protocols"));
    if (caps.contains("raw_protocols_v6"))
      info.capabilities.raw_protocols_v6 = text_array(caps.at("raw_protocols_v6"));
    if (caps.contains("nat_ports") && caps["nat_ports"].is_array()) {
      info.capabilities.nat_ports = get_int_array<std::uint16_t>(caps.at("nat_ports"));
      if (info.capabilities.nat_ports.size() > 2) info.capabilities.nat_ports.resize(2);
    }
    if (caps.contains("alternate_address") && caps["alternate_address"].is_string())
      info.capabilities.alternate_address = address_from(caps["alternate_address"]);
    if (caps.contains("wireguard_public_key") && caps["wireguard_public_key"].is_string())
      info.capabilities.wireguard_public_key_hex = text(caps["wireguard_public_key"]);
    info.capabilities.portal_challenge = caps.value("portal_challenge", false) == true;
    // A malformed fingerprint is dropped: nothing could be pinned to it.
    if (caps.contains("tls_certificate_sha256") && caps["tls_certificate_sha256"].is_string())
      info.capabilities.tls_certificate_sha256 =
          tls::normalise_fingerprint(caps["tls_certificate_sha256"].get<std::string>());
    // Optional; entries that are not well-formed are skipped (they only improve
    // the wording of "not run", never a verdict). The reason is shown to the
    // user: bounded, and printable ASCII only.
    if (caps.contains("unavailable_ports") && caps["unavailable_ports"].is_array()) {
      for (const json& item : caps["unavailable_ports"]) {
        if (!item.is_object() || !item.contains("port") || !item["port"].is_number_unsigned() ||
            !item.contains("transport") || !item["transport"].is_string())
          continue;
        const auto port = item["port"].get<std::uint64_t>();
        const auto transport = item["transport"].get<std::string>();
        if (port == 0 || port > 65535 || (transport != "udp" && transport != "tcp")) continue;
        std::string reason = item.contains("reason") && item["reason"].is_string() ? item["reason"].get<std::string>() : "";
        if (reason.size() > 160) reason.resize(160);
        for (auto& c : reason)
          if (c < 0x20 || c > 0x7e) c = '?';
        info.capabilities.unavailable_ports.push_back(
            {transport == "udp" ? Transport::udp : Transport::tcp, static_cast<std::uint16_t>(port), reason});
      }
    }
    // Optional (older reflectors); only names of a plausible shape are kept:
    // they are compared with the client's own, never shown.
    if (caps.contains("pieces") && caps["pieces"].is_array()) {
      for (const json& item : caps["pieces"])
        if (item.is_string() && item.get_ref<const std::string&>().size() <= 64)
          info.capabilities.pieces.push_back(item.get<std::string>());
      if (info.capabilities.pieces.size() > 64) info.capabilities.pieces.resize(64);
    }
    info.expires_in_s = get_int_or<int>(j, "expires_in_s", 0);
    info.reflector_version = text_or(j, "reflector_version");
    return info;
  });
}

std::optional<ObservationList> observations_from_json(const std::string& body, std::string& error) {
  return parse_guarded<ObservationList>(body, error, [&](const json& j) -> std::optional<ObservationList> {
    ObservationList list;
    list.dropped = get_int_or<std::uint64_t>(j, "dropped", 0);
    if (j.contains("next_after") && !j.at("next_after").is_null())
      list.next_after = get_int<std::uint64_t>(j.at("next_after"));
    // Optional (older reflectors); present but malformed rejects the answer:
    // a client that ignored it could blame the network for the reflector's limits.
    if (j.contains("limits")) {
      const json& limits = j.at("limits");
      if (!limits.is_array()) {
        error = "\"limits\" is not an array";
        return std::nullopt;
      }
      for (const json& item : limits) {
        if (list.limits.size() == kMaxReflectorLimits) break;
        list.limits.push_back(limit_from(item));
      }
    }
    const json& items = j.at("observations");
    if (!items.is_array()) {
      error = "\"observations\" is not an array";
      return std::nullopt;
    }
    for (const json& item : items) {
      Observation o;
      o.sequence = get_int<std::uint64_t>(item.at("sequence"));
      o.probe_index = get_int<std::uint16_t>(item.at("probe_index"));
      o.protocol = text(item.at("protocol"));
      o.kind = text(item.at("kind"));
      auto transport = transport_from_string(item.at("transport").get<std::string>());
      if (!transport) {
        error = "unknown transport in observation";
        return std::nullopt;
      }
      o.transport = *transport;
      o.local_port = get_int<std::uint16_t>(item.at("local_port"));
      o.source = endpoint_from(item.at("source"));
      const json& ip = item.at("ip");
      if (!ip.is_object()) {
        error = "\"ip\" is not an object";
        return std::nullopt;
      }
      // TTL and TOS are single header bytes; null when the reflector could not read them.
      if (ip.contains("ttl") && !ip["ttl"].is_null()) o.ttl = get_int<std::uint8_t>(ip["ttl"]);
      if (ip.contains("tos") && !ip["tos"].is_null()) o.tos = get_int<std::uint8_t>(ip["tos"]);
      o.payload_length = get_int<std::size_t>(item.at("payload").at("length"));
      o.payload_sha256 = text(item.at("payload").at("sha256"));
      if (item.contains("fields")) {
        const json& fields = item.at("fields");
        if (!fields.is_object()) throw json::type_error::create(302, "\"fields\" is not an object", &fields);
        for (const auto& [key, value] : fields.items()) o.fields[escape_bytes(key, true)] = text(value);
      }
      o.received_at_unix_ms = get_int_or<std::int64_t>(item, "received_at_unix_ms", 0);
      const json& reply = item.at("reply");
      o.reply.sent = reply.at("sent").get<bool>();
      o.reply.kind = text_or(reply, "kind");
      o.reply.length = get_int_or<std::size_t>(reply, "length", 0);
      o.reply.reason = text_or(reply, "reason");
      o.reply.code = text_or(reply, "code");
      if (o.reply.code.empty() && !o.reply.sent && o.reply.reason == kOldRateLimitedReason)
        o.reply.code = reply_code::kRateLimited;
      list.observations.push_back(std::move(o));
    }
    return list;
  });
}

}  // namespace vpncheck::probes
