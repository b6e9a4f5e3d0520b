// Sessions by id (control API) and by tag (arrivals). Pure: no I/O, the clock
// is injected, and every collection is bounded. Not thread-safe: the server
// touches it from its single I/O thread only.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "probes/observation.h"
#include "probes/probe.h"
#include "probes/session_lru.h"
#include "probes/token.h"
#include "reflector/metrics.h"
#include "reflector/observation_store.h"

namespace vpncheck::reflector {

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

// The unit per-client limits count by: an IPv4 address, or an IPv6 /64 (one
// subscriber's usual allocation, RFC 6177 §2), so the addresses one party
// holds in its /64 count as one client. "2001:db8:1:2::5" -> "2001:db8:1:2::/64".
std::string client_key(const std::string& address);

struct SessionLimits {
  std::chrono::seconds ttl{300};
  std::size_t max_sessions = 4096;
  std::size_t max_observations = 512;  // per session
  std::size_t max_sessions_per_client = 64;
  // What the stored observations may take (StoredObservation::bytes), per
  // session and of all sessions together: an arrival is recorded only while
  // a record of the largest size still fits.
  std::size_t max_observation_bytes = 256 * 1024;
  std::size_t max_total_observation_bytes = 64 * 1024 * 1024;
};

// A session's record of arrivals, in order; sequence = place + 1. The
// records' texts are in the log's arena; what the log takes (bytes()) is
// its records and the arena's blocks, written or not.
class ObservationLog {
 public:
  std::size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  std::size_t bytes() const { return records_bytes_ + arena_.held(); }
  // The record as the control API reports it (built on each call).
  probes::Observation operator[](std::size_t i) const { return records_[i].expand(i + 1); }
  probes::Observation at(std::size_t i) const { return records_.at(i).expand(i + 1); }
  std::vector<probes::Observation> all() const;

  // What appending one more record of the largest size could add to bytes(),
  // were a new arena block at most `cap` bytes.
  std::size_t growth_for_largest(std::size_t cap) const;
  // Append: the record's text goes into the arena (a new block at most `cap`
  // bytes unless the text needs more). Returns its sequence.
  std::uint64_t append(StoredObservation record, std::size_t cap);
  std::uint64_t append(const ObservationParts& parts, std::size_t cap);
  void set_reply(std::uint64_t sequence, const probes::ReplyRecord& reply, std::size_t cap);
  const StoredObservation& record(std::size_t i) const { return records_[i]; }
  const ObservationArena& arena() const { return arena_; }
  void recycle_into(ObservationBlockPool* pool) { arena_.recycle_into(pool); }

 private:
  ObservationArena arena_;  // before records_: their texts must outlive them
  std::deque<StoredObservation> records_;  // no doubling of a vector's capacity
  std::size_t records_bytes_ = 0;  // StoredObservation::bytes of every record
};

constexpr std::size_t kSessionIdBytes = 8;  // rendered as 16 hex characters

// How often one of the reflector's limits hit a session (or an address), and
// on which of the reflector's local ports. Fixed size: counting never
// allocates, so it is cheap on the UDP path.
struct LimitTally {
  static constexpr std::size_t kMaxPorts = 16;  // more than the reflector listens on by default
  std::uint64_t count = 0;
  std::array<std::uint16_t, kMaxPorts> ports{};
  std::size_t port_count = 0;

  void add(std::uint16_t port) {  // one more hit; port 0: none (raw IP, or not known)
    ++count;
    note_port(port);
  }
  void note_port(std::uint16_t port);  // keeps `port` (if new and there is room), counts nothing
  std::vector<std::uint16_t> port_list() const {
    return {ports.begin(), ports.begin() + static_cast<std::ptrdiff_t>(port_count)};
  }
};

// The reflector's own limits a session's state counts; the index into
// Session::limits. A protocol module's state has a limit of its own
// (ProtocolModule::state_limit), counted in Session::module_limits.
enum class SessionLimit : std::size_t {
  rate_limit,   // answers withheld: over --rate-limit (probe answers and NAT test answers)
  flow_table,   // flows of this session forgotten: the flow table was full
  nat_pending,  // NAT lifetime answers not scheduled: the pending table was full
  count_,
};

struct Session {
  std::string id;
  probes::SessionTag tag{};
  probes::Endpoint client;
  std::chrono::steady_clock::time_point expires_at;
  ObservationLog observations;
  std::uint64_t dropped = 0;  // arrivals not recorded, for any of the three reasons below
  std::uint64_t dropped_count = 0;   // ... beyond max_observations
  std::uint64_t dropped_bytes = 0;   // ... beyond max_observation_bytes
  std::uint64_t dropped_total = 0;   // ... beyond max_total_observation_bytes (other sessions' records)
  std::array<LimitTally, static_cast<std::size_t>(SessionLimit::count_)> limits{};
  // Per module that forgot state of this session to make room, in the order first hit.
  std::vector<std::pair<const probes::ProtocolModule*, LimitTally>> module_limits;
  std::chrono::steady_clock::time_point created_at;
  // Source addresses its probes and NAT tests came from (bounded): what other
  // tables keep per address (rate-limit buckets, refusals) goes with it.
  static constexpr std::size_t kMaxSources = 8;
  std::vector<std::string> sources;

  // Addresses proved to be the client's by a completed TCP handshake: the
  // control connection's, and those proved later over TCP (POST
  // /v1/sessions/{id}/addresses, e.g. its IPv6 address when the session was
  // opened over IPv4). Probes from them may be answered at the protocol's
  // genuine size; from any other source a spoofer could name, never with more
  // than they brought.
  static constexpr std::size_t kMaxValidated = 4;
  std::vector<std::string> validated;

