#include "probes/bytes.h"

namespace vpncheck::probes {

std::optional<ByteView> ByteReader::take(std::size_t n) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return std::nullopt;
  }
  ByteView out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

std::optional<std::uint8_t> ByteReader::u8() {
  auto b = take(1);
  if (!b) return std::nullopt;
  return (*b)[0];
}

std::optional<std::uint16_t> ByteReader::be16() {
  auto b = take(2);
  if (!b) return std::nullopt;
  return static_cast<std::uint16_t>(((*b)[0] << 8) | (*b)[1]);
}

std::optional<std::uint32_t> ByteReader::be32() {
  auto b = take(4);
  if (!b) return std::nullopt;
  return (std::uint32_t{(*b)[0]} << 24) | (std::uint32_t{(*b)[1]} << 16) |
         (std::uint32_t{(*b)[2]} << 8) | std::uint32_t{(*b)[3]};
}

std::optional<std::uint32_t> ByteReader::le32() {
  auto b = take(4);
  if (!b) return std::nullopt;
  return (std::uint32_t{(*b)[3]} << 24) | (std::uint32_t{(*b)[2]} << 16) |
         (std::uint32_t{(*b)[1]} << 8) | std::uint32_t{(*b)[0]};
}

ByteWriter& ByteWriter::u8(std::uint8_t v) {
  out_.push_back(v);
  return *this;
}

ByteWriter& ByteWriter::be16(std::uint16_t v) {
  out_.push_back(static_cast<std::uint8_t>(v >> 8));
  out_.push_back(static_cast<std::uint8_t>(v));
  return *this;
}

ByteWriter& ByteWriter::be32(std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
  return *this;
}

ByteWriter& ByteWriter::le32(std::uint32_t v) {
  for (int shift = 0; shift <= 24; shift += 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
  return *this;
}

ByteWriter& ByteWriter::bytes(ByteView v) {
  out_.insert(out_.end(), v.begin(), v.end());
  return *this;
}

ByteWriter& ByteWriter::zeros(std::size_t n) {
  out_.insert(out_.end(), n, 0);
  return *this;
}

std::string to_hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]);
    int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
  }
  return out;
}

}  // namespace vpncheck::probes
