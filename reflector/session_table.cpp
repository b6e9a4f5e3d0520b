#include "reflector/session_table.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

namespace vpncheck::reflector {
namespace {

std::string_view limit_name(SessionLimit limit) {
  switch (limit) {
    case SessionLimit::rate_limit: return probes::limit_kind::kRateLimit;
    case SessionLimit::flow_table: return probes::limit_kind::kFlowTable;
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
    case SessionLimit::nat_pending:
      return "NAT lifetime answers not scheduled: the reflector's table of pending answers was full";
    case SessionLimit::count_: break;
  }
  return {};
}

}  // namespace

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

CreateResult SessionTable::create(const probes::Endpoint& client, const probes::RandomFill& rnd,
                                  std::string_view request_key) {
  purge_expired();
  // One scan, as the per-client count below makes anyway; the address must
  // match exactly, so a key seen on the way opens nothing for anyone else.
  if (!request_key.empty())
    for (const auto& [id, s] : by_id_)
      if (s.request_key == request_key && s.client.address == client.address) return {&s, std::nullopt, true};
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
  session.observations.recycle_into(&blocks_);
  session.validated.push_back(client.address);  // the TCP handshake proved it
  session.request_key = std::string(request_key);
  session.created_at = clock_();
  session.expires_at = session.created_at + limits_.ttl;

  if (metrics_ != nullptr) ++metrics_->sessions_created;
  auto [it, inserted] = by_id_.emplace(session.id, std::move(session));
  by_tag_.emplace(it->second.tag, &it->second);
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
  Session* session = t->second;
  if (expired(*session)) {
    erase(by_id_.find(session->id), Why::expired);
    return nullptr;
  }
  return session;
}

bool SessionTable::remove(std::string_view id) {
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return false;
  erase(it, Why::closed);
  return true;
}

std::vector<probes::Observation> ObservationLog::all() const {
  std::vector<probes::Observation> out;
  out.reserve(records_.size());
  for (std::size_t i = 0; i < records_.size(); ++i) out.push_back(records_[i].expand(i + 1));
  return out;
}

// The largest record StoredObservation keeps: admitting only while it fits
// keeps every budget without building the record first.
std::size_t ObservationLog::growth_for_largest(std::size_t cap) const {
  return sizeof(StoredObservation) + arena_.growth_for(StoredObservation::kMaxTextBytes, cap);
}

std::uint64_t ObservationLog::append(StoredObservation record, std::size_t cap) {
  record.move_text_into(arena_, cap);
  records_bytes_ += record.bytes();
  records_.push_back(std::move(record));
  return records_.size();
}

std::uint64_t ObservationLog::append(const ObservationParts& parts, std::size_t cap) {
  const StoredObservation& record = records_.emplace_back(parts, arena_, cap);
  records_bytes_ += record.bytes();
  return records_.size();
}

void ObservationLog::set_reply(std::uint64_t sequence, const probes::ReplyRecord& reply, std::size_t cap) {
  if (sequence == 0 || sequence > records_.size()) return;
  StoredObservation& r = records_[sequence - 1];
  records_bytes_ -= r.bytes();
  r.set_reply(reply, arena_, cap);
  records_bytes_ += r.bytes();
}

std::size_t SessionTable::block_cap(const Session& session) const {
  const auto left = [](std::size_t budget, std::size_t taken) { return budget > taken ? budget - taken : 0; };
  const std::size_t left_session = left(limits_.max_observation_bytes, session.observations.bytes());
  const std::size_t left_total = left(limits_.max_total_observation_bytes, observation_bytes_);
  // The record itself takes sizeof(StoredObservation) of what is left.
  return left(std::min(left_session, left_total), sizeof(StoredObservation));
}

bool SessionTable::admit(Session& session) {
  std::uint64_t* why = nullptr;
  const std::size_t growth = session.observations.growth_for_largest(block_cap(session));
  if (session.observations.size() >= limits_.max_observations)
    why = &session.dropped_count;
  else if (session.observations.bytes() + growth > limits_.max_observation_bytes)
    why = &session.dropped_bytes;
  else if (observation_bytes_ + growth > limits_.max_total_observation_bytes)
    why = &session.dropped_total;
  if (why == nullptr) return true;
  ++*why;
  ++session.dropped;
  return false;
}

std::uint64_t SessionTable::record(Session& session, StoredObservation record) {
  const std::size_t before = session.observations.bytes();
  const std::uint64_t sequence = session.observations.append(std::move(record), block_cap(session));
  note_bytes(before, session.observations.bytes());
  return sequence;
}

std::uint64_t SessionTable::record(Session& session, const ObservationParts& parts) {
  const std::size_t before = session.observations.bytes();
  const std::uint64_t sequence = session.observations.append(parts, block_cap(session));
  note_bytes(before, session.observations.bytes());
  return sequence;
}

void SessionTable::update_reply(const probes::SessionTag& tag, std::uint64_t sequence,
                                probes::ReplyRecord reply) {
  Session* session = find_by_tag(tag);
  if (session == nullptr) return;
  const std::size_t before = session->observations.bytes();
  session->observations.set_reply(sequence, reply, block_cap(*session));
  note_bytes(before, session->observations.bytes());
}

void SessionTable::note_bytes(std::size_t before, std::size_t after) {
  observation_bytes_ = observation_bytes_ - before + after;
  if (metrics_ != nullptr) metrics_->observation_bytes = observation_bytes_;
}

void SessionTable::count_limit(const probes::SessionTag& tag, SessionLimit limit, std::uint16_t port) {
  if (Session* session = find_by_tag(tag)) session->tally(limit).add(port);
}

void SessionTable::count_limit(const probes::SessionTag& tag, const probes::ProtocolModule& module,
                               std::uint16_t port) {
  if (Session* session = find_by_tag(tag)) session->tally(module).add(port);
}

probes::ObservationList SessionTable::observations(const Session& session) const {
  probes::ObservationList list{session.observations.all(), session.dropped, limits_of(session), {}};
  return list;
}

probes::ObservationList SessionTable::page(const Session& session, std::uint64_t after, std::size_t max_bytes) const {
  probes::ObservationList list{{}, session.dropped, limits_of(session), {}};
  std::size_t bytes = 0;
  for (std::uint64_t i = after; i < session.observations.size(); ++i) {
    probes::Observation o = session.observations[i];
    // The JSON text is what an unread answer costs the reflector; the first
    // observation goes in whatever its size, so every page moves on.
    bytes += probes::to_json(o).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size() + 1;
    if (bytes > max_bytes && !list.observations.empty()) {
      list.next_after = i;
      break;
    }
    list.observations.push_back(std::move(o));
  }
  return list;
}

std::vector<probes::ReflectorLimit> SessionTable::limits_of(const Session& session) const {
  std::vector<probes::ReflectorLimit> limits;
  if (session.dropped > 0) {
    std::string detail = "arrivals not recorded (nor answered):";
    auto why = [&](std::uint64_t n, const std::string& what) {
      if (n > 0) detail += (detail.back() == ':' ? " " : "; ") + std::to_string(n) + " " + what;
    };
    why(session.dropped_count, "because the session already held its " + std::to_string(limits_.max_observations) +
                                   " observations (--max-observations)");
    why(session.dropped_bytes, "because the session's observations filled its " +
                                   std::to_string(limits_.max_observation_bytes) +
                                   " bytes (--max-observation-bytes)");
    why(session.dropped_total, "because all sessions' observations filled the reflector's " +
                                   std::to_string(limits_.max_total_observation_bytes) +
                                   " bytes (--max-total-observation-bytes)");
    limits.push_back({std::string(probes::limit_kind::kObservationLimit), session.dropped, {}, detail});
  }
  for (std::size_t i = 0; i < session.limits.size(); ++i) {
    const LimitTally& t = session.limits[i];
    if (t.count == 0) continue;
    const auto limit = static_cast<SessionLimit>(i);
    limits.push_back({std::string(limit_name(limit)), t.count, t.port_list(), limit_detail(limit)});
  }
  for (const auto& [module, t] : session.module_limits) {
    if (t.count == 0) continue;
    const std::string detail = module->state_limit_detail.empty()
                                   ? "state of " + std::string(module->id) + " forgotten: the reflector's table was full"
                                   : std::string(module->state_limit_detail);
    limits.push_back({std::string(module->state_limit), t.count, t.port_list(), detail});
  }
  return limits;
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
  note_bytes(it->second.observations.bytes(), 0);
  by_tag_.erase(it->second.tag);
  by_id_.erase(it);  // the Session, its observations (client addresses) with it
}

}  // namespace vpncheck::reflector