  bool validates(const std::string& address) const {
    return std::find(validated.begin(), validated.end(), address) != validated.end();
  }
  // False when the list is full (the address is not added).
  bool validate(const std::string& address) {
    if (validates(address)) return true;
    if (validated.size() >= kMaxValidated) return false;
    validated.push_back(address);
    return true;
  }

  // The Idempotency-Key its opening request carried (probes/session_request.h);
  // empty when none. Copies of that request from the same address get this session.
  std::string request_key;

  LimitTally& tally(SessionLimit limit) { return limits[static_cast<std::size_t>(limit)]; }
  LimitTally& tally(const probes::ProtocolModule& module) {
    for (auto& [owner, tally] : module_limits)
      if (owner == &module) return tally;
    return module_limits.emplace_back(&module, LimitTally{}).second;
  }
  void note_source(const std::string& address) {
    if (sources.size() < kMaxSources && std::find(sources.begin(), sources.end(), address) == sources.end())
      sources.push_back(address);
  }
};

enum class CreateError { table_full, client_limit };

struct CreateResult {
  const Session* session = nullptr;  // set on success
  std::optional<CreateError> error;
  bool reused = false;  // the session a copy of the same request opened before
};

class SessionTable {
 public:
  explicit SessionTable(SessionLimits limits, SteadyClock clock = &std::chrono::steady_clock::now);
  // by_tag_ holds the addresses of by_id_'s sessions, whose arenas give their
  // blocks back to blocks_: a copy would point into the original.
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // Count sessions created, expired and closed into `metrics` (the server's
  // one Metrics); without it they are not counted.
  void count_into(Metrics* metrics) { metrics_ = metrics; }
  // Called with every session about to be erased (expired or closed), so the
  // state other tables keep about it goes with it.
  void on_erase(std::function<void(const Session&)> hook) { on_erase_ = std::move(hook); }

  // A new session with a random id and tag (drawn from `rnd`, which in
  // production is the CSPRNG). Expired sessions are purged first. With a
  // `request_key`, a live session opened with that key from the same client
  // address is returned instead (`reused`), and counts against no limit again.
  CreateResult create(const probes::Endpoint& client, const probes::RandomFill& rnd,
                      std::string_view request_key = {});

  // Live sessions only: an expired session is as good as gone. Removing a
  // session (expiry or remove()) deletes its observations with it: nothing
  // about a client outlives its session.
  const Session* find(std::string_view id);
  Session* find_by_tag(const probes::SessionTag& tag);
  // Adds `address` to the live session's validated addresses (Session::validate).
  enum class ValidateResult { added, unknown_session, full };
  ValidateResult validate(std::string_view id, const std::string& address);
  bool remove(std::string_view id);

  // Can `session` take one more observation (of the largest size)? If not,
  // counts it as dropped, and why.
  bool admit(Session& session);
  // Appends the record (sequence assigned here, 1-based); call admit() first.
  std::uint64_t record(Session& session, StoredObservation record);
  std::uint64_t record(Session& session, const ObservationParts& parts);
  std::uint64_t record(Session& session, const probes::Observation& obs) {
    return record(session, StoredObservation(obs));
  }
  // Rewrites the reply record of an observation (e.g. the send failed).
  void update_reply(const probes::SessionTag& tag, std::uint64_t sequence, probes::ReplyRecord reply);
  // One more hit of `limit` for the session holding `tag` (if it is live).
  void count_limit(const probes::SessionTag& tag, SessionLimit limit, std::uint16_t port);
  // One more hit of `module`'s state limit (ProtocolModule::state_limit) for the session holding `tag`.
  void count_limit(const probes::SessionTag& tag, const probes::ProtocolModule& module, std::uint16_t port);

  // The observations, and as `limits` every limit that hit the session.
  probes::ObservationList observations(const Session& session) const;
  // The same in pages: the observations after sequence `after`, as many as
  // take `max_bytes` of JSON (at least one); `next_after` set when more remain.
  probes::ObservationList page(const Session& session, std::uint64_t after, std::size_t max_bytes) const;

  // Does a live session other than `except` have `address` as its client or a source?
  bool in_use(const std::string& address, const Session& except) const;

  std::size_t purge_expired();
  std::size_t size() const { return by_id_.size(); }
  // What every session's observations take together (StoredObservation::bytes).
  std::size_t observation_bytes() const { return observation_bytes_; }
  const SessionLimits& limits() const { return limits_; }

 private:
  bool expired(const Session& s) const { return clock_() >= s.expires_at; }
  enum class Why { expired, closed };
  void erase(std::unordered_map<std::string, Session>::iterator it, Why why);
  void note_bytes(std::size_t before, std::size_t after);
  // The most a new arena block of `session` may take: what both budgets leave.
  std::size_t block_cap(const Session& session) const;
  std::vector<probes::ReflectorLimit> limits_of(const Session& session) const;  // one session's observations changed size

  SessionLimits limits_;
  SteadyClock clock_;
  ObservationBlockPool blocks_;  // before by_id_: the sessions' arenas give their blocks back to it
  std::unordered_map<std::string, Session> by_id_;
  // Every arrival is looked up by tag: straight to its session (by_id_'s
  // values keep their address), hashed rather than searched through ordered
  // keys. Its keys are only ever tags this table drew, so no sender can pick
  // colliding ones.
  std::unordered_map<probes::SessionTag, Session*, probes::SessionTagHash> by_tag_;
  Metrics* metrics_ = nullptr;
  std::function<void(const Session&)> on_erase_;
  std::size_t observation_bytes_ = 0;
};

}  // namespace vpncheck::reflector
