#include "probes/ike.h"

#include <algorithm>

#include "probes/crypto.h"

namespace vpncheck::probes::ike {
namespace {

constexpr std::size_t kGenericHeaderSize = 4;  // next payload | C+reserved | length, RFC 7296 §3.2

bool all_zero(ByteView v) {
  return std::all_of(v.begin(), v.end(), [](std::uint8_t b) { return b == 0; });
}

bool valid_address(const IpPort& ep) { return ep.address.size() == 4 || ep.address.size() == 16; }

// A non-zero random SPI (an all-zero SPI means "not yet chosen" in IKE).
Spi random_spi(const RandomFill& rnd) {
  Spi spi{};
  rnd(spi);
  if (all_zero(spi)) spi[kSpiSize - 1] = 1;
  return spi;
}

void write_header(ByteWriter& w, const Header& h) {
  w.bytes(h.spi_i).bytes(h.spi_r).u8(h.next_payload).u8(h.version).u8(h.exchange).u8(h.flags);
  w.be32(h.message_id).be32(h.length);
}

// Patches the length field (bytes 24..27) once the message is complete.
void patch_length(Bytes& msg) {
  auto n = static_cast<std::uint32_t>(msg.size());
  for (std::size_t i = 0; i < 4; ++i) msg[24 + i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
}

std::optional<Header> read_header(ByteView datagram) {
  ByteReader r(datagram);
  Header h;
  auto spi_i = r.take(kSpiSize);
  auto spi_r = r.take(kSpiSize);
  auto next = r.u8();
  auto version = r.u8();
  auto exchange = r.u8();
  auto flags = r.u8();
  auto msgid = r.be32();
  auto length = r.be32();
  if (!r.ok()) return std::nullopt;
  std::copy(spi_i->begin(), spi_i->end(), h.spi_i.begin());
  std::copy(spi_r->begin(), spi_r->end(), h.spi_r.begin());
  h.next_payload = *next;
  h.version = *version;
  h.exchange = *exchange;
  h.flags = *flags;
  h.message_id = *msgid;
  h.length = *length;
  if (h.length != datagram.size()) return std::nullopt;
  return h;
}

struct RawPayload {
  std::uint8_t type = 0;
  ByteView body;
};

// Walks a generic payload chain (same layout in IKEv1 and IKEv2). The chain
// must end with next payload 0 exactly at the end of `data`.
std::optional<std::vector<RawPayload>> split_payloads(ByteView data, std::uint8_t first) {
  std::vector<RawPayload> out;
  ByteReader r(data);
  std::uint8_t type = first;
  while (type != kPayloadNone) {
    auto next = r.u8();
    auto reserved = r.u8();
    auto length = r.be16();
    if (!r.ok() || *length < kGenericHeaderSize) return std::nullopt;
    (void)reserved;
    auto body = r.take(*length - kGenericHeaderSize);
    if (!body) return std::nullopt;
    out.push_back({type, *body});
    type = *next;
  }
  if (r.remaining() != 0) return std::nullopt;
  return out;
}

void write_payload(ByteWriter& w, std::uint8_t next, ByteView body) {
  w.u8(next).u8(0).be16(static_cast<std::uint16_t>(kGenericHeaderSize + body.size())).bytes(body);
}

// Data attributes (RFC 7296 §3.3.5 / RFC 2408 §3.3): TV when the top bit is set, else TLV.
bool valid_attributes(ByteView attrs) {
  ByteReader r(attrs);
  while (r.remaining() > 0) {
    auto type = r.be16();
    auto value = r.be16();
    if (!r.ok()) return false;
    if ((*type & 0x8000) == 0 && !r.skip(*value)) return false;
  }
  return r.ok();
}

// ---- IKEv2 SA ----

std::optional<std::vector<Proposal>> parse_sa(ByteView body) {
  std::vector<Proposal> proposals;
  ByteReader r(body);
  bool last = false;
  while (!last) {
    auto more = r.u8();
    auto reserved = r.u8();
    auto length = r.be16();
    auto number = r.u8();
    auto protocol = r.u8();
    auto spi_size = r.u8();
    auto count = r.u8();
    if (!r.ok() || (*more != 0 && *more != 2) || *length < 8 || *count == 0) return std::nullopt;
    (void)reserved;
    auto rest = r.take(*length - 8u);
    if (!rest) return std::nullopt;
    last = *more == 0;
    ByteReader pr(*rest);
    Proposal p;
    p.number = *number;
    p.protocol_id = *protocol;
    auto spi = pr.take(*spi_size);
    if (!spi) return std::nullopt;
    p.spi.assign(spi->begin(), spi->end());
    for (unsigned i = 0; i < *count; ++i) {
      auto tmore = pr.u8();
      auto tres = pr.u8();
      auto tlen = pr.be16();
      auto ttype = pr.u8();
      auto tres2 = pr.u8();
      auto tid = pr.be16();
      if (!pr.ok() || *tlen < 8) return std::nullopt;
      (void)tres;
      (void)tres2;
      bool tlast = i + 1 == *count;
      if (*tmore != (tlast ? 0 : 3)) return std::nullopt;
      auto attrs = pr.take(*tlen - 8u);
      if (!attrs || !valid_attributes(*attrs)) return std::nullopt;
      p.transforms.push_back({*ttype, *tid, Bytes(attrs->begin(), attrs->end())});
    }
    if (pr.remaining() != 0) return std::nullopt;
    proposals.push_back(std::move(p));
  }
  if (r.remaining() != 0) return std::nullopt;
  return proposals;
}

Bytes encode_sa(const std::vector<Proposal>& proposals) {
  ByteWriter w;
  for (std::size_t i = 0; i < proposals.size(); ++i) {
    const Proposal& p = proposals[i];
    ByteWriter t;
    for (std::size_t j = 0; j < p.transforms.size(); ++j) {
      const Transform& tr = p.transforms[j];
      t.u8(j + 1 == p.transforms.size() ? 0 : 3).u8(0);
      t.be16(static_cast<std::uint16_t>(8 + tr.attributes.size()));
      t.u8(tr.type).u8(0).be16(tr.id).bytes(tr.attributes);
    }
    w.u8(i + 1 == proposals.size() ? 0 : 2).u8(0);
    w.be16(static_cast<std::uint16_t>(8 + p.spi.size() + t.size()));
    w.u8(p.number).u8(p.protocol_id).u8(static_cast<std::uint8_t>(p.spi.size()));
    w.u8(static_cast<std::uint8_t>(p.transforms.size())).bytes(p.spi).bytes(t.view());
  }
  return w.take();
}

// Transform types and ids: RFC 7296 §3.3.2, IANA "IKEv2 Transform Type N Transform IDs".
constexpr std::uint8_t kEncr = 1, kPrf = 2, kInteg = 3, kDh = 4;
const Bytes kKeyLength256{0x80, 0x0e, 0x01, 0x00};
const Bytes kKeyLength128{0x80, 0x0e, 0x00, 0x80};

// A proposal list like strongSwan's default plus legacy fallbacks, so that the
// request is comfortably larger than any one-transform-per-type response.
std::vector<Proposal> request_proposals() {
  return {
      {1, 1, {}, {{kEncr, 12, kKeyLength256},   // ENCR_AES_CBC 256
                  {kEncr, 12, kKeyLength128},   // ENCR_AES_CBC 128
                  {kPrf, 5, {}},                // PRF_HMAC_SHA2_256
                  {kPrf, 6, {}},                // PRF_HMAC_SHA2_384
                  {kPrf, 2, {}},                // PRF_HMAC_SHA1
                  {kInteg, 12, {}},             // AUTH_HMAC_SHA2_256_128
                  {kInteg, 13, {}},             // AUTH_HMAC_SHA2_384_192
                  {kInteg, 2, {}},              // AUTH_HMAC_SHA1_96
                  {kDh, kDhGroup14, {}},        // MODP 2048 (the KE group goes first)
                  {kDh, 19, {}}}},              // ECP 256
      {2, 1, {}, {{kEncr, 20, kKeyLength256},   // ENCR_AES_GCM_16 256
                  {kEncr, 20, kKeyLength128},   // ENCR_AES_GCM_16 128
                  {kPrf, 5, {}},
                  {kPrf, 6, {}},
                  {kDh, kDhGroup14, {}},
                  {kDh, 19, {}}}},
      {3, 1, {}, {{kEncr, 3, {}},               // ENCR_3DES
                  {kPrf, 2, {}},
                  {kInteg, 2, {}},
                  {kDh, kDhGroup14, {}},
                  {kDh, 2, {}}}},               // MODP 1024
  };
}

Bytes notify_body(std::uint16_t type, ByteView data) {
  ByteWriter w;
  w.u8(0).u8(0).be16(type).bytes(data);  // Protocol ID 0, SPI size 0 (RFC 7296 §3.10)
  return w.take();
}

// Builds a message from (type, body) pairs; each payload's "next" is the following type.
Bytes assemble(Header h, const std::vector<std::pair<std::uint8_t, Bytes>>& payloads) {
  h.next_payload = payloads.empty() ? kPayloadNone : payloads.front().first;
  ByteWriter w;
  write_header(w, h);
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    std::uint8_t next = i + 1 < payloads.size() ? payloads[i + 1].first : kPayloadNone;
    write_payload(w, next, payloads[i].second);
  }
  Bytes msg = w.take();
  patch_length(msg);
  return msg;
}

bool has_only_ike_flags(std::uint8_t flags) {
  return (flags & ~(kFlagInitiator | kFlagVersion | kFlagResponse)) == 0;
}

std::string hex_of(const NatHash& h) { return to_hex(h); }

}  // namespace

Spi spi_from_token(const ProbeToken& token) { return token.encode(); }

std::optional<NatHash> nat_detection_hash(const Spi& spi_i, const Spi& spi_r, const IpPort& endpoint) {
  if (!valid_address(endpoint)) return std::nullopt;
  ByteWriter w;
  w.bytes(spi_i).bytes(spi_r).bytes(endpoint.address).be16(endpoint.port);
  return sha1(w.view());
}

bool SaInitMessage::has_payload(std::uint8_t type) const {
  return std::find(payload_types.begin(), payload_types.end(), type) != payload_types.end();
}

bool SaInitMessage::has_notify(std::uint16_t type) const {
  return std::find(notify_types.begin(), notify_types.end(), type) != notify_types.end();
}

Bytes build_sa_init_request(const ProbeToken& token, const IpPort& local, const IpPort& remote,
                            const RandomFill& rnd) {
  Header h;
  h.spi_i = spi_from_token(token);
  h.version = kVersion2;
  h.exchange = kExchangeIkeSaInit;
  h.flags = kFlagInitiator;
  auto src_hash = nat_detection_hash(h.spi_i, h.spi_r, local);
  auto dst_hash = nat_detection_hash(h.spi_i, h.spi_r, remote);
  if (!src_hash || !dst_hash) return {};

  Bytes ke(4 + kDhGroup14KeySize);
  ke[0] = 0;
  ke[1] = static_cast<std::uint8_t>(kDhGroup14);
  rnd(std::span(ke).subspan(4));  // a random "public value": fine for a probe (PROTOCOLS.md §4.2)
  Bytes nonce(kNonceSize);
  rnd(nonce);
  return assemble(h, {{kPayloadSa, encode_sa(request_proposals())},
                      {kPayloadKe, ke},
                      {kPayloadNonce, nonce},
                      {kPayloadNotify, notify_body(kNotifyNatDetectionSourceIp, *src_hash)},
                      {kPayloadNotify, notify_body(kNotifyNatDetectionDestinationIp, *dst_hash)},
                      {kPayloadNotify, notify_body(kNotifyFragmentationSupported, {})}});
}

std::optional<SaInitMessage> parse_sa_init(ByteView datagram) {
  auto h = read_header(datagram);
  if (!h || h->version != kVersion2 || h->exchange != kExchangeIkeSaInit || h->message_id != 0 ||
      !has_only_ike_flags(h->flags) || all_zero(h->spi_i))
    return std::nullopt;
  auto payloads = split_payloads(datagram.subspan(kHeaderSize), h->next_payload);
  if (!payloads) return std::nullopt;
  SaInitMessage m;
  m.header = *h;
  for (const RawPayload& p : *payloads) {
    m.payload_types.push_back(p.type);
    ByteReader r(p.body);
    switch (p.type) {
      case kPayloadSa: {
        if (!m.proposals.empty()) return std::nullopt;  // one SA payload
        auto proposals = parse_sa(p.body);
        if (!proposals) return std::nullopt;
        m.proposals = std::move(*proposals);
        break;
      }
      case kPayloadKe: {
        auto group = r.be16();
        if (!r.skip(2) || r.remaining() == 0 || m.ke_group) return std::nullopt;
        m.ke_group = *group;
        m.ke_data_size = r.remaining();
        break;
      }
      case kPayloadNonce:  // RFC 7296 §3.9: 16..256 bytes
        if (p.body.size() < 16 || p.body.size() > 256 || m.nonce_size != 0) return std::nullopt;
        m.nonce_size = p.body.size();
        break;
      case kPayloadNotify: {
        auto protocol = r.u8();
        auto spi_size = r.u8();
        auto type = r.be16();
        if (!r.ok() || !r.skip(*spi_size)) return std::nullopt;
        (void)protocol;
        m.notify_types.push_back(*type);
        if (*type == kNotifyNatDetectionSourceIp || *type == kNotifyNatDetectionDestinationIp) {
          if (r.remaining() != kNatHashSize) return std::nullopt;
          NatHash hash{};
          auto data = r.take(kNatHashSize);
          std::copy(data->begin(), data->end(), hash.begin());
          if (*type == kNotifyNatDetectionSourceIp) {
            m.nat_source_hashes.push_back(hash);
          } else {
            if (m.nat_destination_hash) return std::nullopt;  // RFC 7296 §2.23: only one
            m.nat_destination_hash = hash;
          }
        }
        break;
      }
      case kPayloadSk:
        return std::nullopt;  // IKE_SA_INIT is never encrypted
      default:
        break;  // CERTREQ, Vendor ID, ...: listed, not decoded
    }
  }
  return m;
}

Bytes build_sa_init_reply(const SaInitMessage& request, const IpPort& observed_source,
                          const IpPort& responder, const RandomFill& rnd) {
  const Header& rq = request.header;
  if (request.is_response() || (rq.flags & kFlagInitiator) == 0 || !all_zero(rq.spi_r) ||
      request.proposals.empty() || !request.ke_group || request.ke_data_size == 0 ||
      request.nonce_size == 0)
    return {};
  // First proposal, first transform of each type, in the order the types appear.
  const Proposal& offered = request.proposals.front();
  Proposal chosen{offered.number, offered.protocol_id, offered.spi, {}};
  for (const Transform& t : offered.transforms) {
    bool seen = std::any_of(chosen.transforms.begin(), chosen.transforms.end(),
                            [&](const Transform& c) { return c.type == t.type; });
    if (!seen) chosen.transforms.push_back(t);
  }

  Header h;
  h.spi_i = rq.spi_i;
  h.spi_r = random_spi(rnd);
  h.version = kVersion2;
  h.exchange = kExchangeIkeSaInit;
  h.flags = kFlagResponse;
  auto src_hash = nat_detection_hash(h.spi_i, h.spi_r, responder);
  auto dst_hash = nat_detection_hash(h.spi_i, h.spi_r, observed_source);
  if (!src_hash || !dst_hash) return {};
  // The reply must not be larger than the request: check before drawing the big random parts.
  std::size_t size = kHeaderSize + kGenericHeaderSize + encode_sa({chosen}).size() +
                     kGenericHeaderSize + 4 + request.ke_data_size + kGenericHeaderSize +
                     kNonceSize + 2 * (kGenericHeaderSize + 4 + kNatHashSize) +
                     (request.has_notify(kNotifyFragmentationSupported) ? kGenericHeaderSize + 4 : 0);
  if (size > rq.length) return {};

  Bytes ke(4 + request.ke_data_size);
  ke[0] = static_cast<std::uint8_t>(*request.ke_group >> 8);
  ke[1] = static_cast<std::uint8_t>(*request.ke_group);
  rnd(std::span(ke).subspan(4));
  Bytes nonce(kNonceSize);
  rnd(nonce);
  std::vector<std::pair<std::uint8_t, Bytes>> payloads{
      {kPayloadSa, encode_sa({chosen})},
      {kPayloadKe, ke},
      {kPayloadNonce, nonce},
      {kPayloadNotify, notify_body(kNotifyNatDetectionSourceIp, *src_hash)},
      {kPayloadNotify, notify_body(kNotifyNatDetectionDestinationIp, *dst_hash)}};
  if (request.has_notify(kNotifyFragmentationSupported))
    payloads.push_back({kPayloadNotify, notify_body(kNotifyFragmentationSupported, {})});
  Bytes reply = assemble(h, payloads);
  if (reply.size() > rq.length) return {};
  return reply;
}

bool is_sa_init_response_to(ByteView reply, ByteView request) {
  auto rs = parse_sa_init(reply);
  auto rq = parse_sa_init(request);
  return rs && rq && rs->is_response() && !rq->is_response() &&
         (rs->header.flags & kFlagInitiator) == 0 && rs->header.spi_i == rq->header.spi_i &&
         !all_zero(rs->header.spi_r) && rs->proposals.size() == 1 && rs->ke_group &&
         rs->nonce_size != 0;
}

std::optional<NatCheck> check_behind_nat(const SaInitMessage& response, const IpPort& local) {
  if (!response.nat_destination_hash) return std::nullopt;
  auto expected = nat_detection_hash(response.header.spi_i, response.header.spi_r, local);
  if (!expected) return std::nullopt;
  NatCheck check;
  check.expected_hex = hex_of(*expected);
  check.received_hex.push_back(hex_of(*response.nat_destination_hash));
  check.nat = *expected != *response.nat_destination_hash;
  return check;
}

std::optional<NatCheck> check_source_translated(const SaInitMessage& request,
                                                const IpPort& observed_source) {
  if (request.nat_source_hashes.empty()) return std::nullopt;
  auto expected = nat_detection_hash(request.header.spi_i, request.header.spi_r, observed_source);
  if (!expected) return std::nullopt;
  NatCheck check;
  check.expected_hex = hex_of(*expected);
  check.nat = true;
  for (const NatHash& h : request.nat_source_hashes) {
    check.received_hex.push_back(hex_of(h));
    if (h == *expected) check.nat = false;  // RFC 7296 §2.23: any match means no NAT
  }
  return check;
}

// ---- large IKE_AUTH ----

Bytes build_ike_auth(const ProbeToken& token, const Spi& spi_r, const RandomFill& rnd,
                     std::size_t total_size) {
  if (all_zero(spi_r) || total_size < kIkeAuthMinSize || total_size > kIkeAuthMaxSize) return {};
  Header h;
  h.spi_i = spi_from_token(token);
  h.spi_r = spi_r;
  h.version = kVersion2;
  h.exchange = kExchangeIkeAuth;
  h.flags = kFlagInitiator;
  h.message_id = 1;
  h.next_payload = kPayloadSk;
  h.length = static_cast<std::uint32_t>(total_size);
  Bytes sk(total_size - kHeaderSize - kGenericHeaderSize);
  rnd(sk);  // IV | ciphertext | ICV: indistinguishable from random
  ByteWriter w;
  write_header(w, h);
  // RFC 7296 §3.14: the SK payload's Next Payload is the first inner payload (IDi).
  write_payload(w, kPayloadIdi, sk);
  return w.take();
}

std::optional<IkeAuthMessage> parse_ike_auth(ByteView datagram) {
  auto h = read_header(datagram);
  if (!h || h->version != kVersion2 || h->exchange != kExchangeIkeAuth || h->message_id == 0 ||
      !has_only_ike_flags(h->flags) || h->next_payload != kPayloadSk || all_zero(h->spi_i) ||
      all_zero(h->spi_r) || datagram.size() < kIkeAuthMinSize)
    return std::nullopt;
  ByteReader r(datagram.subspan(kHeaderSize));
  auto next = r.u8();
  auto reserved = r.u8();
  auto length = r.be16();
  (void)reserved;
  if (!r.ok() || *length != r.remaining() + kGenericHeaderSize) return std::nullopt;
  IkeAuthMessage m;
  m.header = *h;
  m.sk_next_payload = *next;
  m.sk_size = r.remaining();
  return m;
}

Bytes build_ike_auth_reply(ByteView request, const RandomFill& rnd) {
  auto rq = parse_ike_auth(request);
  if (!rq || rq->is_response() || (rq->header.flags & kFlagInitiator) == 0) return {};
  Header h = rq->header;
  h.flags = kFlagResponse;
  Bytes sk(rq->sk_size);
  rnd(sk);
  ByteWriter w;
  write_header(w, h);
  write_payload(w, 36 /* IDr */, sk);
  return w.take();
}

bool is_ike_auth_reply_to(ByteView reply, ByteView request) {
  auto rs = parse_ike_auth(reply);
  auto rq = parse_ike_auth(request);
  return rs && rq && rs->is_response() && !rq->is_response() &&
         (rs->header.flags & kFlagInitiator) == 0 && rs->header.spi_i == rq->header.spi_i &&
         rs->header.spi_r == rq->header.spi_r && rs->header.message_id == rq->header.message_id &&
         reply.size() <= request.size();
}

// ---- NAT-T ----

namespace {

Bytes tcp_frame(ByteView message) { return frame_be16(message, true); }
MessageLength tcp_message_length(ByteView head) { return be16_message_length(head, true); }

Sniff tcp_sniff(ByteView head) {
  const std::size_t seen = std::min(head.size(), kTcpStreamPrefix.size());
  if (!std::equal(head.begin(), head.begin() + static_cast<std::ptrdiff_t>(seen), kTcpStreamPrefix.begin()))
    return Sniff::not_mine;
  return seen < kTcpStreamPrefix.size() ? Sniff::need_more : Sniff::mine;
}

}  // namespace

const StreamFraming kTcpFraming{
    .name = "ike-tcp",
    .preamble = kTcpStreamPrefix,
    .header_size = 2,
    .frame = tcp_frame,
    .message_length = tcp_message_length,
    .sniff = tcp_sniff,
};

Bytes add_non_esp_marker(ByteView ike) {
  ByteWriter w;
  w.zeros(kNonEspMarkerSize).bytes(ike);
  return w.take();
}

Udp4500Kind classify_udp4500(ByteView payload) {
  if (payload.size() == 1 && payload[0] == 0xff) return Udp4500Kind::keepalive;
  if (payload.size() > 8 && !all_zero(payload.first(4))) return Udp4500Kind::esp;
  if (payload.size() >= kNonEspMarkerSize + kHeaderSize && all_zero(payload.first(4)))
    return Udp4500Kind::ike;
  return Udp4500Kind::invalid;
}

std::optional<ByteView> strip_non_esp_marker(ByteView payload) {
  if (classify_udp4500(payload) != Udp4500Kind::ike) return std::nullopt;
  return payload.subspan(kNonEspMarkerSize);
}

// ---- IKEv1 Main Mode ----

namespace {

constexpr std::uint32_t kDoiIpsec = 1;           // RFC 2407 §4.2
constexpr std::uint32_t kSitIdentityOnly = 1;
constexpr std::uint8_t kProtoIsakmp = 1;
constexpr std::uint8_t kKeyIke = 1;

// RFC 2409 App. A attribute classes, values as PROTOCOLS.md §4.3.
Bytes main_mode_attributes() {
  ByteWriter w;
  const std::pair<std::uint16_t, std::uint16_t> attrs[] = {
      {1, 7},        // Encryption = AES-CBC
      {14, 256},     // Key Length
      {2, 2},        // Hash = SHA
      {3, 1},        // Auth = pre-shared key
      {4, 14},       // Group = 2048-bit MODP
      {11, 1},       // Life Type = seconds
      {12, 28800}};  // Life Duration
  for (auto [type, value] : attrs) w.be16(static_cast<std::uint16_t>(0x8000 | type)).be16(value);
  return w.take();
}

Bytes v1_sa_body(std::uint8_t proposal_number, const V1Transform& t) {
  ByteWriter transform;
  transform.u8(0).u8(0).be16(static_cast<std::uint16_t>(8 + t.attributes.size()));
  transform.u8(t.number).u8(t.id).be16(0).bytes(t.attributes);
  ByteWriter w;
  w.be32(kDoiIpsec).be32(kSitIdentityOnly);
  w.u8(0).u8(0).be16(static_cast<std::uint16_t>(8 + transform.size()));
  w.u8(proposal_number).u8(kProtoIsakmp).u8(0).u8(1).bytes(transform.view());
  return w.take();
}

std::optional<std::vector<V1Transform>> parse_v1_sa(ByteView body, MainModeMessage& m) {
  ByteReader r(body);
  auto doi = r.be32();
  auto situation = r.be32();
  if (!r.ok() || *doi != kDoiIpsec) return std::nullopt;
  (void)situation;
  // Proposal payloads chain with next payload 2 (RFC 2408 §3.5).
  auto proposals = split_payloads(body.subspan(8), kV1PayloadProposal);
  if (!proposals || proposals->empty()) return std::nullopt;
  std::vector<V1Transform> first_transforms;
  for (std::size_t i = 0; i < proposals->size(); ++i) {
    const RawPayload& p = (*proposals)[i];
    if (p.type != kV1PayloadProposal) return std::nullopt;
    ByteReader pr(p.body);
    auto number = pr.u8();
    auto protocol = pr.u8();
    auto spi_size = pr.u8();
    auto count = pr.u8();
    if (!pr.ok() || *count == 0 || !pr.skip(*spi_size)) return std::nullopt;
    auto transforms = split_payloads(p.body.subspan(pr.position()), kV1PayloadTransform);
    if (!transforms || transforms->size() != *count) return std::nullopt;
    std::vector<V1Transform> parsed;
    for (const RawPayload& t : *transforms) {
      ByteReader tr(t.body);
      auto tnum = tr.u8();
      auto tid = tr.u8();
      if (t.type != kV1PayloadTransform || !tr.skip(2)) return std::nullopt;
      ByteView attrs = t.body.subspan(4);
      if (!valid_attributes(attrs)) return std::nullopt;
      parsed.push_back({*tnum, *tid, Bytes(attrs.begin(), attrs.end())});
    }
    if (i == 0) {
      m.proposal_number = *number;
      m.proposal_protocol = *protocol;
      first_transforms = std::move(parsed);
    }
  }
  return first_transforms;
}

}  // namespace

bool MainModeMessage::is_request() const { return all_zero(header.spi_r); }

Bytes build_main_mode_1(const ProbeToken& token) {
  Header h;
  h.spi_i = spi_from_token(token);
  h.version = kVersion1;
  h.exchange = kExchangeMainMode;
  return assemble(h, {{kV1PayloadSa, v1_sa_body(1, {1, kKeyIke, main_mode_attributes()})},
                      {kV1PayloadVendorId, Bytes(kVidRfc3947.begin(), kVidRfc3947.end())},
                      {kV1PayloadVendorId, Bytes(kVidNatTDraft02.begin(), kVidNatTDraft02.end())},
                      {kV1PayloadVendorId, Bytes(kVidDpd.begin(), kVidDpd.end())}});
}

std::optional<MainModeMessage> parse_main_mode(ByteView datagram) {
  auto h = read_header(datagram);
  // Flags 0: Main Mode messages 1 and 2 are never encrypted, committed or auth-only.
  if (!h || h->version != kVersion1 || h->exchange != kExchangeMainMode || h->message_id != 0 ||
      h->flags != 0 || all_zero(h->spi_i))
    return std::nullopt;
  auto payloads = split_payloads(datagram.subspan(kHeaderSize), h->next_payload);
  if (!payloads) return std::nullopt;
  MainModeMessage m;
  m.header = *h;
  bool have_sa = false;
  for (const RawPayload& p : *payloads) {
    m.payload_types.push_back(p.type);
    if (p.type == kV1PayloadSa) {
      if (have_sa) return std::nullopt;
      auto transforms = parse_v1_sa(p.body, m);
      if (!transforms) return std::nullopt;
      m.transforms = std::move(*transforms);
      have_sa = true;
    } else if (p.type == kV1PayloadVendorId) {
      m.vendor_ids.emplace_back(p.body.begin(), p.body.end());
      if (std::equal(p.body.begin(), p.body.end(), kVidRfc3947.begin(), kVidRfc3947.end()))
        m.nat_t_rfc3947 = true;
    } else if (p.type == kV1PayloadProposal || p.type == kV1PayloadTransform) {
      return std::nullopt;  // only inside an SA
    }
  }
  if (!have_sa) return std::nullopt;  // messages 1 and 2 carry the SA
  return m;
}

Bytes build_main_mode_2(const MainModeMessage& request, const RandomFill& rnd) {
  if (!request.is_request() || request.transforms.empty() || request.proposal_protocol != kProtoIsakmp)
    return {};
  Header h;
  h.spi_i = request.header.spi_i;
  h.spi_r = random_spi(rnd);
  h.version = kVersion1;
  h.exchange = kExchangeMainMode;
  std::vector<std::pair<std::uint8_t, Bytes>> payloads{
      {kV1PayloadSa, v1_sa_body(request.proposal_number, request.transforms.front())}};
  if (request.nat_t_rfc3947)
    payloads.push_back({kV1PayloadVendorId, Bytes(kVidRfc3947.begin(), kVidRfc3947.end())});
  Bytes reply = assemble(h, payloads);
  if (reply.size() > request.header.length) return {};
  return reply;
}

bool is_mm2_reply_to(ByteView reply, ByteView request) {
  auto rs = parse_main_mode(reply);
  auto rq = parse_main_mode(request);
  return rs && rq && rq->is_request() && !rs->is_request() && rs->header.spi_i == rq->header.spi_i &&
         rs->transforms.size() == 1 && reply.size() <= request.size();
}

}  // namespace vpncheck::probes::ike
