#include "reflector/observation_arena.h"

#include <algorithm>

namespace vpncheck::reflector {

std::size_t ObservationArena::block_for(std::size_t size, std::size_t cap) const {
  const std::size_t doubled = blocks_.empty() ? kFirstBlock : std::min(kMaxBlock, last_size_ * 2);
  return std::max(std::min(doubled, cap), size);
}

std::span<char> ObservationArena::allocate(std::size_t size, std::size_t cap) {
  if (size == 0) return {};
  if (room() < size) {
    const std::size_t block = block_for(size, cap);
    // Not zeroed: every byte handed out is written by the caller before it is read.
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(block));
    last_size_ = block;
    last_used_ = 0;
    held_ += block;
  }
  std::span<char> out(blocks_.back().get() + last_used_, size);
  last_used_ += size;
  used_ += size;
  return out;
}

}  // namespace vpncheck::reflector
