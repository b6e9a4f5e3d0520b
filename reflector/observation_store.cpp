#include "reflector/observation_store.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "probes/bytes.h"

namespace vpncheck::reflector {
namespace {

constexpr std::string_view kEllipsis = "...";
constexpr std::string_view kTruncatedKey = "fields_truncated";
// Room always kept for the marker that fields were left out.
constexpr std::size_t kMarkerBytes = 2 + kTruncatedKey.size() + 3;

// `text` cut to `max` characters, never inside an escape (\xNN, as
// probes::escape_bytes writes them): the client would read half an escape.
std::string_view cut(std::string_view text, std::size_t max, bool& was_cut) {
  was_cut = text.size() > max;
  if (!was_cut) return text;
  std::size_t n = max - kEllipsis.size();
  const std::size_t from = n >= 3 ? n - 3 : 0;
  if (auto slash = text.substr(from, n - from).rfind('\\'); slash != std::string_view::npos) n = from + slash;
  return text.substr(0, n);
}

class Writer {
 public:
  Writer(char* buf, std::size_t limit) : buf_(buf), limit_(limit) {}
  // Appends one text cut to `max` (and 255, its length byte); false if the buffer has no room.
  bool put(std::string_view text, std::size_t max = 255) {
    bool was_cut = false;
    const std::string_view kept = cut(text, std::min<std::size_t>(max, 255), was_cut);
    const std::size_t length = kept.size() + (was_cut ? kEllipsis.size() : 0);
    if (size_ + 1 + length > limit_) return false;
    buf_[size_++] = static_cast<char>(length);
    if (!kept.empty()) std::memcpy(buf_ + size_, kept.data(), kept.size());  // data() may be null
    size_ += kept.size();
    if (was_cut) {
      std::memcpy(buf_ + size_, kEllipsis.data(), kEllipsis.size());
      size_ += kEllipsis.size();
    }
    return true;
  }
  bool put_pair(std::string_view key, std::string_view value) {
    const std::size_t mark = size_;
    if (put(key, StoredObservation::kMaxFieldKey) && put(value, StoredObservation::kMaxFieldValue)) return true;
    size_ = mark;
    return false;
  }
  void widen(std::size_t limit) { limit_ = limit; }
  std::size_t size() const { return size_; }

 private:
  char* buf_;  // kMaxTextBytes
  std::size_t size_ = 0;
  std::size_t limit_;
};

class Reader {
 public:
  Reader(const char* data, std::size_t size) : data_(data), size_(size) {}
  bool more() const { return at_ < size_; }
  std::string_view next() {
    if (at_ >= size_) return {};
    const auto length = static_cast<unsigned char>(data_[at_++]);
    std::string_view out(data_ + at_, std::min<std::size_t>(length, size_ - at_));
    at_ += out.size();
    return out;
  }

