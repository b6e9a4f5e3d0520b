#include "probes/observation.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <utility>

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

json endpoint_json(const Endpoint& e) { return {{"address", e.address}, {"port", e.port}}; }

Endpoint endpoint_from(const json& j) {
  return {j.at("address").get<std::string>(), get_int<std::uint16_t>(j.at("port"))};
}

template <typename T, typename Fn>
std::optional<T> parse_guarded(const std::string& body, std::string& error, Fn&& fn) {
  try {
    json j = json::parse(body);
    if (!j.is_object()) {
      error = "expected a JSON object";
      return std::nullopt;
    }
    return fn(j);
  } catch (const json::exception& e) {
    error = e.what();
    return std::nullopt;
  }
}

json limit_json(const ReflectorLimit& l) {
  return {{"limit", l.limit}, {"count", l.count}, {"ports", l.ports}, {"detail", l.detail}};
}

ReflectorLimit limit_from(const json& j) {
  ReflectorLimit l;
  l.limit = j.at("limit").get<std::string>();
  l.count = get_int<std::uint64_t>(j.at("count"));
  if (j.contains("ports")) {
    l.ports = get_int_array<std::uint16_t>(j.at("ports"));
    if (l.ports.size() > kMaxLimitPorts) l.ports.resize(kMaxLimitPorts);
  }
  l.detail = j.value("detail", std::string{});
  return l;
}

// Answers of reflectors from before reply codes carried only this text.
constexpr std::string_view kOldRateLimitedReason = "rate limited";

}  // namespace

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
  return {{"session_id", info.session_id},
          {"tag", info.tag_hex},
          {"client", endpoint_json(info.client)},
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
  return {{"observations", arr}, {"dropped", list.dropped}, {"limits", limits}};
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
    info.tag_hex = j.at("tag").get<std::string>();
    if (!tag_from_hex(info.tag_hex)) {
      error = "session tag is not " + std::to_string(kSessionTagSize) + " hex-encoded bytes";
      return std::nullopt;
    }
    info.client = endpoint_from(j.at("client"));
    const json& caps = j.at("capabilities");
    info.capabilities.udp_ports = get_int_array<std::uint16_t>(caps.at("udp_ports"));
    info.capabilities.tcp_ports = get_int_array<std::uint16_t>(caps.at("tcp_ports"));
    if (caps.contains("raw_protocols"))
      info.capabilities.raw_protocols = caps.at("raw_protocols").get<std::vector<std::string>>();
    if (caps.contains("raw_protocols_v6"))
      info.capabilities.raw_protocols_v6 = caps.at("raw_protocols_v6").get<std::vector<std::string>>();
    if (caps.contains("nat_ports") && caps["nat_ports"].is_array()) {
      info.capabilities.nat_ports = get_int_array<std::uint16_t>(caps.at("nat_ports"));
      if (info.capabilities.nat_ports.size() > 2) info.capabilities.nat_ports.resize(2);
    }
    if (caps.contains("alternate_address") && caps["alternate_address"].is_string())
      info.capabilities.alternate_address = caps["alternate_address"].get<std::string>();
    if (caps.contains("wireguard_public_key") && caps["wireguard_public_key"].is_string())
      info.capabilities.wireguard_public_key_hex = caps["wireguard_public_key"].get<std::string>();
    info.capabilities.portal_challenge = caps.value("portal_challenge", false) == true;
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
    info.expires_in_s = get_int_or<int>(j, "expires_in_s", 0);
    info.reflector_version = j.value("reflector_version", std::string{});
    return info;
  });
}

std::optional<ObservationList> observations_from_json(const std::string& body, std::string& error) {
  return parse_guarded<ObservationList>(body, error, [&](const json& j) -> std::optional<ObservationList> {
    ObservationList list;
    list.dropped = get_int_or<std::uint64_t>(j, "dropped", 0);
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
      o.protocol = item.at("protocol").get<std::string>();
      o.kind = item.at("kind").get<std::string>();
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
      o.payload_sha256 = item.at("payload").at("sha256").get<std::string>();
      o.fields = item.value("fields", Fields{});
      o.received_at_unix_ms = get_int_or<std::int64_t>(item, "received_at_unix_ms", 0);
      const json& reply = item.at("reply");
      o.reply.sent = reply.at("sent").get<bool>();
      o.reply.kind = reply.value("kind", std::string{});
      o.reply.length = get_int_or<std::size_t>(reply, "length", 0);
      o.reply.reason = reply.value("reason", std::string{});
      o.reply.code = reply.value("code", std::string{});
      if (o.reply.code.empty() && !o.reply.sent && o.reply.reason == kOldRateLimitedReason)
        o.reply.code = reply_code::kRateLimited;
      list.observations.push_back(std::move(o));
    }
    return list;
  });
}

}  // namespace vpncheck::probes
