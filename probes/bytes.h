// Byte-level helpers shared by every codec: a bounds-checked reader that
// never throws (a failed read leaves it in a sticky error state) and a writer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vpncheck::probes {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

class ByteReader {
 public:
  explicit ByteReader(ByteView data) : data_(data) {}

  std::optional<std::uint8_t> u8();
  std::optional<std::uint16_t> be16();
  std::optional<std::uint32_t> be32();
  std::optional<std::uint32_t> le32();
  std::optional<ByteView> take(std::size_t n);
  bool skip(std::size_t n) { return take(n).has_value(); }

  std::size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  std::size_t position() const { return pos_; }
  bool ok() const { return ok_; }

 private:
  ByteView data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

class ByteWriter {
 public:
  // A probe or reply is built field by field; starting with room for a
  // typical one spares a vector growth (an allocation and a copy) per field.
  static constexpr std::size_t kInitialCapacity = 64;
  ByteWriter() { out_.reserve(kInitialCapacity); }

  ByteWriter& u8(std::uint8_t v);
  ByteWriter& be16(std::uint16_t v);
  ByteWriter& be32(std::uint32_t v);
  ByteWriter& le32(std::uint32_t v);
  ByteWriter& bytes(ByteView v);
  ByteWriter& zeros(std::size_t n);

  const Bytes& view() const { return out_; }
  Bytes take() { return std::move(out_); }
  std::size_t size() const { return out_.size(); }

 private:
  Bytes out_;
};

std::string to_hex(ByteView bytes);
std::optional<Bytes> from_hex(std::string_view hex);

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace vpncheck::probes
