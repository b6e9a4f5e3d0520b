#include "reflector/observation_arena.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace vpncheck::reflector {

std::unique_ptr<char[]> ObservationBlockPool::take() {
  if (blocks_.empty()) return nullptr;
  std::unique_ptr<char[]> block = std::move(blocks_.back());
  blocks_.pop_back();
  return block;
}

void ObservationBlockPool::give(std::unique_ptr<char[]> block) {
  if (blocks_.size() < kMaxBlocks) blocks_.push_back(std::move(block));
}

ObservationArena::~ObservationArena() {
  if (pool_ == nullptr) return;
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    if (block_sizes_[i] != kMaxBlock) continue;
    // Nothing about a client outlives its session: its texts are wiped
    // before the block waits for another session.
    std::memset(blocks_[i].get(), 0, kMaxBlock);
    pool_->give(std::move(blocks_[i]));
  }
}

std::size_t ObservationArena::block_for(std::size_t size, std::size_t cap) const {
  const std::size_t doubled = blocks_.empty() ? kFirstBlock : std::min(kMaxBlock, last_size_ * 2);
  return std::max(std::min(doubled, cap), size);
}

std::span<char> ObservationArena::allocate(std::size_t size, std::size_t cap) {
  if (size == 0) return {};
  if (room() < size) {
    const std::size_t block = block_for(size, cap);
    std::unique_ptr<char[]> bytes = block == kMaxBlock && pool_ != nullptr ? pool_->take() : nullptr;
    // Not zeroed: every byte handed out is written by the caller before it is read.
    if (!bytes) bytes = std::make_unique_for_overwrite<char[]>(block);
    blocks_.push_back(std::move(bytes));
    block_sizes_.push_back(block);
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
