#include "probes/sstp.h"

#include <algorithm>
#include <cctype>

namespace vpncheck::probes::sstp {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kHeadEnd = "\r\n\r\n";

std::string_view as_text(ByteView bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A head split into its start line and header fields; nullopt unless `head`
// is exactly one head ending in the blank line, with well-formed fields
// (RFC 9112 §2.1, §5.1: "name: value", no whitespace before the colon).
struct Head {
  std::string_view start_line;
  std::vector<std::pair<std::string_view, std::string_view>> fields;
};

std::optional<Head> split_head(ByteView bytes) {
  if (bytes.size() > kMaxHttpHead) return std::nullopt;
  std::string_view text = as_text(bytes);
  if (text.size() < kHeadEnd.size() || text.find(kHeadEnd) != text.size() - kHeadEnd.size()) return std::nullopt;
  text.remove_suffix(kCrlf.size());  // every line below then ends in CRLF
  Head head;
  bool first = true;
  while (!text.empty()) {
    auto end = text.find(kCrlf);
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + kCrlf.size());
    if (line.find('\r') != std::string_view::npos || line.find('\n') != std::string_view::npos) return std::nullopt;
    if (first) {
      head.start_line = line;
      first = false;
      continue;
    }
    auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
    std::string_view name = line.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
    head.fields.emplace_back(name, trim(line.substr(colon + 1)));
  }
  if (head.start_line.empty()) return std::nullopt;
  return head;
}

// The value of the only field called `name`; nullopt when absent, and when
// repeated (two different correlation ids or lengths are not one request).
std::optional<std::string_view> only_field(const Head& head, std::string_view name, bool& repeated) {
  std::optional<std::string_view> found;
  for (const auto& [field, value] : head.fields) {
    if (!iequals(field, name)) continue;
    if (found) repeated = true;
    found = value;
  }
  return found;
}

void control_header(ByteWriter& w, std::size_t length, std::uint16_t message_type, std::uint16_t attributes) {
  w.u8(kVersion).u8(kControlBit).be16(static_cast<std::uint16_t>(length)).be16(message_type).be16(attributes);
}

}  // namespace

Bytes build_http_request(std::string_view host, const Guid& correlation) {
  // Field order as sstp-client sends it (src/sstp-http.c); [MS-SSTP] §4.1 lists the same four.
  std::string text;
  text.append(kMethod).append(" ").append(kUri).append(" HTTP/1.1\r\n");
  text.append("Host: ").append(host).append(kCrlf);
  text.append("Content-Length: ").append(kContentLength).append(kCrlf);
  text.append("SSTPCORRELATIONID: ").append(format_guid(correlation)).append(kHeadEnd);
  return {text.begin(), text.end()};
}

std::optional<HttpRequest> parse_http_request(ByteView bytes) {
  auto head = split_head(bytes);
  if (!head) return std::nullopt;
  std::string expected_line;
  expected_line.append(kMethod).append(" ").append(kUri).append(" HTTP/1.1");
  // §4.1: the server validates the method and the version; the URI is the one it listens on.
  if (head->start_line != expected_line) return std::nullopt;
  bool repeated = false;
  auto length = only_field(*head, "Content-Length", repeated);
  auto host = only_field(*head, "Host", repeated);
  auto correlation = only_field(*head, "SSTPCORRELATIONID", repeated);
  if (repeated || !length || *length != kContentLength || !host || host->empty() || !correlation) return std::nullopt;
  auto guid = parse_guid(*correlation);
  if (!guid) return std::nullopt;
  return HttpRequest{std::string(*host), *guid};
}

Bytes build_http_response() {
  // The status line and fields Windows' SSTP server sends ([MS-SSTP] §4.1;
  // sstp-client's src/sstp-http.c shows the same capture), without the Date
  // a pure function cannot know.
  std::string text = "HTTP/1.1 200\r\nContent-Length: ";
  text.append(kContentLength).append("\r\nServer: Microsoft-HTTPAPI/2.0").append(kHeadEnd);
  return {text.begin(), text.end()};
}

bool is_http_response_ok(ByteView bytes) {
  auto head = split_head(bytes);
  if (!head) return false;
  // "HTTP/1.1 200" with or without a reason phrase (RFC 9112 §4: the reason may be empty).
  constexpr std::string_view kStatus = "HTTP/1.1 200";
  std::string_view line = head->start_line;
  if (line.substr(0, kStatus.size()) != kStatus) return false;
  if (line.size() > kStatus.size() && line[kStatus.size()] != ' ') return false;
  bool repeated = false;
  auto length = only_field(*head, "Content-Length", repeated);
  return !repeated && (!length || *length == kContentLength);
}