 private:
  const char* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

std::int16_t small_int(const std::optional<int>& v) {
  return v && *v >= 0 && *v <= std::numeric_limits<std::int16_t>::max() ? static_cast<std::int16_t>(*v) : -1;
}

template <typename T>
T clamp_to(std::size_t v) {
  return static_cast<T>(std::min<std::size_t>(v, std::numeric_limits<T>::max()));
}

}  // namespace

StoredObservation::StoredObservation(const ObservationParts& parts) {
  std::array<char, kMaxTextBytes> text;
  const std::size_t size = encode(parts, text.data());
  text_ = new char[size];
  owns_text_ = true;
  if (size > 0) std::memcpy(text_, text.data(), size);
}

StoredObservation::StoredObservation(const ObservationParts& parts, ObservationArena& arena, std::size_t cap) {
  std::array<char, kMaxTextBytes> text;
  const std::size_t size = encode(parts, text.data());
  const std::span<char> place = arena.allocate(size, cap);
  if (size > 0) std::memcpy(place.data(), text.data(), size);
  text_ = place.data();
}

StoredObservation::~StoredObservation() { release(); }

void StoredObservation::release() {
  if (owns_text_) delete[] text_;
  text_ = nullptr;
  owns_text_ = false;
}

StoredObservation::StoredObservation(StoredObservation&& other) noexcept { *this = std::move(other); }

StoredObservation& StoredObservation::operator=(StoredObservation&& other) noexcept {
  if (this == &other) return *this;
  release();
  static_cast<StoredObservationValues&>(*this) = other;
  text_ = std::exchange(other.text_, nullptr);
  other.owns_text_ = false;
  other.text_size_ = 0;
  return *this;
}

StoredObservation::StoredObservation(const probes::Observation& obs) {
  ObservationParts parts;
  parts.probe_index = obs.probe_index;
  parts.protocol = obs.protocol;
  parts.kind = obs.kind;
  parts.transport = obs.transport;
  parts.local_port = obs.local_port;
  parts.source_address = obs.source.address;
  parts.source_port = obs.source.port;
  parts.ttl = obs.ttl;
  parts.tos = obs.tos;
  parts.payload_length = obs.payload_length;
  parts.digest_hex = obs.payload_sha256;
  parts.fields = &obs.fields;
  parts.received_at_unix_ms = obs.received_at_unix_ms;
  parts.reply_sent = obs.reply.sent;
  parts.reply_kind_prefix = obs.reply.kind;
  parts.reply_length = obs.reply.length;
  parts.reply_reason = obs.reply.reason;
  parts.reply_code = obs.reply.code;
  *this = StoredObservation(parts);
}

std::size_t StoredObservation::encode(const ObservationParts& p, char* text) {
  received_at_unix_ms_ = p.received_at_unix_ms;
  payload_length_ = clamp_to<std::uint32_t>(p.payload_length);
  reply_length_ = clamp_to<std::uint32_t>(p.reply_length);
  probe_index_ = p.probe_index;
  local_port_ = p.local_port;
  source_port_ = p.source_port;
  ttl_ = small_int(p.ttl);
  tos_ = small_int(p.tos);
  transport_ = p.transport;
  reply_sent_ = p.reply_sent;
  std::string_view digest_text;
  if (p.digest != nullptr) {
    digest_ = *p.digest;
    has_digest_ = true;
  } else if (auto bytes = probes::from_hex(p.digest_hex); bytes && bytes->size() == digest_.size()) {
    std::copy(bytes->begin(), bytes->end(), digest_.begin());
    has_digest_ = probes::to_hex(*bytes) == p.digest_hex;  // upper case would not read back the same
    if (!has_digest_) digest_text = p.digest_hex;
  } else {
    digest_text = p.digest_hex;
  }

  // The fixed texts first, then as many fields as fit next to the marker's room.
  Writer w(text, kMaxTextBytes - kMarkerBytes);
  w.put(p.protocol, 64);
  w.put(p.kind, 32);
  w.put(p.source_address, 96);
  char kind[255];
  const std::size_t prefix = std::min<std::size_t>(p.reply_kind_prefix.size(), sizeof kind);
  const std::size_t suffix = std::min(p.reply_kind_suffix.size(), sizeof kind - prefix);
  // memcpy from an empty view's null data() is undefined even for 0 bytes.
  if (prefix > 0) std::memcpy(kind, p.reply_kind_prefix.data(), prefix);
  if (suffix > 0) std::memcpy(kind + prefix, p.reply_kind_suffix.data(), suffix);
  w.put({kind, prefix + suffix}, 96);
  w.put(p.reply_reason, 160);
  w.put(p.reply_code, 32);
  w.put(digest_text, 80);
  bool complete = true;
  bool piece_in_fields = false;
  if (p.fields != nullptr) {
    for (const auto& [key, value] : *p.fields) {
      if (key == "piece") piece_in_fields = true;
      if (!w.put_pair(key, value)) complete = false;
    }
  }
  if (!p.piece.empty() && !piece_in_fields && !w.put_pair("piece", p.piece)) complete = false;
  if (!complete) {
    w.widen(kMaxTextBytes);
    w.put_pair(kTruncatedKey, "yes");
  }
  text_size_ = static_cast<std::uint16_t>(w.size());
  return w.size();
}

probes::Observation StoredObservation::expand(std::uint64_t sequence) const {
  probes::Observation o;
  o.sequence = sequence;
  o.probe_index = probe_index_;
  o.transport = transport_;
  o.local_port = local_port_;
  o.source.port = source_port_;
  if (ttl_ >= 0) o.ttl = ttl_;
  if (tos_ >= 0) o.tos = tos_;
  o.payload_length = payload_length_;
  o.received_at_unix_ms = received_at_unix_ms_;
  o.reply.sent = reply_sent_;
  o.reply.length = reply_length_;
  Reader r(text_, text_size_);
  o.protocol = r.next();
  o.kind = r.next();
  o.source.address = r.next();
  o.reply.kind = r.next();
  o.reply.reason = r.next();
  o.reply.code = r.next();
  const std::string_view digest_text = r.next();
  o.payload_sha256 = has_digest_ ? probes::to_hex(digest_) : std::string(digest_text);
  while (r.more()) {
    const std::string_view key = r.next();
    o.fields[std::string(key)] = r.next();
  }
  return o;
}

std::string_view StoredObservation::source_address() const {
  Reader r(text_, text_size_);
  r.next();  // protocol
  r.next();  // kind
  return r.next();
}

void StoredObservation::set_reply(const probes::ReplyRecord& reply) {
  probes::Observation o = expand(0);
  o.reply = reply;
  *this = StoredObservation(o);
}

void StoredObservation::set_reply(const probes::ReplyRecord& reply, ObservationArena& arena, std::size_t cap) {
  if (owns_text_) {
    set_reply(reply);
    return move_text_into(arena, cap);
  }
  probes::Observation o = expand(0);
  o.reply = reply;
  StoredObservation fresh(o);
  char* const old_place = text_;
  const std::uint16_t old_size = text_size_;
  *this = std::move(fresh);
  if (text_size_ > old_size) return move_text_into(arena, cap);
  // Fits where the old text was: no arena bytes for it.
  if (text_size_ > 0) std::memcpy(old_place, text_, text_size_);
  release();
  text_ = old_place;
}

void StoredObservation::move_text_into(ObservationArena& arena, std::size_t cap) {
  if (!owns_text_) return;
  const std::span<char> place = arena.allocate(text_size_, cap);
  if (text_size_ > 0) std::memcpy(place.data(), text_, text_size_);
  const std::uint16_t size = text_size_;
  release();
  text_ = place.data();
  text_size_ = size;
}

}  // namespace vpncheck::reflector
