// How the reflector keeps an arrival until its client reads it: numbers and
// the payload digest inline, every text (protocol, reply kind, source address,
// decoded fields) in one bounded buffer. The bytes a prober chose (an L2TP
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

class StoredObservation {
 public:
  // Bounds on one record's texts (longer ones are cut, ending in "..."), and
  // on all of them together (fields beyond are left out, and the record says
  // so in a field "fields_truncated").
  static constexpr std::size_t kMaxFieldValue = 96;
  static constexpr std::size_t kMaxFieldKey = 32;
  static constexpr std::size_t kMaxTextBytes = 640;

  explicit StoredObservation(const ObservationParts& parts);
  explicit StoredObservation(const probes::Observation& obs);

  // The record as the control API reports it; `sequence` is its place (1-based).
  probes::Observation expand(std::uint64_t sequence) const;
  // A new reply record (e.g. the send failed).
  void set_reply(const probes::ReplyRecord& reply);
  // Where it came from (after NAT), without expanding the record.
  std::string_view source_address() const;
  // What this record costs: itself and its text buffer.
  std::size_t bytes() const { return sizeof(*this) + text_size_; }

 private:
  void encode(const ObservationParts& parts);

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
  // Length-prefixed texts: protocol, kind, source address, reply kind, reply
  // reason, reply code, digest text (when not a digest), then key/value pairs.
  std::unique_ptr<char[]> text_;
};

}  // namespace vpncheck::reflector