HeadLength http_head_length(ByteView stream) {
  std::string_view text = as_text(stream.first(std::min(stream.size(), kMaxHttpHead)));
  auto end = text.find(kHeadEnd);
  if (end != std::string_view::npos) return {HeadLength::Status::complete, end + kHeadEnd.size()};
  if (stream.size() >= kMaxHttpHead) return {HeadLength::Status::invalid, 0};
  return {HeadLength::Status::need_more, 0};
}

HeadLength packet_length(ByteView stream) {
  if (stream.size() < kPacketHeaderSize) return {HeadLength::Status::need_more, 0};
  if (stream[0] != kVersion) return {HeadLength::Status::invalid, 0};
  std::size_t length = ((std::size_t{stream[2]} << 8) | stream[3]) & kLengthMask;
  if (length < kPacketHeaderSize) return {HeadLength::Status::invalid, 0};
  return {HeadLength::Status::complete, length};
}

std::optional<ControlPacket> parse_control(ByteView packet) {
  auto length = packet_length(packet);
  if (length.status != HeadLength::Status::complete || length.length != packet.size()) return std::nullopt;
  if ((packet[1] & kControlBit) == 0 || packet.size() < kControlHeaderSize) return std::nullopt;
  ByteReader r(packet.subspan(kPacketHeaderSize));
  ControlPacket out;
  out.message_type = *r.be16();
  const std::uint16_t count = *r.be16();
  for (std::uint16_t i = 0; i < count; ++i) {
    auto header = r.take(kAttributeHeaderSize);
    if (!header) return std::nullopt;
    std::size_t attribute_length = ((std::size_t{(*header)[2]} << 8) | (*header)[3]) & kLengthMask;
    if (attribute_length < kAttributeHeaderSize) return std::nullopt;
    auto value = r.take(attribute_length - kAttributeHeaderSize);
    if (!value) return std::nullopt;
    out.attributes.push_back(Attribute{(*header)[1], *value});
  }
  if (r.remaining() != 0) return std::nullopt;
  return out;
}

Bytes build_call_connect_request() {
  ByteWriter w;
  control_header(w, kCallConnectRequestSize, kMsgCallConnectRequest, 1);
  w.u8(0).u8(kAttribEncapsulatedProtocolId).be16(kAttributeHeaderSize + 2).be16(kProtocolPpp);
  return w.take();
}

bool is_call_connect_request(ByteView packet) {
  auto parsed = parse_control(packet);
  // §2.2.9: exactly one attribute, the Encapsulated Protocol ID, naming PPP (§2.2.5).
  return parsed && parsed->message_type == kMsgCallConnectRequest && parsed->attributes.size() == 1 &&
         parsed->attributes[0].id == kAttribEncapsulatedProtocolId && parsed->attributes[0].value.size() == 2 &&
         parsed->attributes[0].value[0] == 0 && parsed->attributes[0].value[1] == kProtocolPpp;
}

Bytes build_call_connect_ack(std::uint8_t hash_bitmask, const std::array<std::uint8_t, kNonceSize>& nonce) {
  ByteWriter w;
  control_header(w, kCallConnectAckSize, kMsgCallConnectAck, 1);
  w.u8(0).u8(kAttribCryptoBindingReq).be16(kCallConnectAckSize - kControlHeaderSize);
  w.zeros(3).u8(hash_bitmask).bytes(nonce);
  return w.take();
}

std::optional<CallConnectAck> parse_call_connect_ack(ByteView packet) {
  auto parsed = parse_control(packet);
  if (!parsed || parsed->message_type != kMsgCallConnectAck || parsed->attributes.size() != 1) return std::nullopt;
  const Attribute& attribute = parsed->attributes[0];
  constexpr std::size_t kValueSize = 3 + 1 + kNonceSize;  // §2.2.8: reserved, bitmask, nonce
  if (attribute.id != kAttribCryptoBindingReq || attribute.value.size() != kValueSize) return std::nullopt;
  CallConnectAck out;
  out.hash_bitmask = attribute.value[3];
  if ((out.hash_bitmask & (kHashSha1 | kHashSha256)) == 0) return std::nullopt;
  std::copy_n(attribute.value.begin() + 4, kNonceSize, out.nonce.begin());
  return out;
}

}  // namespace vpncheck::probes::sstp
