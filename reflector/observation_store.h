// How the reflector keeps an arrival until its client reads it: numbers and
// the payload digest inline, every text (protocol, reply kind, source address,
// decoded fields) in one bounded buffer, which a session's records take from
// its ObservationArena (reflector/observation_arena.h) rather than each from
// the heap. The bytes a prober chose (an L2TP
// Vendor Name, a PPTP Host Name) are kept only as far as kMaxFieldValue: the
// digest already says what arrived, so an arrival costs about the same
// whatever its size, and what one session may keep is a budget in bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "probes/observation.h"
#include "reflector/observation_arena.h"

namespace vpncheck::reflector {

// The parts of an arrival's record, as views: the demux fills it without
// building the strings of a probes::Observation.
struct ObservationParts {
  std::uint16_t probe_index = 0;
  std::string_view protocol;
  std::string_view kind;
  probes::Transport transport = probes::Transport::udp;
  std::uint16_t local_port = 0;
  std::string_view source_address;
  std::uint16_t source_port = 0;
  std::optional<int> ttl;
  std::optional<int> tos;
  std::size_t payload_length = 0;
  // Either the digest itself or its hex text (from a probes::Observation).
  const std::array<std::uint8_t, 32>* digest = nullptr;
  std::string_view digest_hex;
  const probes::Fields* fields = nullptr;
  std::string_view piece;  // set: one more field, "piece", unless `fields` has it
  std::int64_t received_at_unix_ms = 0;
  bool reply_sent = false;
  std::string_view reply_kind_prefix;  // the reply kind is prefix + suffix (no string built)
  std::string_view reply_kind_suffix;
  std::size_t reply_length = 0;
  std::string_view reply_reason;
  std::string_view reply_code;
};

// A record's inline part: plain values, copied as a whole when a record moves.
struct StoredObservationValues {
  std::int64_t received_at_unix_ms_ = 0;
  std::array<std::uint8_t, 32> digest_{};
  std::uint32_t payload_length_ = 0;
  std::uint32_t reply_length_ = 0;
  std::uint16_t probe_index_ = 0;
  std::uint16_t local_port_ = 0;
  std::uint16_t source_port_ = 0;
  std::int16_t ttl_ = -1;  // -1: not known
  std::int16_t tos_ = -1;
  std::uint16_t text_size_ = 0;
  probes::Transport transport_ = probes::Transport::udp;
  bool has_digest_ = false;
  bool reply_sent_ = false;
  bool owns_text_ = false;  // the text is a heap buffer of this record's, else in an arena
};

class StoredObservation : private StoredObservationValues {
 public:
  // Bounds on one record's texts (longer ones are cut, ending in "..."), and
  // on all of them together (fields beyond are left out, and the record says
  // so in a field "fields_truncated").
  static constexpr std::size_t kMaxFieldValue = 96;
  static constexpr std::size_t kMaxFieldKey = 32;
  static constexpr std::size_t kMaxTextBytes = 640;

  // A record that holds its text itself (one heap buffer).
  explicit StoredObservation(const ObservationParts& parts);
  explicit StoredObservation(const probes::Observation& obs);
  // A record whose text is in `arena` (a new block, if one is needed, at
  // most `cap` bytes: ObservationArena::allocate); valid while the arena is.
  StoredObservation(const ObservationParts& parts, ObservationArena& arena, std::size_t cap);
  ~StoredObservation();
  StoredObservation(StoredObservation&& other) noexcept;
  StoredObservation& operator=(StoredObservation&& other) noexcept;
  StoredObservation(const StoredObservation&) = delete;
  StoredObservation& operator=(const StoredObservation&) = delete;

  // The record as the control API reports it; `sequence` is its place (1-based).
  probes::Observation expand(std::uint64_t sequence) const;
  // A new reply record (e.g. the send failed).
  void set_reply(const probes::ReplyRecord& reply);
  // The same for a record in `arena`: the new text goes where the old one
  // was if it fits, else into the arena.
  void set_reply(const probes::ReplyRecord& reply, ObservationArena& arena, std::size_t cap);
  // Moves a text the record holds itself into `arena`.
  void move_text_into(ObservationArena& arena, std::size_t cap);
  // Where it came from (after NAT), without expanding the record.
  std::string_view source_address() const;
  // What this record costs besides its arena: itself, and its text when it
  // holds the text itself (an arena's text is counted by the arena's size).
  std::size_t bytes() const { return sizeof(*this) + (owns_text_ ? text_size_ : 0); }
  std::size_t text_size() const { return text_size_; }

 private:
  // Fills the inline fields and writes the texts to `text` (kMaxTextBytes); returns their size.
  std::size_t encode(const ObservationParts& parts, char* text);
  void release();

  // Length-prefixed texts: protocol, kind, source address, reply kind, reply
  // reason, reply code, digest text (when not a digest), then key/value pairs.
  char* text_ = nullptr;
};

}  // namespace vpncheck::reflector
