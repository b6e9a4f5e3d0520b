#include "reflector/session_table.h"

#include <algorithm>
#include <array>

namespace vpncheck::reflector {

SessionTable::SessionTable(SessionLimits limits, SteadyClock clock)
    : limits_(limits), clock_(std::move(clock)) {}

CreateResult SessionTable::create(const probes::Endpoint& client, const probes::RandomFill& rnd) {
  purge_expired();
  if (by_id_.size() >= limits_.max_sessions) return {nullptr, CreateError::table_full};
  auto same_client = std::count_if(by_id_.begin(), by_id_.end(),
                                   [&](const auto& kv) { return kv.second.client.address == client.address; });
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
  session.expires_at = clock_() + limits_.ttl;

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

probes::ObservationList SessionTable::observations(const Session& session) const {
  return {session.observations, session.dropped};
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
  by_tag_.erase(it->second.tag);
  by_id_.erase(it);  // the Session, its observations (client addresses) with it
}

}  // namespace vpncheck::reflector
