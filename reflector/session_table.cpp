#include "reflector/session_table.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace vpncheck::reflector {
namespace {

std::string_view limit_name(SessionLimit limit) {
  switch (limit) {
    case SessionLimit::rate_limit: return probes::limit_kind::kRateLimit;
    case SessionLimit::flow_table: return probes::limit_kind::kFlowTable;
    case SessionLimit::pptp_calls: return probes::limit_kind::kPptpCalls;
    case SessionLimit::nat_pending: return probes::limit_kind::kNatPending;
    case SessionLimit::count_: break;
  }
  return "unknown";
}

std::string limit_detail(SessionLimit limit) {
  switch (limit) {
    case SessionLimit::rate_limit:
      return "answers withheld: this source address was over the reflector's --rate-limit";
    case SessionLimit::flow_table:
      return "flows forgotten: the reflector's flow table was full, so follow-up messages may have gone unrecorded";
    case SessionLimit::pptp_calls:
      return "PPTP calls forgotten: the reflector's call table was full, so their GRE may have gone unanswered";
    case SessionLimit::nat_pending:
      return "NAT lifetime answers not scheduled: the reflector's table of pending answers was full";
    case SessionLimit::count_: break;
  }
  return {};
}

}  // namespace

std::optional<SessionLimit> limit_from_kind(std::string_view kind) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(SessionLimit::count_); ++i)
    if (limit_name(static_cast<SessionLimit>(i)) == kind) return static_cast<SessionLimit>(i);
  return std::nullopt;
}

std::string client_key(const std::string& address) {
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET6, address.substr(0, address.find('%')).c_str(), bytes.data()) != 1) return address;
  std::fill(bytes.begin() + 8, bytes.end(), std::uint8_t{0});
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (inet_ntop(AF_INET6, bytes.data(), text.data(), text.size()) == nullptr) return address;
  return std::string(text.data()) + "/64";
}

void LimitTally::note_port(std::uint16_t port) {
  if (port == 0) return;
  for (std::size_t i = 0; i < port_count; ++i)
    if (ports[i] == port) return;
  if (port_count < kMaxPorts) ports[port_count++] = port;
}

SessionTable::SessionTable(SessionLimits limits, SteadyClock clock)
    : limits_(limits), clock_(std::move(clock)) {}

CreateResult SessionTable::create(const probes::Endpoint& client, const probes::RandomFill& rnd) {
  purge_expired();
  if (by_id_.size() >= limits_.max_sessions) return {nullptr, CreateError::table_full};
  const std::string key = client_key(client.address);
  auto same_client = std::count_if(by_id_.begin(), by_id_.end(),
                                   [&](const auto& kv) { return client_key(kv.second.client.address) == key; });
  if (static_cast<std::size_t>(same_client) >= limits_.max_sessions_per_client)
    return {nullptr, CreateError::client_limit};

  Session session;
  // 48-bit tags and 64-bit ids from a CSPRNG collide only by astronomical
  // chance, but a collision would mis-attribute probes: draw again. An
  // all-zero tag is never issued either: probe index 0 would then give IKE
  // an all-zero SPI, which RFC 7296 forbids (parsers reject it).
  do {
    std::array<std::uint8_t, kSessionIdBytes> id{};
    rnd(id);
    rnd(session.tag);
    session.id = probes::to_hex(id);
  } while (by_id_.contains(session.id) || by_tag_.contains(session.tag) || session.tag == probes::SessionTag{});
  session.client = client;
  session.validated.push_back(client.address);  // the TCP handshake proved it
  session.created_at = clock_();
  session.expires_at = session.created_at + limits_.ttl;

  by_tag_.emplace(session.tag, session.id);
  if (metrics_ != nullptr) ++metrics_->sessions_created;
  auto [it, inserted] = by_id_.emplace(session.id, std::move(session));
  return {&it->second, std::nullopt};
}

const Session* SessionTable::find(std::string_view id) {
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return nullptr;
  if (expired(it->second)) {
    erase(it, Why::expired);
    return nullptr;
  }
  return &it->second;
}

SessionTable::ValidateResult SessionTable::validate(std::string_view id, const std::string& address) {
  if (find(id) == nullptr) return ValidateResult::unknown_session;  // purges it when expired
  return by_id_.at(std::string(id)).validate(address) ? ValidateResult::added : ValidateResult::full;
}

Session* SessionTable::find_by_tag(const probes::SessionTag& tag) {
  auto t = by_tag_.find(tag);
  if (t == by_tag_.end()) return nullptr;
  auto it = by_id_.find(t->second);
  if (it == by_id_.end()) return nullptr;
  if (expired(it->second)) {
    erase(it, Why::expired);
    return nullptr;
  }
  return &it->second;
}

bool SessionTable::remove(std::string_view id) {
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return false;
  erase(it, Why::closed);
  return true;
}

bool SessionTable::admit(Session& session) {
  if (session.observations.size() < limits_.max_observations) return true;
  ++session.dropped;
  return false;
}

std::uint64_t SessionTable::record(Session& session, probes::Observation obs) {
  obs.sequence = session.observations.size() + 1;
  session.observations.push_back(std::move(obs));
  return session.observations.back().sequence;
}

void SessionTable::update_reply(const probes::SessionTag& tag, std::uint64_t sequence,
                                probes::ReplyRecord reply) {
  Session* session = find_by_tag(tag);
  if (session == nullptr || sequence == 0 || sequence > session->observations.size()) return;
  session->observations[sequence - 1].reply = std::move(reply);
}

void SessionTable::count_limit(const probes::SessionTag& tag, SessionLimit limit, std::uint16_t port) {
  if (Session* session = find_by_tag(tag)) session->tally(limit).add(port);
}

probes::ObservationList SessionTable::observations(const Session& session) const {
  probes::ObservationList list{session.observations, session.dropped, {}};
  if (session.dropped > 0)
    list.limits.push_back({std::string(probes::limit_kind::kObservationLimit), session.dropped, {},
                           "arrivals not recorded (nor answered): the session already held its " +
                               std::to_string(limits_.max_observations) + " observations (--max-observations)"});
  for (std::size_t i = 0; i < session.limits.size(); ++i) {
    const LimitTally& t = session.limits[i];
    if (t.count == 0) continue;
    const auto limit = static_cast<SessionLimit>(i);
    list.limits.push_back({std::string(limit_name(limit)), t.count, t.port_list(), limit_detail(limit)});
  }
  return list;
}

bool SessionTable::in_use(const std::string& address, const Session& except) const {
  return std::any_of(by_id_.begin(), by_id_.end(), [&](const auto& kv) {
    const Session& s = kv.second;
    return &s != &except && !expired(s) &&
           (s.client.address == address || std::find(s.sources.begin(), s.sources.end(), address) != s.sources.end());
  });
}

std::size_t SessionTable::purge_expired() {
  std::size_t purged = 0;
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    auto next = std::next(it);
    if (expired(it->second)) {
      erase(it, Why::expired);
      ++purged;
    }
    it = next;
  }
  return purged;
}

void SessionTable::erase(std::unordered_map<std::string, Session>::iterator it, Why why) {
  if (metrics_ != nullptr) ++(why == Why::expired ? metrics_->sessions_expired : metrics_->sessions_closed);
  if (on_erase_) on_erase_(it->second);
  by_tag_.erase(it->second.tag);
  by_id_.erase(it);  // the Session, its observations (client addresses) with it
}

}  // namespace vpncheck::reflector
