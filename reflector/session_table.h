// Sessions by id (control API) and by tag (arrivals). Pure: no I/O, the clock
// is injected, and every collection is bounded. Not thread-safe: the server
// touches it from its single I/O thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "probes/observation.h"
#include "probes/probe.h"
#include "probes/token.h"
#include "reflector/metrics.h"

namespace vpncheck::reflector {

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

struct SessionLimits {
  std::chrono::seconds ttl{300};
  std::size_t max_sessions = 4096;
  std::size_t max_observations = 512;  // per session
  std::size_t max_sessions_per_client = 64;
};

constexpr std::size_t kSessionIdBytes = 8;  // rendered as 16 hex characters

struct Session {
  std::string id;
  probes::SessionTag tag{};
  probes::Endpoint client;
  std::chrono::steady_clock::time_point expires_at;
  std::vector<probes::Observation> observations;
  std::uint64_t dropped = 0;  // arrivals beyond max_observations
};

enum class CreateError { table_full, client_limit };

struct CreateResult {
  const Session* session = nullptr;  // set on success
  std::optional<CreateError> error;
};

class SessionTable {
 public:
  explicit SessionTable(SessionLimits limits, SteadyClock clock = &std::chrono::steady_clock::now);

  // Count sessions created, expired and closed into `metrics` (the server's
  // one Metrics); without it they are not counted.
  void count_into(Metrics* metrics) { metrics_ = metrics; }

  // A new session with a random id and tag (drawn from `rnd`, which in
  // production is the CSPRNG). Expired sessions are purged first.
  CreateResult create(const probes::Endpoint& client, const probes::RandomFill& rnd);

  // Live sessions only: an expired session is as good as gone. Removing a
  // session (expiry or remove()) deletes its observations with it: nothing
  // about a client outlives its session.
  const Session* find(std::string_view id);
  Session* find_by_tag(const probes::SessionTag& tag);
  bool remove(std::string_view id);

  // Can `session` take one more observation? If not, counts it as dropped.
  bool admit(Session& session);
  // Appends `obs` (sequence assigned here, 1-based); call admit() first.
  std::uint64_t record(Session& session, probes::Observation obs);
  // Rewrites the reply record of an observation (e.g. the send failed).
  void update_reply(const probes::SessionTag& tag, std::uint64_t sequence, probes::ReplyRecord reply);

  probes::ObservationList observations(const Session& session) const;

  std::size_t purge_expired();
  std::size_t size() const { return by_id_.size(); }
  const SessionLimits& limits() const { return limits_; }

 private:
  bool expired(const Session& s) const { return clock_() >= s.expires_at; }
  enum class Why { expired, closed };
  void erase(std::unordered_map<std::string, Session>::iterator it, Why why);

  SessionLimits limits_;
  SteadyClock clock_;
  std::unordered_map<std::string, Session> by_id_;
  std::map<probes::SessionTag, std::string> by_tag_;
  Metrics* metrics_ = nullptr;
};

}  // namespace vpncheck::reflector
